"""The call on screen: a full-screen frame on a 360x740 phone and a 1280x720 desktop.

One call serves every check: the client starts on a phone (touch, two cameras) and the therapist
on a desktop, then they swap sizes, in video, audio-only and text. In each: every control is
inside the viewport and at least 44x44 px, nothing scrolls sideways, the site menu is gone and
axe-core finds nothing. Then what a person does with it: the chat drawer over a playing video
(focus in and back out, Escape), the self-view moved by keyboard, click and drag, the other
camera, the screen kept awake, and a camera a phone took away while the page was hidden.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, Playwright, ViewportSize, expect

from tests.browser.browsing import SMALL_SCREEN, Visitor
from tests.browser.calls import (
    AUDIO_IN,
    VIDEO_FRAMES_IN,
    counter,
    diagnose,
    enter_call,
    growth,
    received,
    room_state,
    wait_for_call,
    wait_for_modality,
    wait_for_stat,
)
from tests.browser.conftest import CHROMIUM, MakeVisitor, visitors_in
from tests.browser.media import ALLOW_DEVICES, MEDIA_ARGS
from tests.browser.server import DemoServer

pytestmark = pytest.mark.browser

PHONE: ViewportSize = SMALL_SCREEN  # 360x740
DESKTOP: ViewportSize = {"width": 1280, "height": 720}
# Chromium's second fake camera sends 16-bit depth frames, which no encoder takes; the first
# and third are ordinary cameras.
CAMERAS = "--use-fake-device-for-media-stream=device-count=3"

# Every control a person can see in the call, where it is, and how the page scrolls.
LAYOUT = """() => {
  const seen = (el) => el.checkVisibility({visibilityProperty: true}) && el.getClientRects().length;
  const box = (el, name) => {
    const r = el.getBoundingClientRect();
    return {name, left: r.left, top: r.top, right: r.right, bottom: r.bottom,
            width: r.width, height: r.height};
  };
  const controls = [];
  for (const el of document.querySelectorAll(
      "#controls button, #controls label, #self-view, .drawer.open button, #chat button")) {
    if (seen(el)) controls.push(box(el, (el.id || "") + " " + el.textContent.trim().slice(0, 30)));
  }
  return {
    controls,
    width: innerWidth,
    height: innerHeight,
    scrollWidth: document.documentElement.scrollWidth,
    scrollHeight: document.documentElement.scrollHeight,
    video: box(document.getElementById("remote-video"), "remote video"),
  };
}"""


@pytest.fixture(scope="module")
def two_camera_browser(playwright: Playwright) -> Iterator[Browser]:
    """Fake media with more than one camera, so the phone has another to flip to."""
    launched = playwright.chromium.launch(
        executable_path=str(CHROMIUM), args=[*MEDIA_ARGS, CAMERAS, ALLOW_DEVICES]
    )
    yield launched
    launched.close()


@pytest.fixture
def two_camera_visitor(
    request: pytest.FixtureRequest, two_camera_browser: Browser, server: DemoServer
) -> Iterator[MakeVisitor]:
    with visitors_in(request, two_camera_browser, server) as make:
        yield make


def check_layout(person: Visitor, size: ViewportSize, expected: set[str]) -> dict[str, Any]:
    """Every visible control inside ``size`` and at least 44x44 px; no sideways scroll, no site
    menu, no axe violation. ``expected``: ids that must be among the visible controls."""
    page = person.page
    page.set_viewport_size(size)
    page.wait_for_function(
        "([w, h]) => innerWidth === w && innerHeight === h", arg=[size["width"], size["height"]]
    )
    page.evaluate("() => new Promise((done) => requestAnimationFrame(() => setTimeout(done)))")
    facts: dict[str, Any] = page.evaluate(LAYOUT)
    where = f"{person.name} at {size['width']}x{size['height']} ({room_state(page)['modality']})"
    for control in facts["controls"]:
        inside = (
            control["left"] >= 0
            and control["top"] >= 0
            and control["right"] <= size["width"]
            and control["bottom"] <= size["height"]
        )
        assert inside, f"{where}: {control} is outside the viewport"
        big = control["width"] >= 44 and control["height"] >= 44
        assert big, f"{where}: {control} is smaller than 44x44 px"
    ids = {c["name"].split(" ")[0] for c in facts["controls"]}
    assert expected <= ids, f"{where}: missing {expected - ids} in {facts['controls']}"
    assert facts["scrollWidth"] <= size["width"], f"{where}: scrolls sideways: {facts}"
    assert facts["scrollHeight"] <= size["height"], f"{where}: scrolls down: {facts}"
    expect(page.get_by_role("navigation", name="Main")).to_be_hidden()
    expect(page.get_by_role("heading", level=1)).to_be_visible()
    person.audit()
    return facts


def both_sizes(people: tuple[Visitor, Visitor], expected: dict[str, set[str]]) -> None:
    """The client on the phone and the therapist on the desktop, then the other way round."""
    therapist, client = people
    for client_size, therapist_size in ((PHONE, DESKTOP), (DESKTOP, PHONE)):
        check_layout(client, client_size, expected["client"])
        check_layout(therapist, therapist_size, expected["therapist"])


def more_frames(page: Page) -> None:
    """Until ten more remote video frames are decoded."""
    wait_for_stat(page, VIDEO_FRAMES_IN, above=counter(page, VIDEO_FRAMES_IN) + 10, timeout=10_000)


def video_visible(page: Page) -> None:
    """The remote picture is on screen, not covered at its centre, and moving."""
    hit = page.evaluate(
        """() => {
          const r = document.getElementById("remote-video").getBoundingClientRect();
          const at = document.elementFromPoint(r.left + r.width / 2, r.top + r.height / 2);
          return {id: at && at.id, height: r.height, width: r.width};
        }"""
    )
    assert hit["id"] == "remote-video" and hit["height"] >= 150, hit
    assert growth(page, VIDEO_FRAMES_IN, 1000) > 0


def test_the_call_fills_the_screen_on_a_phone_and_a_desktop(
    two_camera_visitor: MakeVisitor, server: DemoServer
) -> None:
    call = enter_call(
        two_camera_visitor, server, "video", viewport=PHONE, is_mobile=True, has_touch=True
    )
    therapist, client = call.people
    tpage, page = therapist.page, client.page
    tpage.set_viewport_size(DESKTOP)
    try:
        for person in call.people:
            wait_for_call(person)
    except AssertionError as exc:
        raise AssertionError(diagnose(*call.people)) from exc

    # Video: the phone has Flip camera and no Share screen; the desktop has Share screen.
    both_sizes(
        call.people,
        {
            "client": {"mute", "camera", "flip", "chat-toggle", "details-toggle", "leave"},
            "therapist": {"mute", "camera", "share", "chat-toggle", "details-toggle", "end"},
        },
    )
    # The size where the controls used to be cut off at the bottom edge.
    check_layout(therapist, {"width": 1280, "height": 800}, {"mute", "share", "end"})
    for person in call.people:
        assert room_state(person.page)["immersive"], room_state(person.page)
        assert room_state(person.page)["awake"], "no screen wake lock during the call"
    page.set_viewport_size(PHONE)
    tpage.set_viewport_size(DESKTOP)

    # The chat drawer on the phone: the video stays in view and plays while the client types.
    chat_button = page.get_by_role("button", name="Chat", exact=True)
    chat_button.click()
    expect(chat_button).to_have_attribute("aria-expanded", "true")
    expect(page.get_by_label("Message", exact=True)).to_be_focused()
    video_visible(page)
    check_layout(client, PHONE, {"mute", "leave", "chat-toggle"})
    page.get_by_label("Message", exact=True).fill("Can you hear me well?")
    page.get_by_label("Message", exact=True).press("Enter")
    # The therapist's chat is closed: the message is counted on the Chat button.
    unread = tpage.locator("#chat-toggle .unread")
    expect(unread).to_be_visible()
    expect(tpage.locator("#chat-toggle")).to_have_accessible_name("Chat new messages: 1")
    tpage.locator("#chat-toggle").click()
    expect(tpage.get_by_role("log", name="Chat")).to_contain_text("Can you hear me well?")
    expect(unread).to_be_hidden()
    video_visible(tpage)  # beside the drawer on the desktop
    tpage.keyboard.press("Escape")
    expect(tpage.locator("#chat-toggle")).to_be_focused()
    expect(tpage.get_by_role("log", name="Chat")).to_be_hidden()
    page.keyboard.press("Escape")
    expect(chat_button).to_be_focused()
    expect(chat_button).to_have_attribute("aria-expanded", "false")

    # The self-view moves: Enter (next corner clockwise), arrow keys, and a drag.
    self_view = tpage.locator("#self-view")
    expect(self_view).to_have_class("self-view corner-top-right")
    self_view.focus()
    tpage.keyboard.press("Enter")
    expect(self_view).to_have_class("self-view corner-bottom-right")
    expect(self_view).to_have_accessible_name("Your own video, in the corner: bottom right")
    tpage.keyboard.press("ArrowLeft")
    expect(self_view).to_have_class("self-view corner-bottom-left")
    box = self_view.bounding_box()
    assert box is not None
    tpage.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    tpage.mouse.down()
    tpage.mouse.move(DESKTOP["width"] - 200, 200, steps=5)
    tpage.mouse.up()
    expect(self_view).to_have_class("self-view corner-top-right")

    # The client picks a camera in the details drawer, then flips to the next one: each time
    # the sender's track is replaced and frames keep coming, with no renegotiation.
    offers = received(tpage).count("sdp")
    sending = "() => window.rapportRoom.pc().getSenders().find((s) => s.track?.kind === 'video')"
    assert page.evaluate(f"({sending})().track.label") == "fake_device_0"
    page.get_by_role("button", name="More").click()
    page.get_by_text("Camera, microphone and speaker").click()
    page.get_by_label("Camera", exact=True).select_option(label="fake_device_2")
    page.wait_for_function(f"() => ({sending})().track.label === 'fake_device_2'")
    more_frames(tpage)
    page.keyboard.press("Escape")
    page.get_by_role("button", name="Flip camera").click()
    page.wait_for_function(f"() => ({sending})().track.label === 'fake_device_0'")
    more_frames(tpage)
    assert received(tpage).count("sdp") == offers

    # The phone took the camera away while the page was hidden; back in front, the page opens it
    # again and sends it in the same transceiver, as a reload would, without rebuilding the call.
    ready = page.evaluate("window.rapportRoom.timings().ready")
    page.evaluate("document.getElementById('self-video').srcObject.getVideoTracks()[0].stop()")
    page.evaluate("document.dispatchEvent(new Event('visibilitychange'))")
    page.wait_for_function(f"() => ({sending})().track.readyState === 'live'")
    more_frames(tpage)
    assert page.evaluate("window.rapportRoom.timings().ready") == ready
    assert room_state(page)["awake"]

    # Audio only: the whole screen for the call, no picture, the same controls within reach.
    tpage.get_by_role("radio", name="Audio only").check()
    for person in call.people:
        wait_for_modality(person.page, "audio")
        expect(person.page.locator("#remote-video")).to_be_hidden()
        expect(person.page.locator("#remote-overlay")).to_be_visible()
    both_sizes(
        call.people,
        {
            "client": {"mute", "chat-toggle", "details-toggle", "leave"},
            "therapist": {"mute", "chat-toggle", "details-toggle", "end"},
        },
    )
    assert growth(page, AUDIO_IN) > 0

    # Text only: the chat is the screen (no Chat button to open it), the rest still in reach.
    page.get_by_role("radio", name="Text only").check()
    for person in call.people:
        wait_for_modality(person.page, "text")
        expect(person.page.get_by_label("Message", exact=True)).to_be_visible()
        expect(person.page.locator("#chat-toggle")).to_be_hidden()
    both_sizes(
        call.people,
        {"client": {"details-toggle", "leave"}, "therapist": {"details-toggle", "end"}},
    )
    # The details drawer: the connection and the therapist's safety check-in, Escape closes it.
    details = tpage.get_by_role("button", name="More")
    details.click()
    expect(tpage.get_by_role("region", name="Safety check-in")).to_contain_text("Quay Street")
    expect(tpage.get_by_role("heading", name="Session details")).to_be_focused()
    tpage.keyboard.press("Escape")
    expect(details).to_be_focused()
    expect(tpage.get_by_role("region", name="Safety check-in")).to_be_hidden()

    # The one way out: Leave. The site menu is back with the page that says so.
    page.get_by_role("button", name="Leave").click()
    expect(page.get_by_role("region", name="You left the session")).to_be_visible()
    expect(page.get_by_role("navigation", name="Main")).to_be_visible()
    assert not room_state(page)["awake"]
