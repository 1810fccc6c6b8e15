"""Before a session: the tech check, the safety check-in and the therapist's "Waiting now" cue.

Chromium's fake devices stand in for a camera (a test pattern), a microphone (a beep) and
speakers. Each test gets its own therapist and client, so the tests share nothing but the server.
"""

from __future__ import annotations

import json
import re
import time

import pytest
from playwright.sync_api import Page, Playwright, Route, expect

from rapport.lib.turn import rest_credential
from tests.browser.browsing import SMALL_SCREEN, Visitor
from tests.browser.conftest import MakeVisitor, visitors_in
from tests.browser.media import launch_media, media_browser, media_visitor
from tests.browser.people import Pair, new_pair
from tests.browser.server import DemoServer
from tests.turn import TurnServer, turn

pytestmark = pytest.mark.browser
__all__ = ["media_browser", "media_visitor", "turn"]  # fixtures used by the tests below

MODES = {
    "video": "Continue with video",
    "audio": "Continue without camera",
    "text": "Continue with text only",
}


def open_visit(server: DemoServer, pair: Pair) -> str:
    """Open a visit the way "Start a session" does; return its uid."""
    return server.shell(
        "from rapport.accounts.models import User\n"
        "from rapport.visits.services import start_unscheduled\n"
        f"t = User.objects.get(email={pair.therapist!r})\n"
        f"c = User.objects.get(email={pair.client!r})\n"
        "print(start_unscheduled(t, c).uid)\n"
    ).strip()


def end_visit(therapist: Visitor, visit: str) -> None:
    """End the visit over HTTP (the room's no-script form), so the server process itself
    publishes the news: without Redis, another process's events reach no socket."""
    request = therapist.context.request
    room = request.get(therapist.url(f"/visits/{visit}/"))
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', room.text())
    assert token, "no end-session form in the room"
    ended = request.post(
        therapist.url(f"/visits/{visit}/end/"),
        form={"csrfmiddlewaretoken": token.group(1)},
        headers={"Referer": room.url},
        max_redirects=0,
    )
    assert ended.status == 302, ended.status


def wait_for_checks(page: Page) -> None:
    """Until the devices are open and the round trip is measured."""
    expect(page.locator("#check-status")).not_to_contain_text("Asking", timeout=15_000)
    expect(page.locator("#rtt")).to_have_attribute("data-ms", re.compile(r"^\d+$"))


def check_url(visit: str) -> str:
    return f"/visits/{visit}/check/"


def checkin_url(visit: str, mode: str) -> str:
    return f"/visits/{visit}/check-in/?mode={mode}"


def enter_room(client: Visitor, visit: str, mode: str) -> None:
    """Send the check-in; the room opens in the mode chosen on the tech check."""
    page = client.page
    room = client.url(f"/visits/{visit}/?mode={mode}")
    with page.expect_request(lambda request: request.url == room):
        client.click(page.get_by_role("button", name="Continue to the waiting room"))
    assert client.path.startswith(f"/visits/{visit}/"), client.path


