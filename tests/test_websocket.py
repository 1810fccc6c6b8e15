"""The per-user event socket through the real ASGI application (Origin check, session auth)."""

from __future__ import annotations

import json
import re
import time
from datetime import timedelta
from typing import Any

import pytest
import time_machine
from asgiref.sync import sync_to_async
from channels.layers import get_channel_layer
from channels.testing import WebsocketCommunicator
from django.conf import settings
from django.utils import timezone

from rapport.accounts.models import User
from rapport.accounts.services import end_live_connections
from rapport.asgi import application
from rapport.core import realtime
from rapport.core.layers import InProcessChannelLayer
from rapport.core.models import PendingEvent
from rapport.core.realtime import publish_to_user
from rapport.core.sockets import MAX_MESSAGE_BYTES, FrameError, read_frame
from tests.conftest import signed_in
from tests.sockets import run_async, socket_headers

PATH = "/ws/events/"

pytestmark = pytest.mark.django_db(transaction=True)


_headers = socket_headers
_run = run_async


async def _open(
    headers: list[tuple[bytes, bytes]], path: str = PATH
) -> tuple[WebsocketCommunicator, bool, Any]:
    socket = WebsocketCommunicator(application, path, headers=headers)
    connected, detail = await socket.connect(timeout=5)
    return socket, connected, detail


async def _receive(socket: WebsocketCommunicator) -> dict[str, Any]:
    message: dict[str, Any] = await socket.receive_json_from(timeout=5)
    return message


def test_anonymous_connection_is_refused() -> None:
    async def body() -> None:
        socket, connected, _code = await _open(_headers(None))
        assert not connected  # a real client gets HTTP 403 (tests/test_sockets_live.py)
        await socket.disconnect()

    _run(body)


def test_foreign_or_missing_origin_is_refused(client_a: User) -> None:
    browser = signed_in(client_a)

    async def body() -> None:
        for origin in (b"http://evil.example", b"https://127.0.0.1.evil.example", None):
            socket, connected, _ = await _open(_headers(browser, origin=origin))
            assert not connected, origin
            await socket.disconnect()

    _run(body)


def test_an_origin_on_another_port_or_scheme_is_refused(client_a: User) -> None:
    """Cookies do not care about ports: a page on another port of the same host (any local
    service) would otherwise open sockets with the person's session."""
    browser = signed_in(client_a)

    async def open_from(origin: bytes, host: bytes = b"127.0.0.1") -> bool:
        headers = [(k, host if k == b"host" else v) for k, v in _headers(browser, origin=origin)]
        socket, connected, _ = await _open(headers)
        await socket.disconnect()
        return bool(connected)

    async def body() -> None:
        for origin in (b"http://127.0.0.1:6666", b"https://localhost", b"https://127.0.0.1"):
            assert not await open_from(origin), origin
        assert not await open_from(b"http://localhost:8000", host=b"localhost:8001")
        # The page's own origin, however it is written; and the site URL's, through a proxy
        # that rewrites the Host header.
        assert await open_from(b"http://127.0.0.1")
        assert await open_from(b"http://127.0.0.1:80")
        assert await open_from(b"http://LOCALHOST:8001", host=b"localhost:8001")
        assert await open_from(settings.SITE_URL.encode(), host=b"10.0.0.5:9000")

    _run(body)


