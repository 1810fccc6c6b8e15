"""A client written from docs/protocol.md ("Writing a client") alone, against the real server and a
real Chromium therapist: a Python program signs in over HTTP, finds its visit, checks in, joins
the room socket, is admitted, exchanges audio and video with the therapist's page through aiortc,
switches to audio only and back, and leaves.

The program (``PythonClient``) uses only what the documentation names: the sign-in form, ``GET
/visits/open/``, the check-in form's fields, the room socket's messages. It runs in a thread with
its own event loop, because Playwright's synchronous API owns the test's thread; the test and
the program meet at ``threading.Event``s.

aiortc notes: it gathers all of its candidates before ``setLocalDescription`` returns, so they
travel inside the answer and the program sends no ``ice`` messages; an empty ``iceServers`` list
must be passed as a list (``None`` makes aiortc use a public STUN server).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from aiortc import (
    MediaStreamTrack,
    RTCConfiguration,
    RTCIceServer,
    RTCPeerConnection,
    RTCSessionDescription,
)
from aiortc.mediastreams import AudioStreamTrack, MediaStreamError, VideoStreamTrack
from aiortc.sdp import candidate_from_sdp
from playwright.sync_api import expect
from websockets.asyncio.client import ClientConnection, connect

from tests.browser.browsing import DEMO_PASSWORD
from tests.browser.calls import (
    AUDIO_IN,
    VIDEO_FRAMES_IN,
    admit,
    diagnose,
    growth,
    room_state,
    start_session,
    timeline_rows,
    wait_for_modality,
    wait_for_stat,
)
from tests.browser.conftest import MakeVisitor
from tests.browser.media import media_browser, media_visitor
from tests.browser.people import new_pair
from tests.browser.server import DemoServer
from tests.live_messages import Browserless

pytestmark = pytest.mark.browser
__all__ = ["media_browser", "media_visitor"]  # fixtures used by the tests below

WAIT_SECONDS = 30.0
FRAMES_WANTED = 30  # a second of the therapist's camera


@dataclass
class Received:
    """What the program's peer connection got from the therapist's page."""

    video_frames: int = 0
    audio_frames: int = 0
    width: int = 0


@dataclass
class PythonClient:
    """A client program that knows only docs/protocol.md."""

    base: str  # http://host:port
    email: str
    password: str
    checkin: dict[str, str]
    http: Browserless = field(init=False)
    visit: str = ""
    welcome: dict[str, Any] = field(default_factory=dict)
    seen: list[str] = field(default_factory=list)  # types of the room's messages, in order
    received: Received = field(default_factory=Received)
    error: BaseException | None = None
    waiting: threading.Event = field(default_factory=threading.Event)
    in_call: threading.Event = field(default_factory=threading.Event)
    switched: threading.Event = field(default_factory=threading.Event)
    leave: threading.Event = field(default_factory=threading.Event)
    done: threading.Event = field(default_factory=threading.Event)
    wanted_modality: str = ""
    modality: str = ""

    def __post_init__(self) -> None:
        self.http = Browserless(self.base)

    # --- Over HTTP: sign in, find the visit, check in ---------------------------------------------

    def sign_in(self) -> None:
        token = self.http.csrf("/accounts/login/")
        form = {"csrfmiddlewaretoken": token, "login": self.email, "password": self.password}
        status, location, _ = self.http.request("/accounts/login/", form)
        assert status == 302 and not location.startswith("/accounts/"), (status, location)
        assert self.http.request("/accounts/session/")[0] == 204

    def find_visit(self) -> dict[str, Any]:
        status, _, body = self.http.request("/visits/open/")
        assert status == 200, status
        (visit,) = json.loads(body)["visits"]
        assert visit["role"] == "client", visit
        self.visit = visit["visit"]
        return dict(visit)

    def check_in(self, path: str) -> None:
        token = self.http.csrf(path)
        form = {"csrfmiddlewaretoken": token, **self.checkin, "confirm": "on"}
        status, location, body = self.http.request(path, form)
        assert status == 302 and location == f"/visits/{self.visit}/", (status, location, body)

    # --- The room socket and the call -----------------------------------------------------------

    def run(self, socket_path: str) -> None:
        """The thread's body: the whole call, then ``done``."""
        try:
            asyncio.run(self.call(socket_path))
        except BaseException as exc:
            self.error = exc
        finally:
            for event in (self.waiting, self.in_call, self.switched, self.done):
                event.set()

    async def call(self, socket_path: str) -> None:
        url = self.base.replace("http", "ws", 1) + socket_path
        headers = {"Cookie": self.http.cookie_header()}
        async with connect(url, origin=self.base, additional_headers=headers) as socket:  # type: ignore[arg-type]
            self.welcome = await self.next(socket, "welcome")
            assert self.welcome["you"] == {"role": "client", "state": "waiting"}, self.welcome
            self.modality = self.welcome["modality"]
            self.waiting.set()
            await self.next(socket, "admitted")
            ready = await self.next(socket, "ready")
            assert ready["polite"] is True, ready
            servers = [RTCIceServer(**server) for server in self.welcome["ice_servers"]]
            pc = RTCPeerConnection(RTCConfiguration(iceServers=servers))
            tracks: list[MediaStreamTrack] = [AudioStreamTrack(), VideoStreamTrack()]
            readers: list[asyncio.Task[None]] = []
            pc.on("track", lambda track: readers.append(asyncio.create_task(self.read(track))))
            try:
                await self.signaling(socket, pc, tracks)
            finally:
                for reader in readers:
                    reader.cancel()
                await pc.close()
            await socket.close()

    async def signaling(
        self, socket: ClientConnection, pc: RTCPeerConnection, tracks: list[MediaStreamTrack]
    ) -> None:
        """Answer the therapist's offers and add their candidates, strictly in order; switch
        modality when the test asks; leave when it says so."""
        added = False
        while not self.leave.is_set():
            if self.wanted_modality and self.wanted_modality != self.modality:
                wanted, self.wanted_modality = self.wanted_modality, ""
                await socket.send(
                    json.dumps({"type": "modality", "modality": wanted, "reason": "user"})
                )
            try:
                message = json.loads(await asyncio.wait_for(socket.recv(), 0.2))
            except TimeoutError:
                self.check_media()
                continue
            self.seen.append(message["type"])
            if message["type"] == "sdp" and message["description"]["type"] == "offer":
                offer = message["description"]
                await pc.setRemoteDescription(RTCSessionDescription(offer["sdp"], "offer"))
                if not added:  # our tracks go on the transceivers the offer made
                    for track in tracks:
                        pc.addTrack(track)
                    added = True
                await pc.setLocalDescription(await pc.createAnswer())
                answer = {"type": "answer", "sdp": pc.localDescription.sdp}
                await socket.send(json.dumps({"type": "sdp", "description": answer}))
            elif message["type"] == "ice" and message["candidate"]:
                found = message["candidate"]
                if found["candidate"]:
                    candidate = candidate_from_sdp(found["candidate"].split(":", 1)[1])
                    candidate.sdpMid = found["sdpMid"]
                    candidate.sdpMLineIndex = found["sdpMLineIndex"]
                    await pc.addIceCandidate(candidate)
            elif message["type"] == "modality":
                self.modality = message["modality"]
                if self.modality == "audio":
                    self.switched.set()
            elif message["type"] == "error":
                raise AssertionError(f"refused: {message}")
            self.check_media()

    def check_media(self) -> None:
        if self.received.video_frames >= FRAMES_WANTED and self.received.audio_frames > 0:
            self.in_call.set()

    async def read(self, track: MediaStreamTrack) -> None:
        with contextlib.suppress(MediaStreamError):
            while True:
                frame = await track.recv()
                if track.kind == "video":
                    self.received.video_frames += 1
                    self.received.width = frame.width  # type: ignore[union-attr]
                else:
                    self.received.audio_frames += 1

    async def next(self, socket: ClientConnection, kind: str) -> dict[str, Any]:
        """The next message of type ``kind`` (presence updates and the like pass by)."""
        async with asyncio.timeout(WAIT_SECONDS):
            while True:
                message: dict[str, Any] = json.loads(await socket.recv())
                self.seen.append(message["type"])
                if message["type"] == "error":
                    raise AssertionError(f"refused: {message}")
                if message["type"] == kind:
                    return message


