"""Helpers for the session-room tests: a fresh therapist and client, the way into the room through
the pages a person uses, and what the call is really doing (``getStats()`` read through the room's
read-only hook ``window.rapportRoom``, documented in ``rapport/visits/static/visits/room.js``).
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from playwright.sync_api import Page, expect
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

from tests.browser.browsing import Visitor
from tests.browser.people import Pair, new_pair
from tests.browser.server import DemoServer

MODES = {
    "video": "Continue with video",
    "audio": "Continue without camera",
    "text": "Continue with text only",
}
START_AS = {"video": "Video", "audio": "Audio only", "text": "Live text"}
CALL_TIMEOUT_MS = 30_000
TIMELINE_WAIT_S = 10.0  # for a page's last report over its socket to be stored


def start_session(therapist: Visitor, pair: Pair, mode: str = "video") -> str:
    """The therapist starts a session from the client's record and goes through the tech check
    into the room; returns the visit's uuid."""
    page = therapist.page
    therapist.goto(f"/clients/{pair.client_id}/")
    live = page.get_by_role("region", name="Session now")
    live.get_by_role("radio", name=START_AS[mode], exact=True).check()
    therapist.click(live.get_by_role("button", name="Start a session"))
    found = re.fullmatch(r"/visits/([0-9a-f-]{36})/check/", therapist.path)
    assert found, therapist.path
    visit = found.group(1)
    therapist.click(page.get_by_role("link", name=MODES[mode]))
    assert therapist.path == f"/visits/{visit}/?mode={mode}", therapist.path
    return visit


def join_waiting_room(client: Visitor, visit: str, mode: str = "video") -> None:
    """The client joins from their home page: tech check, safety check-in, waiting room."""
    page = client.page
    client.goto("/")
    opened = page.get_by_role("region", name="Your session is open")
    client.click(opened.get_by_role("link", name="Join the session"))
    assert client.path == f"/visits/{visit}/check/", client.path
    client.click(page.get_by_role("link", name=MODES[mode]))
    assert client.path == f"/visits/{visit}/check-in/?mode={mode}", client.path
    page.get_by_label("Where are you right now?").fill("At home, 7 Quay Street, Bristol")
    page.get_by_label("A phone number to call you back").fill("+44 117 496 0123")
    page.get_by_label("Emergency contact").fill("Lee Park, brother, +44 117 496 0999")
    page.get_by_label("These details are right for this session").check()
    client.click(page.get_by_role("button", name="Continue to the waiting room"))
    assert client.path.startswith(f"/visits/{visit}/"), client.path
    expect(page.get_by_role("region", name="Waiting room")).to_contain_text(
        "Your therapist will let you in."
    )


def admit(therapist: Visitor, pair: Pair) -> None:
    page = therapist.page
    button = page.get_by_role("button", name=f"Admit {pair.client_name}")
    expect(button).to_be_enabled(timeout=15_000)
    button.click()


# The media a page is sending and receiving, from the current peer connection's getStats().
MEDIA_STATS = """async () => {
  const room = window.rapportRoom;
  const pc = room && room.pc();
  if (!pc) return null;
  const stats = new Map();
  (await pc.getStats()).forEach((s) => stats.set(s.id, s));
  const sum = (type, kind, field) => [...stats.values()]
    .filter((s) => s.type === type && s.kind === kind)
    .reduce((total, s) => total + (s[field] || 0), 0);
  let pair = null;
  for (const s of stats.values()) {
    if (s.type === "transport" && s.selectedCandidatePairId) {
      const p = stats.get(s.selectedCandidatePairId);
      pair = {local: stats.get(p.localCandidateId).candidateType,
              remote: stats.get(p.remoteCandidateId).candidateType};
    }
  }
  return {
    audioReceived: sum("inbound-rtp", "audio", "packetsReceived"),
    audioSent: sum("outbound-rtp", "audio", "packetsSent"),
    videoReceived: sum("inbound-rtp", "video", "packetsReceived"),
    framesDecoded: sum("inbound-rtp", "video", "framesDecoded"),
    framesEncoded: sum("outbound-rtp", "video", "framesEncoded"),
    videoSent: sum("outbound-rtp", "video", "packetsSent"),
    videoWidth: document.getElementById("remote-video").videoWidth,
    sendingVideo: pc.getSenders().some((s) => s.track && s.track.kind === "video"),
    sendingAudio: pc.getSenders().some((s) => s.track && s.track.kind === "audio"),
    transceivers: pc.getTransceivers().length,
    pair,
    iceState: pc.iceConnectionState,
  };
}"""

