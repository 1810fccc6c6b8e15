"""The three sockets on a real server (uvicorn in a subprocess), as another client sees them.

What the in-process ``WebsocketCommunicator`` cannot show: what a crashed consumer leaves behind,
what a refused or closed handshake looks like on the wire, and the sign-in recipe of
docs/protocol.md ("Signing in from a script") followed with a plain HTTP client.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from tests.browser.browsing import DEMO_PASSWORD, fresh_totp
from tests.browser.server import DemoServer, ServerError, demo_server
from tests.live_messages import Browserless, receive, run_in_own_loop

DEEP = "[" * 5000  # about 5 KB of JSON nested deeper than any decoder's recursion limit

# Runs in ``rapport manage shell`` on the server: a therapist (authenticator app with a known
# secret) and a client of theirs, an open visit the client checked in to, signed-in sessions.
ROOM_CODE = """
import json
from allauth.account.models import EmailAddress
from allauth.mfa.totp.internal.auth import TOTP, generate_totp_secret
from rapport.accounts.models import Role, User
from rapport.care.services import start_care
from rapport.messaging.access import conversation_for
from rapport.visits import services
from tests.sessions import session_cookie
admin = User.objects.get(email="admin@demo.rapport.test")
made = []
for email, role in [({therapist!r}, Role.THERAPIST), ({client!r}, Role.CLIENT)]:
    user = User.objects.create_user(
        email, {password!r}, full_name=email.split("@")[0], role=role, time_zone="UTC"
    )
    EmailAddress.objects.create(user=user, email=email, verified=True, primary=True)
    made.append(user)
therapist, client = made
relationship = start_care(therapist, client, actor=admin)
secret = generate_totp_secret()
TOTP.activate(therapist, secret)
visit = services.start_unscheduled(therapist, client)
services.check_in(visit, client, location="Home", callback_phone="+1 555 0100",
                  emergency_contact="Sam")