def test_tech_check_shows_camera_sound_devices_and_connection(
    media_visitor: MakeVisitor, server: DemoServer
) -> None:
    pair = new_pair(server)
    visit = open_visit(server, pair)
    client = media_visitor("client on a phone", viewport=SMALL_SCREEN, is_mobile=True)
    page = client.page
    pair.let_in(client, pair.client)

    # The open session is on the client's home page; joining starts with the tech check.
    opened = page.get_by_role("region", name="Your session is open")
    expect(opened).to_contain_text(f"Your session with {pair.therapist_name}")
    client.click(opened.get_by_role("link", name="Join the session"))
    assert client.path == check_url(visit)
    wait_for_checks(page)
    client.assert_fits()
    expect(page.locator("#check-status")).to_contain_text("Your camera and microphone are on")
    expect(page.locator("#fix")).to_be_hidden()

    # The camera picture plays; the level meter moves with the fake microphone's beeps.
    page.wait_for_function("() => document.getElementById('preview').videoWidth > 0")
    expect(page.locator("#camera-status")).to_contain_text(
        re.compile(r"Camera on: .+ \(\d+ . \d+\)")
    )
    page.wait_for_function("() => document.getElementById('mic-level').value > 10", timeout=10_000)
    expect(page.locator("#mic-level-text")).to_contain_text("Sound heard")

    # The device pickers list the fake devices; a choice is kept for the room.
    cameras = page.get_by_label("Camera to use")
    microphones = page.get_by_label("Microphone to use")
    speakers = page.get_by_label("Speaker to use")
    expect(cameras.locator("option")).to_contain_text(["fake_device_0"])
    expect(microphones.locator("option", has_text="Fake Audio Input 1")).to_have_count(1)
    expect(speakers.locator("option", has_text="Fake Audio Output 1")).to_have_count(1)
    microphones.select_option(label="Fake Audio Input 1")
    expect(page.locator("#check-status")).to_contain_text(
        "Microphone changed to Fake Audio Input 1"
    )
    speakers.select_option(label="Fake Audio Output 1")
    expect(page.locator("#check-status")).to_contain_text("Speaker changed to Fake Audio Output 1")
    saved = json.loads(page.evaluate("localStorage.getItem('rapport.devices')"))
    assert saved["audioinput"] == microphones.input_value()
    assert saved["audiooutput"] == speakers.input_value()
    page.wait_for_function("() => document.getElementById('mic-level').value > 10", timeout=10_000)

    # The speaker test plays through the chosen speaker.
    page.get_by_role("button", name="Play a test sound").click()
    speaker_status = page.locator("#speaker-status")
    expect(speaker_status).to_contain_text("Playing a test sound on Fake Audio Output 1")
    expect(speaker_status).to_contain_text("Did you hear two soft notes?")

    # What the browser can do, the round trip and the relay (none in the demo practice).
    capabilities = page.locator("#capabilities li")
    expect(capabilities).to_have_count(5)
    for item in capabilities.all():
        expect(item).to_contain_text("✓ works")
    rtt = page.locator("#rtt")
    expect(rtt).to_have_text(re.compile(r"^\d+ ms \((good|fair|slow)"))
    assert int(rtt.get_attribute("data-ms") or "-1") >= 0
    expect(page.locator("#relay")).to_have_text("not used by this practice")
    client.audit()  # again, with every answer on the page
    client.assert_fits()

    # The choice of the pickers survives a reload.
    client.goto(check_url(visit))
    wait_for_checks(page)
    expect(microphones).to_have_value(saved["audioinput"])
    expect(speakers).to_have_value(saved["audiooutput"])

    # Leaving stops the camera and microphone (the test keeps the page to look).
    stopped = page.evaluate(
        """() => {
          const tracks = document.getElementById('preview').srcObject.getTracks();
          document.addEventListener('click', (event) => event.preventDefault(), {once: true});
          document.getElementById('continue-video').click();
          return tracks.length > 0 && tracks.every((track) => track.readyState === 'ended');
        }"""
    )
    assert stopped, "the camera was still on after Continue"

    # Each continue choice goes on to the check-in with its mode, by keyboard too.
    for mode, name in MODES.items():
        client.goto(check_url(visit))
        link = page.get_by_role("link", name=name)
        link.focus()
        client.follow(lambda: page.keyboard.press("Enter"))
        assert client.path == checkin_url(visit, mode)


def test_blocked_camera_explains_how_to_allow_it_and_other_ways_work(
    request: pytest.FixtureRequest, playwright: Playwright, server: DemoServer
) -> None:
    pair = new_pair(server)
    visit = open_visit(server, pair)
    refusing = launch_media(playwright, allow=False)
    try:
        with visitors_in(request, refusing, server) as make:
            client = make("client who said no")
            page = client.page
            pair.let_in(client, pair.client)
            client.goto(check_url(visit))
            fix = page.get_by_role(
                "region", name="Your browser is blocking the camera and microphone"
            )
            expect(fix).to_be_visible(timeout=15_000)
            expect(page.get_by_role("heading", name="Your browser is blocking")).to_be_focused()
            # This is Chrome: its steps come first, the others are one click away.
            expect(fix.locator("#fix-mine")).to_contain_text("Chrome or Edge on a computer")
            others = fix.locator("details")
            expect(others.get_by_text("Safari on an iPhone or iPad")).to_be_hidden()
            others.locator("summary").click()
            for name in (
                "Firefox",
                "Safari on a Mac",
                "Safari on an iPhone or iPad",
                "Chrome on an Android",
            ):
                expect(others.get_by_role("heading", name=name)).to_be_visible()
            expect(page.locator("#check-status")).to_contain_text("continue with text only")
            client.audit()  # the page with its instructions open
            for mode in ("audio", "text"):
                client.goto(check_url(visit))
                expect(fix).to_be_visible(timeout=15_000)
                client.click(page.get_by_role("link", name=MODES[mode]))
                assert client.path == checkin_url(visit, mode)
    finally:
        refusing.close()


