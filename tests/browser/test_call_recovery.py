"""A signaling step that fails mid-call: the person is told, and the call comes back by itself.

The client's room socket is relayed through the test (``route_web_socket``), which spoils one
session description on its way: the browser refuses it (``setRemoteDescription`` fails), as it
would refuse a description mangled by a proxy or sent out of turn. First the therapist's opening
offer reaches the client spoiled (the polite side's step fails); later, on a switch to audio only,
the client's answer reaches the therapist spoiled (the impolite side's step fails). Each time the
page that failed says so in its live region, and the call renegotiates until media flows again.
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from playwright.sync_api import WebSocketRoute, expect

from tests.browser.browsing import Visitor
from tests.browser.calls import (
    AUDIO_IN,
    admit,
    diagnose,
    enter_call,
    growth,
    wait_for_call,
    wait_for_modality,
    wait_until_not_sending,
)
from tests.browser.conftest import MakeVisitor
from tests.browser.media import media_browser, media_visitor
from tests.browser.server import DemoServer

pytestmark = pytest.mark.browser
__all__ = ["media_browser", "media_visitor"]  # fixtures used by the tests below

MALFORMED_SDP = "v=0\r\nthis is not a session description\r\n"
FAILED = "The call hit a connection problem. Reconnecting…"
RECOVERED = "The call is connected again."

STABLE_AND_CONNECTED = """() => {
  const pc = window.rapportRoom.pc();
  const connected = ["connected", "completed"].includes(pc.iceConnectionState);
  return pc.signalingState === "stable" && connected;
}"""

# Everything the page's notice region (role="status") has said, in order.
WATCH_NOTICES = """() => {
  window.seenNotices = [];
  const region = document.getElementById("notices");
  new MutationObserver(() => {
    const text = region.textContent.trim();
    if (text && window.seenNotices.at(-1) !== text) window.seenNotices.push(text);
  }).observe(region, {subtree: true, childList: true, characterData: true});
}"""


class SignalingTap:
    """Relays one person's room sockets; ``spoil(kind)`` mangles the next ``sdp`` of that kind
    ("offer": on its way to the page; "answer": on its way to the server)."""

    def __init__(self, person: Visitor) -> None:
        self.armed: set[str] = set()
        self.spoiled: list[str] = []
        person.context.route_web_socket(re.compile(r"/ws/visits/"), self._connect)

    def spoil(self, kind: str) -> None:
        self.armed.add(kind)

    def _connect(self, page_side: WebSocketRoute) -> None:
        server_side = page_side.connect_to_server()
        page_side.on_message(lambda frame: server_side.send(self._pass(frame, "answer")))
        server_side.on_message(lambda frame: page_side.send(self._pass(frame, "offer")))

    def _pass(self, frame: str | bytes, kind: str) -> str | bytes:
        if kind not in self.armed or not isinstance(frame, str):
            return frame
        message: dict[str, Any] = json.loads(frame)
        if message.get("type") != "sdp" or message["description"].get("type") != kind:
            return frame
        self.armed.discard(kind)
        self.spoiled.append(kind)
        message["description"]["sdp"] = MALFORMED_SDP
        return json.dumps(message)


def seen_notices(person: Visitor) -> list[str]:
    seen: list[str] = person.page.evaluate("window.seenNotices")
    return seen


def expect_recovered(person: Visitor, *, video: bool) -> None:
    """The person was told of the failure, then that the call is back; media flows and the
    connection is stable and connected."""
    page = person.page
    expect(page.get_by_role("status").filter(has_text=RECOVERED)).to_be_visible(timeout=30_000)
    assert seen_notices(person)[-2:] == [FAILED, RECOVERED], seen_notices(person)
    wait_for_call(person, video=video)
    page.wait_for_function(STABLE_AND_CONNECTED)


def test_a_failed_signaling_step_is_shown_and_the_call_recovers(
    media_visitor: MakeVisitor, server: DemoServer
) -> None:
    taps: dict[str, SignalingTap] = {}

    def make(name: str, **options: Any) -> Visitor:
        person = media_visitor(name, **options)
        if name == "client":  # before the room page opens its socket
            taps[name] = SignalingTap(person)
        return person

    call = enter_call(make, server, "video", admitted=False)
    therapist, client = call.people
    for person in call.people:
        person.page.evaluate(WATCH_NOTICES)

    # The therapist's first offer reaches the client spoiled: the client's browser refuses it.
    taps["client"].spoil("offer")
    admit(therapist, call.pair)
    try:
        expect_recovered(client, video=True)
        wait_for_call(therapist)
    except AssertionError as exc:
        raise AssertionError(diagnose(*call.people)) from exc
    assert taps["client"].spoiled == ["offer"]
    assert FAILED not in seen_notices(therapist), seen_notices(therapist)
    client.audit()  # the room with the notice on screen

    # On a switch to audio only, the client's answer reaches the therapist spoiled.
    taps["client"].spoil("answer")
    therapist.page.get_by_role("radio", name="Audio only").check()
    try:
        expect_recovered(therapist, video=False)
    except AssertionError as exc:
        raise AssertionError(diagnose(*call.people)) from exc
    assert taps["client"].spoiled == ["offer", "answer"]
    for person in call.people:
        wait_for_modality(person.page, "audio")
        wait_until_not_sending(person.page, "video")
        assert growth(person.page, AUDIO_IN) > 0, diagnose(person)
    therapist.audit()
