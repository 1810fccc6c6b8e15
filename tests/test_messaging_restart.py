"""Restart under load: acknowledged messages survive a crash; a retried one is stored once.

A client script sends 1,000 messages over ``/ws/messages/`` with ids of its own, up to 50
unacknowledged at a time, as the browser does. After about 300 acknowledgements the server
process is killed (SIGKILL: no shutdown, no flushing) and started again on the same port, data
folder and database. The client reconnects with backoff and sends every unacknowledged message
again, in order. Afterwards the database holds exactly 1,000 messages from that client, "1" to
"1000", in sequence order, with gap-free sequence numbers.

Runs on the suite's database: SQLite, or PostgreSQL (a database of its own) when ``DATABASE_URL``
is set, with the Redis channel layer when ``REDIS_URL`` is.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from websockets.asyncio.client import ClientConnection
from websockets.exceptions import ConnectionClosed, InvalidHandshake

from tests.browser.server import DemoServer, ServerError, demo_server
from tests.live_messages import (
    UNLIMITED_WRITES,
    demo_conversation,
    open_socket,
    run_in_own_loop,
    stored_messages,
)

MESSAGES = 1000
WINDOW = 50  # unacknowledged messages at most
KILL_AFTER_ACKS = 300
RECONNECT_SECONDS = 60.0  # the restarted server must take messages again within this
TEST_SECONDS = 150.0


@pytest.fixture
def server(tmp_path: Path) -> Iterator[DemoServer]:
    outer = os.environ.get("RAPPORT_DATA_DIR")
    data_dir = Path(outer) / "restart-server" if outer else tmp_path / "server"
    shutil.rmtree(data_dir, ignore_errors=True)
    try:
        with demo_server(data_dir, database_suffix="_restart", env=UNLIMITED_WRITES) as running:
            yield running
    except ServerError as exc:
        pytest.fail(f"demo server did not start: {exc}")


class Client:
    """Sends messages "1".."N" in order; keeps the unacknowledged ones to send again."""

    def __init__(self, server: DemoServer, cookie: str, conversation: str) -> None:
        self.server, self.cookie, self.conversation = server, cookie, conversation
        self.ids = [str(uuid.uuid4()) for _ in range(MESSAGES)]
        self.number = {ident: n for n, ident in enumerate(self.ids)}
        self.acked: dict[int, int] = {}  # message index -> seq in its ack
        self.sent = 0  # messages [0, sent) went out at least once
        self.connections = 0
        self.resent = 0  # sent again after a reconnect (some may have been stored already)
        self.restart: asyncio.Task[None] | None = None

    async def run(self) -> None:
        while len(self.acked) < MESSAGES:
            socket = await self.connect()
            try:
                await self.talk(socket)
            except (ConnectionClosed, OSError):
                pass  # the server went away: reconnect and send the unacknowledged again
            finally:
                await socket.close()
        if self.restart is not None:
            await self.restart

    async def connect(self) -> ClientConnection:
        deadline, delay = time.monotonic() + RECONNECT_SECONDS, 0.1
        while True:
            if self.restart is not None and self.restart.done():
                self.restart.result()  # the restart failed: say why
            try:
                socket = await open_socket(self.server, self.cookie, timeout=5)
                self.connections += 1
                return socket
            except (OSError, InvalidHandshake, ConnectionClosed, TimeoutError, AssertionError):
                if time.monotonic() > deadline:
                    raise AssertionError(
                        f"could not reconnect within {RECONNECT_SECONDS:.0f} s"
                    ) from None
                await asyncio.sleep(delay)
                delay = min(delay * 2, 1.0)

    async def send(self, socket: ClientConnection, number: int) -> None:
        frame = {"type": "send", "conversation": self.conversation, "id": self.ids[number]}
        await socket.send(json.dumps({**frame, "text": str(number + 1)}))

    async def talk(self, socket: ClientConnection) -> None:
        in_flight = [n for n in range(self.sent) if n not in self.acked]
        for number in in_flight:  # again, in their order
            await self.send(socket, number)
        self.resent += len(in_flight)
        waiting = set(in_flight)
        while len(self.acked) < MESSAGES:
            while len(waiting) < WINDOW and self.sent < MESSAGES:
                await self.send(socket, self.sent)
                waiting.add(self.sent)
                self.sent += 1
            frame = await receive_answer(socket)
            if frame["type"] == "error":
                raise AssertionError(f"the server refused a message: {frame}")
            number = self.number[frame["id"]]
            self.acked[number] = frame["message"]["seq"]
            waiting.discard(number)
            if self.restart is None and len(self.acked) >= KILL_AFTER_ACKS:
                self.server.kill()
                self.restart = asyncio.create_task(asyncio.to_thread(self.server.start))


async def receive_answer(socket: ClientConnection) -> dict[str, Any]:
    """The next ``ack`` or ``error`` (the welcome and unread counts are skipped)."""
    while True:
        frame = json.loads(await asyncio.wait_for(socket.recv(), timeout=30))
        if isinstance(frame, dict) and frame.get("type") in {"ack", "error"}:
            return frame


def test_every_message_is_stored_once_and_in_order_across_a_crash(server: DemoServer) -> None:
    conversation = demo_conversation(server)
    before = stored_messages(server, conversation.client_id)
    client = Client(server, conversation.client_cookies[0], conversation.uid)
    failure = ""
    try:
        run_in_own_loop(asyncio.wait_for(client.run(), TEST_SECONDS))
    except (AssertionError, TimeoutError, ServerError) as exc:
        failure = (
            f"{exc!r} after {len(client.acked)} of {MESSAGES} acknowledgements "
            f"({client.connections} connections)\n--- server log:\n{server.log_tail()}"
        )
    if failure:
        pytest.fail(failure)
    assert client.restart is not None, "the server was never killed"
    assert client.connections >= 2, "the client never had to reconnect"
    assert client.resent > 0, "no message was in flight when the server was killed"
    rows = stored_messages(server, conversation.client_id)[len(before) :]
    texts = [text for _, text in rows]
    problem = ""
    if len(rows) != MESSAGES:
        problem = f"{len(rows)} messages stored, not {MESSAGES}"
    elif texts != [str(n) for n in range(1, MESSAGES + 1)]:
        wrong = next(i for i, text in enumerate(texts) if text != str(i + 1))
        problem = f"out of order or doubled from position {wrong + 1}: {texts[wrong : wrong + 5]}"
    else:
        first = rows[0][0]
        if [seq for seq, _ in rows] != list(range(first, first + MESSAGES)):
            problem = "sequence numbers have gaps"
        elif [client.acked[n] for n in range(MESSAGES)] != [seq for seq, _ in rows]:
            problem = "acknowledged sequence numbers differ from the stored ones"
    if problem:
        pytest.fail(f"{problem}\n--- server log:\n{server.log_tail()}")