def test_no_camera_or_microphone_says_so(visitor: MakeVisitor, server: DemoServer) -> None:
    pair = new_pair(server)
    visit = open_visit(server, pair)
    client = visitor("client without devices")  # the plain browser has no devices at all
    page = client.page
    pair.let_in(client, pair.client)
    client.goto(check_url(visit))
    fix = page.get_by_role("region", name="No camera or microphone found")
    expect(fix).to_be_visible(timeout=15_000)
    expect(fix).to_contain_text("Check they are plugged in")
    expect(page.get_by_label("Camera to use")).to_be_disabled()
    expect(page.locator("#mic-level-text")).to_have_text("No microphone.")
    client.click(page.get_by_role("link", name=MODES["text"]))
    assert client.path == checkin_url(visit, "text")


def test_relay_check_reports_a_working_and_a_dead_turn_server(
    media_visitor: MakeVisitor, server: DemoServer, turn: TurnServer
) -> None:
    pair = new_pair(server)
    visit = open_visit(server, pair)
    username = f"{int(time.time()) + 600}:tech-check"
    servers: list[dict[str, object]] = []

    def with_relay(route: Route) -> None:
        # The demo server has no TURN settings: hand the page this test's coturn instead.
        response = route.fetch()
        body = response.text()
        found = re.search(
            r'(<script id="visit-config" type="application/json">)(.*?)(</script>)', body, re.S
        )
        assert found, "no visit-config on the tech check"
        config = json.loads(found.group(2))
        config["ice_servers"] = servers
        body = body.replace(found.group(0), found.group(1) + json.dumps(config) + found.group(3))
        route.fulfill(response=response, body=body)

    client = media_visitor("client")
    page = client.page
    pair.let_in(client, pair.client)
    page.route(f"**{check_url(visit)}", with_relay)
    credential = rest_credential(turn.secret, username)
    servers[:] = [{"urls": turn.urls, "username": username, "credential": credential}]
    client.goto(check_url(visit))
    expect(page.locator("#relay")).to_have_attribute("data-state", "reachable", timeout=10_000)
    expect(page.locator("#relay")).to_contain_text("reachable: calls can connect")

    servers[:] = [{"urls": turn.urls, "username": username, "credential": "wrong"}]
    client.goto(check_url(visit))
    expect(page.locator("#relay")).to_have_attribute("data-state", "unreachable", timeout=10_000)
    expect(page.locator("#relay")).to_contain_text("not reachable")