def test_signed_in_user_pings_and_bad_messages_get_errors(client_a: User) -> None:
    browser = signed_in(client_a)

    async def body() -> None:
        socket, connected, _ = await _open(_headers(browser))
        assert connected
        await socket.send_json_to({"type": "ping", "id": 7})
        assert await _receive(socket) == {"type": "pong", "id": 7}

        await socket.send_to(text_data="{not json")
        assert await _receive(socket) == {"type": "error", "error": "message is not valid JSON"}

        await socket.send_json_to({"type": "subscribe", "to": "everything"})
        assert (await _receive(socket))["error"] == "unknown message type"
        await socket.send_json_to(["ping"])
        assert (await _receive(socket))["error"] == "unknown message type"

        oversized = json.dumps({"type": "ping", "pad": "x" * MAX_MESSAGE_BYTES})
        await socket.send_to(text_data=oversized)
        assert (await _receive(socket))["error"] == "messages must be at most 64 KB"

        # The limit is in bytes: 40,000 four-byte characters are far over 64 KB.
        wide = json.dumps({"type": "ping", "pad": "😀" * 40_000}, ensure_ascii=False)
        assert len(wide) < MAX_MESSAGE_BYTES < len(wide.encode())
        await socket.send_to(text_data=wide)
        assert (await _receive(socket))["error"] == "messages must be at most 64 KB"

        await socket.send_to(bytes_data=b'{"type": "ping"}')
        assert (await _receive(socket))["error"] == "messages must be JSON text"

        # Still alive after all of that.
        await socket.send_json_to({"type": "ping"})
        assert await _receive(socket) == {"type": "pong", "id": None}
        await socket.disconnect()

    _run(body)


def test_published_events_reach_only_that_user(client_a: User, client_b: User) -> None:
    alice, bob = signed_in(client_a), signed_in(client_b)

    async def body() -> None:
        socket_a, connected_a, _ = await _open(_headers(alice))
        second_tab, connected_tab, _ = await _open(_headers(alice))
        socket_b, connected_b, _ = await _open(_headers(bob))
        assert connected_a and connected_tab and connected_b

        await sync_to_async(publish_to_user)(client_a.pk, {"type": "alert", "text": "hello"})
        assert await _receive(socket_a) == {"type": "alert", "text": "hello"}
        assert await _receive(second_tab) == {"type": "alert", "text": "hello"}
        assert await socket_b.receive_nothing(timeout=0.3)
        for socket in (socket_a, second_tab, socket_b):
            await socket.disconnect()

    _run(body)


def test_a_stale_unread_badge_is_corrected_on_connect(client_a: User) -> None:
    """The page sends the count its badge shows; the server answers only when it differs."""
    alice = signed_in(client_a)

    async def body() -> None:
        current, connected, _ = await _open(_headers(alice), PATH + "?unread=0")
        stale, connected_stale, _ = await _open(_headers(alice), PATH + "?unread=3")
        assert connected and connected_stale
        assert await current.receive_nothing(timeout=0.3)
        assert await _receive(stale) == {"type": "messages.unread", "total": 0}
        for socket in (current, stale):
            await socket.disconnect()

    _run(body)


def test_ending_live_connections_closes_the_socket(client_a: User) -> None:
    browser = signed_in(client_a)

    async def body() -> None:
        socket, connected, _ = await _open(_headers(browser))
        assert connected
        await sync_to_async(end_live_connections)(client_a.pk)
        assert await _receive(socket) == {"type": "session.ended"}
        closed = await socket.receive_output(timeout=5)
        assert closed == {"type": "websocket.close", "code": 4001}
        await socket.disconnect()

    _run(body)


def test_sign_out_everywhere_closes_sockets_and_refuses_the_old_cookie(client_a: User) -> None:
    browser = signed_in(client_a)
    other_device = signed_in(client_a)

    async def body() -> None:
        socket, connected, _ = await _open(_headers(other_device))
        assert connected
        response = await sync_to_async(browser.post)("/settings/sign-out-everywhere/")
        assert response.status_code == 302
        assert await _receive(socket) == {"type": "session.ended"}
        assert await socket.receive_output(timeout=5) == {"type": "websocket.close", "code": 4001}
        await socket.disconnect()

        # The other device's session cookie no longer opens a socket.
        again, connected_again, _code = await _open(_headers(other_device))
        assert not connected_again
        await again.disconnect()

    _run(body)


