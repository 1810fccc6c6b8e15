"""Scaled out: two server processes on one PostgreSQL database and one Redis channel layer.

The client's first tab is on process 1 and their second tab on process 2; the therapist's first
tab is on process 2 and their second on process 1. A message from the client reaches both of the
therapist's tabs and the client's other tab, across processes; the therapist's read receipt and
a typing hint come back across too.

Always PostgreSQL and Redis, whatever database the rest of the suite uses: they run on every
development machine and in CI (``make services``). ``RAPPORT_SCALEOUT_DATABASE_URL`` (its name
gets ``_scaleout``) and ``RAPPORT_SCALEOUT_REDIS_URL`` (a database number of its own, flushed)
point elsewhere.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.browser.server import DemoServer, ServerError, demo_server, free_port
from tests.live_messages import (
    UNLIMITED_WRITES,
    Conversation,
    demo_conversation,
    open_socket,
    run_in_own_loop,
)
from tests.live_messages import receive as receive_frame

DATABASE_URL = os.environ.get(
    "RAPPORT_SCALEOUT_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/rapport"
)
REDIS_URL = os.environ.get("RAPPORT_SCALEOUT_REDIS_URL", "redis://127.0.0.1:6379/14")
HOST = "127.0.0.1"


def _require_services() -> None:
    import psycopg
    import redis

    try:
        psycopg.connect(DATABASE_URL.rsplit("/", 1)[0] + "/postgres", connect_timeout=5).close()
    except psycopg.Error as exc:
        pytest.fail(
            f"PostgreSQL is required for the scale-out test and is not reachable at "
            f"{DATABASE_URL} ({exc}); start it with `make services`"
        )
    client = redis.Redis.from_url(REDIS_URL, socket_timeout=5)
    try:
        client.ping()
    except redis.RedisError as exc:
        pytest.fail(
            f"Redis is required for the scale-out test and is not reachable at {REDIS_URL} "
            f"({exc}); start it with `make services`"
        )
    finally:
        client.close()


@pytest.fixture
def servers(tmp_path: Path) -> Iterator[tuple[DemoServer, DemoServer]]:
    """Two uvicorn processes serving one practice: same database, same Redis, same keys."""
    _require_services()
    outer = os.environ.get("RAPPORT_DATA_DIR")
    data_dir = Path(outer) / "scaleout-server" if outer else tmp_path / "server"
    shutil.rmtree(data_dir, ignore_errors=True)
    env = {"REDIS_URL": REDIS_URL, **UNLIMITED_WRITES}
    try:
        with demo_server(
            data_dir, database_url=DATABASE_URL, database_suffix="_scaleout", env=env
        ) as first:
            # The second process shares the first one's environment, which names the data
            # folder (secret and encryption keys), the database and Redis.
            second_dir = data_dir / "second"
            second_dir.mkdir()
            second = DemoServer(
                url=f"http://{HOST}:{free_port()}",
                env=dict(first.env),
                data_dir=second_dir,
                database_url=first.database_url,
            )
            second.start()
            try:
                yield first, second
            finally:
                second.stop()
    except ServerError as exc:
        pytest.fail(f"demo server did not start: {exc}")


def _logs(servers: tuple[DemoServer, DemoServer]) -> str:
    return "\n".join(
        f"--- server {n} log:\n{server.log_tail(30)}" for n, server in enumerate(servers, 1)
    )


async def _conversation_across(
    first: DemoServer, second: DemoServer, conversation: Conversation
) -> None:
    client_1 = await open_socket(first, conversation.client_cookies[0])
    client_2 = await open_socket(second, conversation.client_cookies[1])
    therapist_2 = await open_socket(second, conversation.therapist_cookies[0])
    therapist_1 = await open_socket(first, conversation.therapist_cookies[1])
    sockets = [client_1, client_2, therapist_2, therapist_1]
    try:
        ident = str(uuid.uuid4())
        await client_1.send(
            f'{{"type": "send", "conversation": "{conversation.uid}", "id": "{ident}", '
            f'"text": "Can we move Thursday to the afternoon?"}}'
        )
        ack = await receive_frame(client_1, "ack", id=ident)
        seq = ack["message"]["seq"]
        for name, socket in (
            ("the therapist's tab on process 2", therapist_2),
            ("the therapist's tab on process 1", therapist_1),
            ("the client's other tab on process 2", client_2),
        ):
            try:
                frame = await receive_frame(socket, "message")
            except AssertionError as exc:
                raise AssertionError(f"{name}: {exc}") from None
            assert frame["message"]["id"] == ident, (name, frame)
            assert frame["message"]["text"] == "Can we move Thursday to the afternoon?", name
            assert frame["message"]["from"] == "client", name

        # The therapist reads it on process 2: the client's tab on process 1 gets the receipt.
        await therapist_2.send(
            f'{{"type": "read", "conversation": "{conversation.uid}", "seq": {seq}}}'
        )
        receipt = await receive_frame(client_1, "read", conversation=conversation.uid)
        assert receipt["seq"] == seq and receipt["by"] == "therapist", receipt

        # The client types on process 1: the therapist on process 2 sees it.
        await client_1.send(f'{{"type": "typing", "conversation": "{conversation.uid}"}}')
        typing = await receive_frame(therapist_2, "typing", conversation=conversation.uid)
        assert typing["by"] == "client", typing

        # And a reply from process 2 reaches the client on process 1.
        reply = str(uuid.uuid4())
        await therapist_2.send(
            f'{{"type": "send", "conversation": "{conversation.uid}", "id": "{reply}", '
            f'"text": "Yes, 3 pm works."}}'
        )
        frame = await receive_frame(client_1, "message")
        assert frame["message"]["id"] == reply and frame["message"]["seq"] == seq + 1, frame
    finally:
        for socket in sockets:
            with contextlib.suppress(Exception):
                await socket.close()


def test_messages_receipts_and_typing_cross_processes(
    servers: tuple[DemoServer, DemoServer],
) -> None:
    first, second = servers
    conversation = demo_conversation(first, tabs=2)
    failure = ""
    try:
        run_in_own_loop(asyncio.wait_for(_conversation_across(first, second, conversation), 60))
    except (AssertionError, TimeoutError, OSError) as exc:
        failure = f"{exc!r}\n{_logs(servers)}"
    if failure:
        pytest.fail(failure)
