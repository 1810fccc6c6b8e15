"""Redis stopped under a running server, then started again.

The test starts a Redis of its own on a free port (never the shared one) and a real server using
it as the channel layer, on the suite's database. With Redis stopped: a client signs in with a
password, a therapist with a password and an authenticator code (which cannot be used twice); a
lockout counted partly before the outage still triggers; a message sent over an open
socket is acknowledged (and, sent again, stored once); a message sent with the page's form and the
conversation page itself answer normally. With Redis back: the therapist's sockets, which heard
nothing during the outage, are closed with 1012; the therapist's page reconnects as ``socket.js``
does, fetches after the last ``seq`` it held and gets the outage's messages; live delivery works
again; and the server's log holds the outage's failures once each, not once a second.

``redis-server`` must be installed (``scripts/install-system-deps``): without it the test fails.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import shutil
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake

from tests.browser.server import HOST, DemoServer, ServerError, demo_server, free_port
from tests.helpers import totp_code
from tests.live_messages import (
    CLIENT,
    UNLIMITED_WRITES,
    Browserless,
    Conversation,
    demo_conversation,
    open_socket,
    receive,
    run_in_own_loop,
)

DEMO_PASSWORD = "rapport-demo-password"
LOCKED_CLIENT = "j.chen@demo.rapport.test"
SECOND_FACTOR_THERAPIST = "t.lindqvist@demo.rapport.test"
SECOND_FACTOR = "/accounts/2fa/authenticate/"
LOCKED = "Too many failed login attempts. Try again later."
WRONG_PASSWORD = "not the password"
LOCKOUT_FAILURES = 5  # RAPPORT_LOCKOUT_FAILURES, by default
FAILURES_BEFORE_OUTAGE = 3  # the rest come during it
CATCH_UP_SECONDS = 20.0


class OwnRedis:
    """A redis-server process on a port of its own, without persistence."""

    def __init__(self, folder: Path) -> None:
        executable = shutil.which("redis-server")
        if executable is None:
            pytest.fail("redis-server is needed for this test: run scripts/install-system-deps")
        self.executable = executable
        self.folder = folder
        self.port = free_port()
        self.url = f"redis://{HOST}:{self.port}/0"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(
            [
                *(self.executable, "--port", str(self.port), "--bind", HOST),
                *("--save", "", "--appendonly", "no", "--dir", str(self.folder)),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        import redis

        client = redis.Redis.from_url(self.url, socket_timeout=1)
        deadline = time.monotonic() + 10
        try:
            while True:
                try:
                    client.ping()
                    return
                except redis.ConnectionError:
                    if time.monotonic() > deadline or self.process.poll() is not None:
                        pytest.fail(f"redis-server did not start on port {self.port}")
                    time.sleep(0.05)
        finally:
            client.close()

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[OwnRedis]:
    redis_server = OwnRedis(tmp_path)
    redis_server.start()
    try:
        yield redis_server
    finally:
        redis_server.stop()


@pytest.fixture
def server(tmp_path: Path, own_redis: OwnRedis) -> Iterator[DemoServer]:
    outer = os.environ.get("RAPPORT_DATA_DIR")
    data_dir = Path(outer) / "outage-server" if outer else tmp_path / "server"
    shutil.rmtree(data_dir, ignore_errors=True)
    env = {"REDIS_URL": own_redis.url, **UNLIMITED_WRITES}
    try:
        with demo_server(data_dir, database_suffix="_outage", env=env) as running:
            yield running
    except ServerError as exc:
        pytest.fail(f"demo server did not start: {exc}")


def _sign_in(server: DemoServer, email: str, password: str) -> tuple[Browserless, int, str, str]:
    browser = Browserless(server.url)
    token = browser.csrf("/accounts/login/")
    status, location, page = browser.request(
        "/accounts/login/", {"csrfmiddlewaretoken": token, "login": email, "password": password}
    )
    return browser, status, location, page


def _authenticator_secret(server: DemoServer, email: str) -> str:
    """Give ``email`` a new authenticator app; its secret."""
    code = (
        "from allauth.mfa.models import Authenticator\n"
        "from allauth.mfa.totp.internal.auth import TOTP, generate_totp_secret\n"
        "from rapport.accounts.models import User\n"
        f"user = User.objects.get(email={email!r})\n"
        "Authenticator.objects.filter(user=user, type=Authenticator.Type.TOTP).delete()\n"
        "secret = generate_totp_secret()\n"
        "TOTP.activate(user, secret)\n"
        "print(secret)\n"
    )
    return server.shell(code).strip().splitlines()[-1]


def _second_factor(server: DemoServer, code: str) -> tuple[int, str]:
    """Sign the therapist in with the password, then ``code``: (status, Location) of the code."""
    browser, status, location, _ = _sign_in(server, SECOND_FACTOR_THERAPIST, DEMO_PASSWORD)
    assert (status, location) == (302, SECOND_FACTOR), (status, location)
    token = browser.csrf(SECOND_FACTOR)
    status, location, _ = browser.request(
        SECOND_FACTOR, {"csrfmiddlewaretoken": token, "code": code}
    )
    return status, location


def _send_frame(conversation: str, ident: str, text: str) -> str:
    return json.dumps({"type": "send", "conversation": conversation, "id": ident, "text": text})


async def _closed_with(socket: ClientConnection, timeout: float) -> int | None:
    """The close code the server sends, skipping frames that arrive before it."""
    deadline = time.monotonic() + timeout
    with contextlib.suppress(ConnectionClosed):
        while time.monotonic() < deadline:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(socket.recv(), deadline - time.monotonic())
    return socket.close_code


async def _reconnect(server: DemoServer, cookie: str) -> ClientConnection:
    """Open a socket again with backoff, as ``socket.js`` does (0.5, 1, 2 … s)."""
    delay, deadline = 0.5, time.monotonic() + CATCH_UP_SECONDS
    while True:
        try:
            return await open_socket(server, cookie, timeout=5)
        except (OSError, InvalidHandshake, ConnectionClosed, AssertionError):
            if time.monotonic() > deadline:
                raise
        await asyncio.sleep(delay)
        delay = min(delay * 2, 10)


async def _through_the_outage(
    server: DemoServer, own_redis: OwnRedis, chat: Conversation, secret: str
) -> dict[str, Any]:
    uid = chat.uid
    therapist = await open_socket(server, chat.therapist_cookies[0])
    client = await open_socket(server, chat.client_cookies[0])
    events = await connect(
        "ws" + server.url.removeprefix("http") + "/ws/events/",
        origin=server.url,  # type: ignore[arg-type]
        additional_headers={"Cookie": chat.therapist_cookies[0]},
        ping_interval=None,
    )
    sockets = [therapist, client, events]
    found: dict[str, Any] = {}
    try:
        # Before the outage: a message from the therapist (the client's page will mark it read),
        # and the therapist's page holds everything up to it.
        hello = str(uuid.uuid4())
        await therapist.send(_send_frame(uid, hello, "Checking in before Thursday."))
        held_seq = (await receive(therapist, "ack", id=hello))["message"]["seq"]
        await receive(client, "message")
        for _ in range(FAILURES_BEFORE_OUTAGE):
            _, status, _, _ = await asyncio.to_thread(
                _sign_in, server, LOCKED_CLIENT, WRONG_PASSWORD
            )
            assert status == 200

        own_redis.stop()
        stopped_at = time.monotonic()

        # Sign-in works; the lockout counts the failures from before the outage.
        browser, status, location, _ = await asyncio.to_thread(
            _sign_in, server, CLIENT, DEMO_PASSWORD
        )
        assert (status, location) == (302, "/"), (status, location)
        for _ in range(LOCKOUT_FAILURES - FAILURES_BEFORE_OUTAGE):
            _, status, _, _ = await asyncio.to_thread(
                _sign_in, server, LOCKED_CLIENT, WRONG_PASSWORD
            )
            assert status == 200
        _, status, _, page = await asyncio.to_thread(_sign_in, server, LOCKED_CLIENT, DEMO_PASSWORD)
        assert status == 200 and LOCKED in page, "the lockout did not hold with Redis down"
        code = totp_code(secret)
        status, location = await asyncio.to_thread(_second_factor, server, code)
        assert status == 302 and not location.startswith("/accounts/"), (status, location)
        status, location = await asyncio.to_thread(_second_factor, server, code)
        assert (status, location) == (200, ""), "a used authenticator code worked again"

        # A message over the open socket is acknowledged; sent again, it is acknowledged again.
        during = str(uuid.uuid4())
        frame = _send_frame(uid, during, "Sent while Redis was down.")
        await client.send(frame)
        first_ack = await receive(client, "ack", id=during)
        await client.send(frame)
        second_ack = await receive(client, "ack", id=during)
        assert first_ack["message"]["seq"] == second_ack["message"]["seq"]

        # The conversation page renders (marking the therapist's message read publishes a
        # receipt, which is lost) and its form sends.
        status, _, page = await asyncio.to_thread(browser.request, f"/messages/{uid}/")
        assert status == 200, page[:500]
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page)
        form_id = re.search(r'name="id" value="([^"]+)"', page)
        assert token and form_id
        form = {"csrfmiddlewaretoken": token[1], "id": form_id[1], "text": "Sent by the form."}
        status, location, _ = await asyncio.to_thread(browser.request, f"/messages/{uid}/", form)
        assert status == 302 and location.startswith(f"/messages/{uid}/"), (status, location)
        found["outage_seconds"] = time.monotonic() - stopped_at

        own_redis.start()
        back_at = time.monotonic()

        # The therapist's sockets missed all of that: the server closes them to catch up.
        assert await _closed_with(therapist, CATCH_UP_SECONDS) == 1012
        assert await _closed_with(events, CATCH_UP_SECONDS) == 1012
        found["closed_after_seconds"] = time.monotonic() - back_at
        therapist = await _reconnect(server, chat.therapist_cookies[0])
        sockets.append(therapist)
        await therapist.send(json.dumps({"type": "fetch", "conversation": uid, "after": held_seq}))
        history = await receive(therapist, "history", conversation=uid)
        found["caught_up"] = [(m["seq"], m["text"]) for m in history["messages"]]
        found["caught_up_after_seconds"] = time.monotonic() - back_at

        # Live again: the client's page reconnects too, and its next message arrives at once.
        assert await _closed_with(client, CATCH_UP_SECONDS) == 1012
        client = await _reconnect(server, chat.client_cookies[0])
        sockets.append(client)
        after = str(uuid.uuid4())
        await client.send(_send_frame(uid, after, "And after."))
        await receive(client, "ack", id=after)
        live = await receive(therapist, "message")
        assert live["message"]["id"] == after, live
        return found
    finally:
        for socket in sockets:
            with contextlib.suppress(Exception):
                await socket.close()


def test_a_redis_outage_loses_no_write_and_sockets_catch_up_after(
    server: DemoServer, own_redis: OwnRedis
) -> None:
    chat = demo_conversation(server)
    secret = _authenticator_secret(server, SECOND_FACTOR_THERAPIST)
    outage = _through_the_outage(server, own_redis, chat, secret)
    try:
        found = run_in_own_loop(asyncio.wait_for(outage, 120))
    except (AssertionError, TimeoutError, OSError) as exc:
        pytest.fail(f"{exc!r}\n--- server log:\n{server.log_tail(80)}")
    # Everything after the therapist's last message, from the database: each outage message once.
    texts = [text for _, text in found["caught_up"]]
    assert texts == ["Sent while Redis was down.", "Sent by the form."], found
    log = server.log_path.read_text(errors="replace")
    tracebacks = log.count("Traceback (most recent call last)")
    print(
        f"outage {found['outage_seconds']:.1f} s; sockets closed "
        f"{found['closed_after_seconds']:.1f} s and caught up "
        f"{found['caught_up_after_seconds']:.1f} s after Redis returned; "
        f"{tracebacks} tracebacks, {len(log)} bytes of log"
    )
    assert "Redis is back" in log
    # The layer's receive task fails once a second during the outage: written once.
    assert log.count("Unexpected exception in receive task") == 1, log[-5000:]
    assert tracebacks <= 12, f"{tracebacks} tracebacks:\n{log[-5000:]}"


# --- In this process: a publish to a Redis that is not there -------------------------------------


def test_a_publish_that_fails_after_commit_is_logged_and_the_write_stands(
    client_a: Any,
    settings: Any,
    caplog: pytest.LogCaptureFixture,
    django_capture_on_commit_callbacks: Any,
) -> None:
    from django.db import transaction

    from rapport.accounts.models import User
    from rapport.core import realtime

    nowhere = f"redis://{HOST}:{free_port()}/0"
    settings.CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer",
            "CONFIG": {"hosts": [nowhere]},
        }
    }
    try:
        with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
            User.objects.filter(pk=client_a.pk).update(full_name="Alex Renamed")
            realtime.publish_to_user(client_a.pk, {"type": "messages.unread", "total": 1})
        assert User.objects.get(pk=client_a.pk).full_name == "Alex Renamed"
        assert "could not publish user.event" in caplog.text
        assert realtime._publish_failed, "the sockets would not catch up after the outage"
    finally:
        realtime._publish_failed = False