def test_signing_out_closes_that_browser_only(client_a: User) -> None:
    laptop = signed_in(client_a)
    phone = signed_in(client_a)

    async def body() -> None:
        laptop_socket, laptop_ok, _ = await _open(_headers(laptop))
        phone_socket, phone_ok, _ = await _open(_headers(phone))
        assert laptop_ok and phone_ok
        response = await sync_to_async(laptop.post)("/accounts/logout/")
        assert response.status_code == 302
        assert await _receive(laptop_socket) == {"type": "session.ended"}
        assert await laptop_socket.receive_output(timeout=5) == {
            "type": "websocket.close",
            "code": 4001,
        }
        # The phone is still signed in and its socket stays open.
        assert await phone_socket.receive_nothing(timeout=0.3)
        await phone_socket.send_json_to({"type": "ping", "id": 7})
        assert await _receive(phone_socket) == {"type": "pong", "id": 7}
        for socket in (laptop_socket, phone_socket):
            await socket.disconnect()

    _run(body)


def test_deactivating_an_account_closes_its_sockets(client_a: User, admin: User) -> None:
    alice = signed_in(client_a)
    admin_browser = signed_in(admin)

    async def body() -> None:
        socket, connected, _ = await _open(_headers(alice))
        assert connected
        response = await sync_to_async(admin_browser.post)(
            f"/practice/people/{client_a.pk}/active/", {"active": "0"}
        )
        assert response.status_code == 302
        assert await _receive(socket) == {"type": "session.ended"}
        await socket.disconnect()

    _run(body)


def test_an_expired_browser_session_is_refused_and_closed(client_a: User) -> None:

    browser = signed_in(client_a)
    idle = timedelta(seconds=settings.SESSION_IDLE_TIMEOUT + 60)

    async def body() -> None:
        socket, connected, _ = await _open(_headers(browser))
        assert connected
        with time_machine.travel(timezone.now() + idle):
            await socket.send_json_to({"type": "ping"})
            assert (await socket.receive_output(timeout=5))["code"] == 4001
            _late, connected, _code = await _open(_headers(browser))
            assert not connected  # refused at the handshake: HTTP 403 for a real client

    _run(body)


def test_events_of_a_process_without_sockets_reach_the_servers_sockets(
    client_a: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The worker and ``rapport manage`` serve no sockets. With Redis their events cross over by
    themselves; with the embedded in-process layer they are stored and the server relays them."""
    browser = signed_in(client_a)
    embedded = isinstance(get_channel_layer(), InProcessChannelLayer)
    stored: list[int] = []

    def publish_elsewhere() -> None:
        monkeypatch.setattr(realtime, "_through_database", True)  # as the worker does
        try:
            publish_to_user(client_a.pk, {"type": "alert", "text": "from the worker"})
            stored.append(PendingEvent.objects.count())
        finally:
            monkeypatch.setattr(realtime, "_through_database", False)

    async def body() -> None:
        socket, connected, _ = await _open(_headers(browser))
        assert connected
        await sync_to_async(publish_elsewhere)()
        assert stored == [1 if embedded else 0]
        assert await _receive(socket) == {"type": "alert", "text": "from the worker"}
        assert await sync_to_async(PendingEvent.objects.count)() == 0
        await socket.disconnect()

    _run(body)


def test_frames_are_read_by_their_structure_in_one_pass() -> None:
    """Depth is counted outside strings; hostile texts (thousands of quotes, escapes or
    brackets) are judged at once, never by recursing or rescanning."""
    nested = "messages may nest at most 8 levels deep"
    cases = {
        "[" * 5000: nested,
        '{"a":' * 5000: nested,
        '{"type": "ping", "id": ' + "[" * 9 + "]" * 9 + "}": nested,
        '"' * 60000 + "[" * 9: nested,
        '"' + '\\"' * 20000 + "[" * 9: "message is not valid JSON",
        "[" * 8 + "]" * 8: None,
        json.dumps({"type": "send", "text": "[{" * 10000}): None,
    }
    started = time.monotonic()
    for text, refusal in cases.items():
        if refusal is None:
            assert read_frame(text, None) == json.loads(text)
        else:
            with pytest.raises(FrameError, match=re.escape(refusal)):
                read_frame(text, None)
    assert time.monotonic() - started < 2
