"""The messages socket ``/ws/messages/`` on a real server (uvicorn in a subprocess).

For tests that need what the in-process ``WebsocketCommunicator`` cannot give: a server process
that is killed and restarted, or two processes sharing one database and one Redis. No Django
import here: the servers run in their own processes.
"""

from __future__ import annotations

import asyncio
import http.cookiejar
import json
import re
import time
import urllib.parse
import urllib.request
from collections.abc import Coroutine
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from websockets.asyncio.client import ClientConnection, connect

from tests.browser.server import SESSION_CODE, DemoServer

PATH = "/ws/messages/"
CLIENT = "client@demo.rapport.test"  # Sam Rivera, a client of Dr. Maya Okafor
THERAPIST = "therapist@demo.rapport.test"
# The defaults (per user a burst of 30 writes, then 2 a second; per socket 100 frames, then 20 a
# second) would refuse a test's pace.
UNLIMITED_WRITES = {
    "RAPPORT_MESSAGE_RATE": "100000",
    "RAPPORT_MESSAGE_BURST": "100000",
    "RAPPORT_MESSAGE_SOCKET_RATE": "100000",
    "RAPPORT_MESSAGE_SOCKET_BURST": "100000",
}

PEOPLE_CODE = (
    SESSION_CODE
    + """
import json
from rapport.accounts.models import User
from rapport.care.models import CareRelationship
from rapport.messaging.access import conversation_for

client = User.objects.get(email=CLIENT)
therapist = User.objects.get(email=THERAPIST)
# A therapist's sockets need an enrolled second factor, as their pages do.
from allauth.mfa.models import Authenticator
from allauth.mfa.totp.internal.auth import TOTP, generate_totp_secret
if not Authenticator.objects.filter(user=therapist).exists():
    TOTP.activate(therapist, generate_totp_secret())
relationship = CareRelationship.objects.get(
    client=client, therapist=therapist, status=CareRelationship.Status.ACTIVE
)
print(json.dumps({
    "conversation": str(conversation_for(relationship).uid),
    "client": client.pk,
    "client_cookies": [session_cookie(client) for _ in range(TABS)],
    "therapist_cookies": [session_cookie(therapist) for _ in range(TABS)],
}))
"""
)


@dataclass
class Conversation:
    """The demo client and therapist's conversation and signed-in sessions (one per tab)."""

    uid: str
    client_id: int
    client_cookies: list[str]
    therapist_cookies: list[str]


def demo_conversation(server: DemoServer, tabs: int = 1) -> Conversation:
    code = PEOPLE_CODE.replace("TABS", str(tabs))
    code = code.replace("CLIENT", repr(CLIENT)).replace("THERAPIST", repr(THERAPIST))
    found = json.loads(server.shell(code).strip().splitlines()[-1])
    return Conversation(
        found["conversation"], found["client"], found["client_cookies"], found["therapist_cookies"]
    )


def stored_messages(server: DemoServer, sender_id: int) -> list[tuple[int, str]]:
    """(seq, text) of every message ``sender_id`` sent, in seq order, read from the database."""
    code = (
        "import json\n"
        "from rapport.messaging.models import Message\n"
        f"rows = Message.objects.filter(sender_id={sender_id}).order_by('conversation', 'seq')\n"
        "print(json.dumps([[m.seq, m.body] for m in rows]))\n"
    )
    rows = json.loads(server.shell(code).strip().splitlines()[-1])
    return [(int(seq), str(text)) for seq, text in rows]


async def open_socket(server: DemoServer, cookie: str, timeout: float = 10.0) -> ClientConnection:
    """A signed-in messages socket, read up to and including its ``welcome``."""
    socket = await connect(
        "ws" + server.url.removeprefix("http") + PATH,
        origin=server.url,  # type: ignore[arg-type]
        additional_headers={"Cookie": cookie},
        open_timeout=timeout,
        ping_interval=None,
        compression=None,
    )
    first = await receive(socket, "welcome", timeout)
    assert first["type"] == "welcome", first
    return socket


async def receive(
    socket: ClientConnection, kind: str, timeout: float = 10.0, **match: Any
) -> dict[str, Any]:
    """The next frame of type ``kind`` (whose fields equal ``match``), skipping others."""
    deadline = time.monotonic() + timeout
    seen: list[str] = []
    while True:
        left = deadline - time.monotonic()
        try:
            raw = await asyncio.wait_for(socket.recv(), timeout=max(left, 0.001))
        except TimeoutError:
            raise AssertionError(
                f"no {kind!r} frame{f' {match}' if match else ''} within {timeout:.0f} s; "
                f"got instead: {seen}"
            ) from None
        frame: dict[str, Any] = json.loads(raw)
        if frame.get("type") == kind and all(frame.get(k) == v for k, v in match.items()):
            return frame
        seen.append(str(raw)[:200])


def run_in_own_loop[T](coroutine: Coroutine[Any, Any, T]) -> T:
    """Run ``coroutine`` to the end in a new event loop on a thread of its own (the main thread
    may already run a loop: Playwright's, when browser tests ran first in the session)."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coroutine).result()


class Browserless:
    """A plain HTTP client with a cookie jar that does not follow redirects by itself."""

    class _NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args: Any, **kwargs: Any) -> None:
            return None

    def __init__(self, base: str) -> None:
        self.base = base
        self.jar = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(self.jar), self._NoRedirect
        )

    def request(self, path: str, form: dict[str, str] | None = None) -> tuple[int, str, str]:
        """(status, Location header, body) of a GET, or of a POST of ``form`` with the CSRF
        token from the cookie and the Referer/Origin a browser would send."""
        headers = {"Origin": self.base, "Referer": self.base + path}
        data = urllib.parse.urlencode(form).encode() if form is not None else None
        request = urllib.request.Request(self.base + path, data=data, headers=headers)  # noqa: S310 (the test server)
        try:
            with self.opener.open(request, timeout=20) as response:
                return response.status, "", response.read().decode()
        except urllib.error.HTTPError as answer:
            return answer.code, answer.headers.get("Location", ""), answer.read().decode()

    def csrf(self, path: str) -> str:
        status, _, page = self.request(path)
        assert status == 200, (path, status)
        found = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page)
        assert found, f"no CSRF token on {path}"
        return found.group(1)

    def cookie_header(self) -> str:
        return "; ".join(f"{c.name}={c.value}" for c in self.jar)