# Playwright's wait_for_function does not await a promise, so getStats() waits poll in the page.
FLOWING = """async ([field, above, timeout]) => {
  const deadline = performance.now() + timeout;
  for (;;) {
    const pc = window.rapportRoom && window.rapportRoom.pc();
    let total = 0;
    if (pc) (await pc.getStats()).forEach((s) => {
      if (s.type === field[0] && s.kind === field[1]) total += s[field[2]] || 0;
    });
    if (total > above) return true;
    if (performance.now() > deadline) return false;
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}"""


def media_stats(page: Page) -> dict[str, Any]:
    stats: dict[str, Any] | None = page.evaluate(MEDIA_STATS)
    assert stats is not None, "no peer connection on the page"
    return stats


def wait_for_stat(
    page: Page, field: tuple[str, str, str], above: float = 0, timeout: float = CALL_TIMEOUT_MS
) -> None:
    """Until the summed getStats() counter ``field`` = (type, kind, name) is over ``above``."""
    if not page.evaluate(FLOWING, [list(field), above, timeout]):
        raise AssertionError(f"{field} stayed at or below {above} for {timeout} ms")


AUDIO_IN = ("inbound-rtp", "audio", "packetsReceived")
VIDEO_FRAMES_IN = ("inbound-rtp", "video", "framesDecoded")


def wait_for_call(person: Visitor, *, video: bool = True, timeout: float = CALL_TIMEOUT_MS) -> None:
    """Until remote sound arrives and, for video, remote frames are decoded on the page."""
    page = person.page
    try:
        wait_for_stat(page, AUDIO_IN, timeout=timeout)
        if video:
            wait_for_stat(page, VIDEO_FRAMES_IN, timeout=timeout)
            page.wait_for_function(
                "() => document.getElementById('remote-video').videoWidth > 0", timeout=timeout
            )
    except (AssertionError, PlaywrightTimeoutError) as exc:
        raise AssertionError(f"{person.name}: no call media\n{diagnosis(person)}") from exc


def diagnose(*people: Visitor) -> str:
    return "\n".join(f"{p.name}:\n{diagnosis(p)}" for p in people)


def diagnosis(person: Visitor) -> str:
    """What the room knows, for a failure message."""
    page = person.page
    facts = page.evaluate(
        """() => {
          const room = window.rapportRoom;
          if (!room) return {room: null};
          const pc = room.pc();
          return {
            state: room.state(),
            received: room.received().slice(-40),
            signaling: pc && pc.signalingState,
            ice: pc && pc.iceConnectionState,
            connection: pc && pc.connectionState,
            status: document.getElementById("room-status").textContent,
            quality: [document.getElementById("quality-self")?.textContent,
                      document.getElementById("quality-peer")?.textContent],
            notices: document.getElementById("notices").textContent,
          };
        }"""
    )
    return f"  room: {facts}\n  console: {person.console[-40:]}"


def room_state(page: Page) -> dict[str, Any]:
    state: dict[str, Any] = page.evaluate("window.rapportRoom.state()")
    return state


def received(page: Page) -> list[str]:
    types: list[str] = page.evaluate("window.rapportRoom.received()")
    return types