def test_check_in_then_the_therapist_sees_the_client_waiting_live(
    media_visitor: MakeVisitor, server: DemoServer
) -> None:
    pair = new_pair(server)

    # The therapist starts the session from the client's record, then waits on the home page.
    therapist = media_visitor("therapist")
    tpage = therapist.page
    pair.let_in(therapist, pair.therapist)
    therapist.goto(f"/clients/{pair.client_id}/")
    therapist.click(tpage.get_by_role("button", name="Start a session"))
    found = re.fullmatch(r"/visits/([0-9a-f-]{36})/check/", therapist.path)
    assert found, therapist.path
    visit = found.group(1)
    wait_for_checks(tpage)
    expect(tpage.get_by_role("link", name=MODES["video"])).to_have_attribute(
        "href", f"/visits/{visit}/?mode=video"
    )
    therapist.goto("/")
    waiting = tpage.get_by_role("region", name="Waiting now")
    expect(waiting).to_contain_text("Nobody is waiting.")
    tpage.locator("body").click()  # a gesture: the chime may play from now on

    # The client checks in: a first try with gaps keeps what was typed and says what is missing.
    client = media_visitor(
        "client", geolocation={"latitude": 51.5074, "longitude": -0.1278, "accuracy": 20}
    )
    client.context.grant_permissions(["geolocation"])
    page = client.page
    pair.let_in(client, pair.client)
    client.goto(checkin_url(visit, "audio"))
    expect(page.get_by_role("heading", name="If you need help right now")).to_be_visible()
    expect(page.get_by_role("region", name="If you need help right now")).to_contain_text("988")
    page.get_by_label("A phone number to call you back").fill("+44 20 7946 0018")
    page.get_by_label("Emergency contact").fill("")
    client.click(page.get_by_role("button", name="Continue to the waiting room"))
    summary = page.get_by_role("alert").filter(has_text="Please check these details")
    expect(summary).to_be_visible()
    expect(summary).to_be_focused()
    expect(summary.get_by_role("link")).to_have_count(3)  # location, emergency contact, confirm
    expect(summary.get_by_role("link", name=re.compile("Where are you right now"))).to_be_visible()
    expect(page.get_by_label("A phone number to call you back")).to_have_value("+44 20 7946 0018")
    summary.get_by_role("link", name=re.compile("Emergency contact")).click()
    expect(page.get_by_label("Emergency contact")).to_be_focused()

    page.get_by_label("Where are you right now?").fill("At home, 4 Canal Walk, London")
    page.get_by_label("Emergency contact").fill("Sam Lee, sister, +44 20 7946 0999")
    page.get_by_label("Also share my position").check()
    expect(page.locator("#geolocation-note")).to_contain_text(
        "Your position will be shared: 51.50740,-0.12780 ±20 m"
    )
    page.get_by_label("These details are right for this session").check()
    enter_room(client, visit, "audio")

    # The therapist's home page shows the waiting client without a reload.
    entry = waiting.get_by_role("link", name=pair.client_name)
    try:
        expect(entry).to_be_visible(timeout=15_000)
    except AssertionError as exc:
        raise AssertionError(
            f"{exc}\ntherapist console: {therapist.console[-10:]}\n"
            f"client console: {client.console[-10:]}\nserver log:\n{server.log_tail(20)}"
        ) from exc
    expect(entry).to_have_attribute("href", f"/visits/{visit}/")
    expect(tpage.locator("#waiting-status")).to_have_text(
        f"{pair.client_name} is waiting in the room."
    )
    expect(tpage).to_have_title(re.compile(r"^\(1\) "))
    therapist.audit()

    stored = server.shell(
        "from rapport.visits.models import SafetyCheckIn\n"
        f"c = SafetyCheckIn.objects.get(visit__uid={visit!r})\n"
        "print(c.location, '|', c.callback_phone, '|', c.geolocation)\n"
    ).strip()
    assert stored == "At home, 4 Canal Walk, London | +44 20 7946 0018 | 51.50740,-0.12780 ±20 m"

    # The session ends: the entry goes away. The next session's check-in starts filled in.
    end_visit(therapist, visit)
    expect(entry).to_have_count(0, timeout=15_000)
    expect(waiting).to_contain_text("Nobody is waiting.")
    next_visit = open_visit(server, pair)
    client.goto(checkin_url(next_visit, "video"))
    expect(page.get_by_text("We filled in what you told us last time")).to_be_visible()
    expect(page.get_by_label("Where are you right now?")).to_have_value(
        "At home, 4 Canal Walk, London"
    )
    expect(page.get_by_label("A phone number to call you back")).to_have_value("+44 20 7946 0018")
    expect(page.get_by_label("Emergency contact")).to_have_value(
        "Sam Lee, sister, +44 20 7946 0999"
    )
    expect(page.get_by_label("These details are right for this session")).not_to_be_checked()


def test_refused_position_leaves_it_empty_with_a_note(
    media_visitor: MakeVisitor, server: DemoServer
) -> None:
    pair = new_pair(server)
    visit = open_visit(server, pair)
    client = media_visitor(
        "client who keeps their position on a phone",
        geolocation={"latitude": 1.0, "longitude": 2.0},
        viewport=SMALL_SCREEN,
        is_mobile=True,
    )
    pair.let_in(client, pair.client)
    page = client.page
    client.goto(checkin_url(visit, "text"))
    page.get_by_label("Where are you right now?").fill("Office, 1 Bridge St")
    page.get_by_label("A phone number to call you back").fill("020 7946 0018")
    page.get_by_label("Emergency contact").fill("Ali Khan, partner, 020 7946 0111")
    page.get_by_label("Also share my position").check()
    expect(page.locator("#geolocation-note")).to_contain_text("Your position was not shared")
    client.assert_fits()
    page.get_by_label("These details are right for this session").check()
    enter_room(client, visit, "text")
    stored = server.shell(
        "from rapport.visits.models import SafetyCheckIn\n"
        f"print(repr(SafetyCheckIn.objects.get(visit__uid={visit!r}).geolocation))\n"
    ).strip()
    assert stored == "''"