def wait(
    event: threading.Event, program: PythonClient, what: str, extra: Callable[[], str]
) -> None:
    if not event.wait(WAIT_SECONDS) or program.error is not None:
        raise AssertionError(
            f"the Python client did not get to {what}: {program.error!r}\n"
            f"  its messages: {program.seen}\n  received: {program.received}\n{extra()}"
        ) from program.error


def test_a_python_client_written_from_the_docs_has_a_call_with_the_therapist(
    media_visitor: MakeVisitor, server: DemoServer
) -> None:
    pair = new_pair(server)
    therapist = media_visitor("therapist")
    pair.let_in(therapist, pair.therapist)
    visit = start_session(therapist, pair, "video")
    page = therapist.page

    program = PythonClient(
        server.url,
        pair.client,
        DEMO_PASSWORD,
        {
            "location": "At home, 3 Mill Lane, Leeds",
            "callback_phone": "+44 113 496 0100",
            "emergency_contact": "Ana Park, sister, +44 113 496 0999",
        },
    )
    program.sign_in()
    found = program.find_visit()
    assert found["visit"] == visit and found["checked_in"] is False, found
    program.check_in(found["check_in"])
    thread = threading.Thread(target=program.run, args=(found["socket"],), daemon=True)
    thread.start()
    try:
        wait(program.waiting, program, "the waiting room", lambda: diagnose(therapist))
        welcome = program.welcome
        assert welcome["visit"] == visit
        assert welcome["ice_transport_policy"] == "all"
        assert set(welcome["quality"]) >= {"poor", "audio_poor", "sample_seconds"}
        # The therapist sees the client waiting, with the check-in the program sent.
        safety = page.get_by_role("region", name="Safety check-in")
        expect(safety).to_contain_text("At home, 3 Mill Lane, Leeds")
        admit(therapist, pair)

        # Media both ways: the program decodes the therapist's camera, Chromium the program's.
        wait(program.in_call, program, "media from Chromium", lambda: diagnose(therapist))
        assert program.received.width > 0, program.received
        wait_for_stat(page, VIDEO_FRAMES_IN)
        wait_for_stat(page, AUDIO_IN)
        assert room_state(page)["peer"] == "admitted"

        # Audio only, asked for by the program: both switch, sound still flows to Chromium.
        program.wanted_modality = "audio"
        wait(program.switched, program, "audio only", lambda: diagnose(therapist))
        wait_for_modality(page, "audio")
        assert growth(page, AUDIO_IN) > 0
        # And back to video: the therapist's camera reaches the program again.
        time.sleep(1)
        frames = program.received.video_frames
        time.sleep(1)
        assert program.received.video_frames - frames < 5, "video kept coming in audio only"
        program.wanted_modality = "video"
        wait_for_modality(page, "video")
        deadline = time.monotonic() + WAIT_SECONDS
        while program.received.video_frames - frames < FRAMES_WANTED:
            assert time.monotonic() < deadline, (program.received, diagnose(therapist))
            time.sleep(0.2)
        assert growth(page, VIDEO_FRAMES_IN) > 0
    finally:
        program.leave.set()
        thread.join(WAIT_SECONDS)
    assert not thread.is_alive()
    assert program.error is None, program.error

    # The program left: the therapist's page says the client is reconnecting (the grace period).
    page.wait_for_function("() => window.rapportRoom.state().peer === 'reconnecting'")
    kinds = iter(row["kind"] for row in timeline_rows(therapist, visit))
    # In this order, with other lines (quality, the therapist's own) between them.
    for kind in ("checked_in", "waiting", "admitted", "modality", "modality", "left"):
        assert kind in kinds, f"no {kind!r} in order on the timeline"
