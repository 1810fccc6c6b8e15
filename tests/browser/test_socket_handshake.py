"""The page's WebSocket client (``rapport/core/static/rapport/socket.js``) never waits on a
handshake for ever, and never gives up on one that Chromium is only holding back.

After a network blackout a connect can hang: its SYN went into the dead network and the kernel
sends it again only after 1, 3, 7, 15 … s. Here a server that accepts the connection and never
answers the upgrade request stands for it; the socket must give the handshake up within its bound
and connect again. And once a page has had many failed connects, Chromium waits up to 5 s before
starting each new one (its per-process WebSocket throttle): a bound shorter than that gives up
every such connect before it starts, and the socket never comes back.

The page and its socket are served by a small server of the test's own on the loopback, which
sends ``socket.js`` as it is in the repository.
"""

from __future__ import annotations

import base64
import hashlib
import re
import socket
import socketserver
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page

pytestmark = pytest.mark.browser

SOCKET_JS = (
    Path(__file__).resolve().parents[2] / "rapport" / "core" / "static" / "rapport" / "socket.js"
)
_BOUND = re.search(r"const CONNECT_TIMEOUT_MS = (\d+);", SOCKET_JS.read_text(encoding="utf-8"))
assert _BOUND, "socket.js no longer declares CONNECT_TIMEOUT_MS"
CONNECT_TIMEOUT_S = int(_BOUND.group(1)) / 1000
THROTTLE_MAX_S = 5.0  # Chromium's longest delay before a throttled WebSocket connect
GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"  # RFC 6455 §1.3

PAGE = b"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>socket</title></head><body>
<script type="module">
import { ReconnectingSocket } from "/socket.js";
// A new socket to /ws (not connected yet): window.socket, its handlers' calls in window.events.
window.newSocket = () => {
  window.events = [];
  const at = () => Math.round(performance.now());
  window.socket = new ReconnectingSocket("/ws", {
    onOpen: () => window.events.push(["open", at()]),
    onMessage: () => {},
    onDown: () => window.events.push(["down", at()]),
  });
};
window.newSocket();
</script></body></html>
"""

# Failed connects to a closed port, each one counted against the page by Chromium's throttle
# (enough for its longest delay even after a few successful ones).
FAIL_CONNECTS = """(port) => Promise.all(Array.from({length: 60}, () => new Promise((resolve) => {
  const ws = new WebSocket(`ws://127.0.0.1:${port}/`);
  ws.onclose = resolve;
})))"""


# Connects and probes every 100 ms until open (the room probes every second while a call's
# media is lost; this server never answers the probe's ping, so it stops there).
PROBED_CONNECT = """() => {
  const socket = window.socket;
  socket.connect();
  const tick = setInterval(() => (socket.open ? clearInterval(tick) : socket.probe()), 100);
}"""


class Handshakes(socketserver.ThreadingTCPServer):
    """Serves the page and ``socket.js``; leaves the first ``stall`` upgrade requests unanswered
    (recording when the browser gave each up), then accepts WebSockets and holds them open."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), Handler)
        self.stall = 0
        self.upgrades: list[float] = []  # time.monotonic() of each upgrade request
        self.given_up: list[float] = []  # of each stalled connection the browser closed

    @property
    def origin(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host!s}:{port}"


class Handler(socketserver.StreamRequestHandler):
    server: Handshakes

    def handle(self) -> None:
        head = self.rfile.readline().decode("latin-1")
        headers: dict[str, str] = {}
        while line := self.rfile.readline().decode("latin-1").strip():
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        path = head.split(" ")[1] if head.count(" ") >= 2 else ""
        if path == "/ws":
            self.upgrade(headers)
        elif path == "/socket.js":
            self.reply("text/javascript", SOCKET_JS.read_bytes())
        else:
            self.reply("text/html; charset=utf-8", PAGE)

    def reply(self, content_type: str, body: bytes) -> None:
        self.wfile.write(
            b"HTTP/1.1 200 OK\r\nContent-Type: " + content_type.encode() + b"\r\n"
            b"Content-Length: " + str(len(body)).encode() + b"\r\nConnection: close\r\n\r\n" + body
        )

    def upgrade(self, headers: dict[str, str]) -> None:
        server = self.server
        server.upgrades.append(time.monotonic())
        if len(server.upgrades) <= server.stall:
            self.rfile.read()  # no answer: until the browser closes the connection
            server.given_up.append(time.monotonic())
            return
        accept = base64.b64encode(
            hashlib.sha1((headers["sec-websocket-key"] + GUID).encode()).digest()  # noqa: S324 (RFC 6455)
        )
        self.wfile.write(
            b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            b"Sec-WebSocket-Accept: " + accept + b"\r\n\r\n"
        )
        self.rfile.read()  # open until the browser goes


@pytest.fixture
def handshakes() -> Iterator[Handshakes]:
    server = Handshakes()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def page(browser: Browser, handshakes: Handshakes) -> Iterator[Page]:
    context = browser.new_context()
    page = context.new_page()
    page.goto(handshakes.origin + "/")
    page.wait_for_function("() => window.socket")
    yield page
    context.close()


def closed_port() -> int:
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port: int = probe.getsockname()[1]
    probe.close()
    return port


def test_a_handshake_that_never_finishes_is_given_up_and_retried(
    page: Page, handshakes: Handshakes
) -> None:
    handshakes.stall = 1
    started = time.monotonic()
    page.evaluate("() => window.socket.connect()")
    # Given up after the bound, then the first retry (0.5 s later) opens.
    page.wait_for_function(
        "() => window.events.some(([what]) => what === 'open')",
        timeout=(CONNECT_TIMEOUT_S + 3) * 1000,
    )
    assert len(handshakes.upgrades) == 2, handshakes.upgrades
    (given_up,) = handshakes.given_up
    assert CONNECT_TIMEOUT_S - 0.5 <= given_up - started <= CONNECT_TIMEOUT_S + 1.5, (
        given_up - started
    )
    kinds = [what for what, _ in page.evaluate("() => window.events")]
    assert kinds == ["down", "open"], kinds
    assert page.evaluate("() => window.socket.open")


def test_a_connect_the_browser_holds_back_is_not_given_up(
    page: Page, handshakes: Handshakes
) -> None:
    page.evaluate(FAIL_CONNECTS, closed_port())
    # Chromium's delay is random (1 to 5 s at most): three connects, each opens at its first try.
    for attempt in range(1, 4):
        page.evaluate("() => window.newSocket()")
        started = page.evaluate("() => performance.now()")
        page.evaluate(PROBED_CONNECT)
        page.wait_for_function(
            "() => window.events.some(([what]) => what === 'open')",
            timeout=(THROTTLE_MAX_S + 3) * 1000,
        )
        events = page.evaluate("() => window.events")
        assert [what for what, _ in events] == ["open"], (attempt, events)
        assert len(handshakes.upgrades) == attempt, handshakes.upgrades
        # The browser did hold this connect back: else this test no longer tests the throttle.
        assert events[0][1] - started >= 1000, (attempt, events)