print(json.dumps({{
    "visit": str(visit.uid),
    "conversation": str(conversation_for(relationship).uid),
    "secret": secret,
    "therapist": session_cookie(therapist),
    "client": session_cookie(client),
}}))
"""


@dataclass(frozen=True)
class Room:
    therapist_email: str
    therapist_secret: str
    visit: str
    conversation: str
    therapist: str  # Cookie headers of signed-in sessions
    client: str


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoServer]:
    outer = os.environ.get("RAPPORT_DATA_DIR")
    if outer:
        data_dir = Path(outer) / "sockets-live-server"
        shutil.rmtree(data_dir, ignore_errors=True)
    else:
        data_dir = tmp_path_factory.mktemp("sockets-live-server")
    try:
        with demo_server(data_dir, database_suffix="_sockets") as running:
            yield running
    except ServerError as exc:
        pytest.fail(f"demo server did not start: {exc}")


@pytest.fixture
def room(server: DemoServer) -> Room:
    tag = uuid.uuid4().hex[:8]
    therapist, client = f"t-{tag}@live.test", f"c-{tag}@live.test"
    code = ROOM_CODE.format(therapist=therapist, client=client, password=DEMO_PASSWORD)
    made = json.loads(server.shell(code).strip().splitlines()[-1])
    return Room(
        therapist,
        made["secret"],
        made["visit"],
        made["conversation"],
        made["therapist"],
        made["client"],
    )


def ws_url(server: DemoServer, path: str) -> str:
    return "ws" + server.url.removeprefix("http") + path


async def open_socket(
    server: DemoServer, path: str, cookie: str, origin: str | None = None
) -> ClientConnection:
    return await connect(
        ws_url(server, path),
        origin=origin or server.url,  # type: ignore[arg-type]
        additional_headers={"Cookie": cookie},
        open_timeout=10,
        ping_interval=None,
        compression=None,
    )


async def closed_code(socket: ClientConnection, timeout: float = 10.0) -> int | None:
    """Read until the server closes the socket; its close code."""
    try:
        async with asyncio.timeout(timeout):
            while True:
                await socket.recv()
    except ConnectionClosed as closed:
        return closed.rcvd.code if closed.rcvd is not None else None


# --- Point 7: a frame nested too deeply is refused, and the socket lives on --------------------


def test_a_deeply_nested_frame_is_refused_on_the_events_socket(
    server: DemoServer, room: Room
) -> None:
    async def body() -> None:
        socket = await open_socket(server, "/ws/events/", room.client)
        await socket.send(DEEP)
        error = await receive(socket, "error")
        assert error["error"] == "messages may nest at most 8 levels deep", error
        await socket.send(json.dumps({"type": "ping", "id": 7}))
        assert (await receive(socket, "pong"))["id"] == 7
        await socket.close()

    run_in_own_loop(body())


def test_a_deeply_nested_frame_is_refused_on_the_messages_socket(
    server: DemoServer, room: Room
) -> None:
    async def body() -> None:
        socket = await open_socket(server, "/ws/messages/", room.client)
        await receive(socket, "welcome")
        for frame in (DEEP, '{"type": "send", "text": ' + DEEP + "]" * 5000 + "}"):
            await socket.send(frame)
            error = await receive(socket, "error")
            assert error["error"] == "messages may nest at most 8 levels deep", error
        ident = str(uuid.uuid4())
        await socket.send(
            json.dumps(
                {"type": "send", "conversation": room.conversation, "id": ident, "text": "still"}
            )
        )
        assert (await receive(socket, "ack"))["id"] == ident
        await socket.close()

    run_in_own_loop(body())


def test_a_deeply_nested_frame_in_the_waiting_room_changes_nothing_for_the_therapist(
    server: DemoServer, room: Room
) -> None:
    """The client's bad frame is refused; when the client then leaves, the therapist hears it
    (before, the frame crashed the client's consumer, which stayed "present, waiting")."""
    path = f"/ws/visits/{room.visit}/"

    async def body() -> None:
        therapist = await open_socket(server, path, room.therapist)
        await receive(therapist, "welcome")
        client = await open_socket(server, path, room.client)
        assert (await receive(client, "welcome"))["you"]["state"] == "waiting"
        await receive(therapist, "peer", present=True, state="waiting")
        await client.send(DEEP)
        error = await receive(client, "error")
        assert error["error"] == "messages may nest at most 8 levels deep", error
        await client.send(json.dumps({"type": "ping", "id": 1}))
        assert (await receive(client, "pong"))["id"] == 1
        await client.close()
        await receive(therapist, "peer", present=False)
        await therapist.close()

    run_in_own_loop(body())


# --- Point 26: what a refused or closed handshake looks like -----------------------------------


def test_an_anonymous_handshake_gets_http_403(server: DemoServer) -> None:
    async def body() -> None:
        for path in ("/ws/events/", "/ws/messages/", f"/ws/visits/{uuid.uuid4()}/"):
            with pytest.raises(InvalidStatus) as refused:
                await connect(ws_url(server, path), origin=server.url)  # type: ignore[arg-type]
            assert refused.value.response.status_code == 403

    run_in_own_loop(body())


def test_an_unknown_or_ended_visit_closes_with_its_code(server: DemoServer, room: Room) -> None:
    """A signed-in person hears why the room will not open (4404, 4410), so their page stops
    instead of retrying a refused handshake."""
    shell = f"from rapport.visits.models import Visit; Visit.objects.filter(uid={room.visit!r})"

    async def body() -> None:
        unknown = await open_socket(server, f"/ws/visits/{uuid.uuid4()}/", room.client)
        assert await closed_code(unknown) == 4404
        server.shell(shell + ".update(status='ended')")
        ended = await open_socket(server, f"/ws/visits/{room.visit}/", room.client)
        assert await closed_code(ended) == 4410

    run_in_own_loop(body())


# --- Point 27: a script signs in as docs/protocol.md says, and learns its conversations --------


def test_a_script_signs_in_with_password_and_code_then_uses_the_messages_socket(
    server: DemoServer, room: Room
) -> None:
    script = Browserless(server.url)
    token = script.csrf("/accounts/login/")
    status, location, _ = script.request(
        "/accounts/login/",
        {"csrfmiddlewaretoken": token, "login": room.therapist_email, "password": DEMO_PASSWORD},
    )
    assert (status, location) == (302, "/accounts/2fa/authenticate/"), (status, location)
    token = script.csrf("/accounts/2fa/authenticate/")
    status, location, _ = script.request(
        "/accounts/2fa/authenticate/",
        {"csrfmiddlewaretoken": token, "code": fresh_totp(room.therapist_secret)},
    )
    assert status == 302 and "/accounts/" not in location, (status, location)
    status, _, _ = script.request("/accounts/session/")
    assert status == 204

    async def body() -> None:
        socket = await open_socket(server, "/ws/messages/", script.cookie_header())
        welcome = await receive(socket, "welcome")
        mine = [c["id"] for c in welcome["conversations"]]
        assert room.conversation in mine, welcome
        ident = str(uuid.uuid4())
        frame = {"type": "send", "conversation": mine[0], "id": ident, "text": "from a script"}
        await socket.send(json.dumps(frame))
        assert (await receive(socket, "ack"))["message"]["text"] == "from a script"
        await socket.close()

    run_in_own_loop(body())