def wait_until_not_sending(page: Page, kind: str = "") -> None:
    """Until the page's peer connection sends no track (of ``kind``, when given)."""
    page.wait_for_function(
        "kind => !window.rapportRoom.pc().getSenders()"
        ".some((s) => s.track && (!kind || s.track.kind === kind))",
        arg=kind,
    )


def wait_for_modality(page: Page, modality: str, timeout: float = CALL_TIMEOUT_MS) -> None:
    page.wait_for_function(
        "m => window.rapportRoom.modality() === m", arg=modality, timeout=timeout
    )


Rows = list[dict[str, str]]


def timeline_rows(
    therapist: Visitor,
    visit: str,
    until: Callable[[Rows], bool] | None = None,
    timeout: float = TIMELINE_WAIT_S,
) -> Rows:
    """The visit's timeline as the therapist sees it: one dict per row. With ``until``, read
    again until it holds of the rows or ``timeout`` seconds pass (the rows as they are then):
    the pages report their events over their sockets, so a page may have sent its last report
    a moment before the test reads the timeline and the server not yet stored it."""
    deadline = time.monotonic() + timeout
    while True:
        page = therapist.goto(f"/visits/{visit}/timeline/")
        rows: Rows = page.evaluate(
            """() => [...document.querySelectorAll('#timeline tbody tr')].map((tr) => ({
                kind: tr.dataset.kind, reason: tr.dataset.reason || '',
                what: tr.cells[1].innerText, details: tr.cells[3].innerText}))"""
        )
        if until is None or until(rows) or time.monotonic() > deadline:
            return rows
        time.sleep(0.25)


@dataclass
class Call:
    """Two people in one visit: the therapist in the room, the client admitted (or waiting)."""

    pair: Pair
    therapist: Visitor
    client: Visitor
    visit: str

    @property
    def room(self) -> str:
        return f"/visits/{self.visit}/"

    @property
    def people(self) -> tuple[Visitor, Visitor]:
        return self.therapist, self.client


def enter_call(
    make: Callable[..., Visitor],
    server: DemoServer,
    mode: str = "video",
    *,
    admitted: bool = True,
    before_admit: Callable[[Visitor], None] | None = None,
    **client_options: Any,
) -> Call:
    """A new pair in a new visit, through the real pages: the therapist starts the session and
    waits in the room, the client joins the waiting room and (unless ``admitted=False``) is let in.
    ``before_admit(client)`` runs in the waiting room, before any peer connection exists."""
    pair = new_pair(server)
    therapist = make("therapist")
    pair.let_in(therapist, pair.therapist)
    visit = start_session(therapist, pair, mode)
    client = make("client", **client_options)
    pair.let_in(client, pair.client)
    join_waiting_room(client, visit, mode)
    call = Call(pair, therapist, client, visit)
    if before_admit is not None:
        before_admit(client)
    if admitted:
        admit(therapist, pair)
    return call


READ_COUNTER = """async (field) => {
  const pc = window.rapportRoom.pc();
  let total = 0;
  if (pc) (await pc.getStats()).forEach((s) => {
    if (s.type === field[0] && s.kind === field[1]) total += s[field[2]] || 0;
  });
  return total;
}"""
AUDIO_OUT = ("outbound-rtp", "audio", "packetsSent")
VIDEO_FRAMES_OUT = ("outbound-rtp", "video", "framesEncoded")


def counter(page: Page, field: tuple[str, str, str]) -> float:
    """The current total of a getStats() counter, e.g. ``AUDIO_IN``."""
    total: float = page.evaluate(READ_COUNTER, list(field))
    return total


def growth(page: Page, field: tuple[str, str, str], ms: int = 1500) -> float:
    """How much a getStats() counter grows over ``ms`` milliseconds (0: nothing flows)."""
    first = counter(page, field)
    page.wait_for_timeout(ms)
    return counter(page, field) - first
