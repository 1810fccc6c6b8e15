"""Real calls between two Chromiums with fake cameras and microphones, through the session room.

Each test makes its own therapist and client (``new_pair``), so tests share only the server. What
is asserted is what the people see, and the media behind it: getStats() counters of the peer
connection each page holds (``window.rapportRoom.pc()``). Every page load is audited by axe-core,
and so is the room once the call is up.
"""

from __future__ import annotations

import os
import re
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, expect

from tests.browser.browsing import SMALL_SCREEN, Visitor
from tests.browser.calls import (
    AUDIO_IN,
    AUDIO_OUT,
    VIDEO_FRAMES_IN,
    VIDEO_FRAMES_OUT,
    counter,
    diagnose,
    enter_call,
    growth,
    media_stats,
    received,
    room_state,
    timeline_rows,
    wait_for_call,
    wait_for_modality,
    wait_for_stat,
    wait_until_not_sending,
)
from tests.browser.conftest import MakeVisitor, visitors_in
from tests.browser.media import media_browser, media_visitor
from tests.browser.server import DemoServer, ServerError, demo_server
from tests.turn import TurnServer, turn

pytestmark = pytest.mark.browser
__all__ = ["media_browser", "media_visitor", "turn"]  # fixtures used by the tests below


def wait_for_both(*people: Visitor, video: bool = True) -> None:
    try:
        for person in people:
            wait_for_call(person, video=video)
    except AssertionError as exc:
        raise AssertionError(diagnose(*people)) from exc


def test_video_call_through_the_waiting_room(
    media_visitor: MakeVisitor, server: DemoServer
) -> None:
    call = enter_call(
        media_visitor, server, "video", admitted=False, viewport=SMALL_SCREEN, is_mobile=True
    )
    therapist, client = call.people
    tpage, page = therapist.page, client.page

    # The therapist sees the client waiting, with their safety check-in, and lets them in.
    lobby = tpage.get_by_role("region", name="Waiting room")
    expect(lobby).to_contain_text(f"{call.pair.client_name} is in the waiting room.")
    expect(tpage).to_have_title(re.compile(rf"^\({call.pair.client_name} is waiting\)"))
    safety = tpage.get_by_role("region", name="Safety check-in")
    expect(safety).to_contain_text("At home, 7 Quay Street, Bristol")
    expect(safety).to_contain_text("+44 117 496 0123")
    expect(safety).to_contain_text("Lee Park, brother")
    expect(safety).to_contain_text("988")  # the practice's crisis resources
    client.assert_fits()
    tpage.get_by_role("button", name=f"Admit {call.pair.client_name}").click()

    wait_for_both(therapist, client)
    for person in call.people:
        stats = media_stats(person.page)
        assert stats["framesDecoded"] > 0 and stats["audioReceived"] > 0, stats
        assert stats["sendingVideo"] and stats["sendingAudio"], stats
        expect(person.page.locator("#path")).to_have_text("Encrypted, peer to peer")
        assert room_state(person.page)["path"] == "direct"
        assert "relay" not in media_stats(person.page)["pair"].values()
        person.audit()  # the room with the call on screen
    expect(page.get_by_role("status").first).to_contain_text(
        f"You are in the session with {call.pair.therapist_name}."
    )
    expect(page.get_by_role("region", name="Waiting room")).to_be_hidden()
    expect(tpage).not_to_have_title(re.compile("is waiting"))
    client.assert_fits()
    # Both see each other's connection quality once samples have gone both ways.
    for person in call.people:
        expect(person.page.locator("#quality-peer")).to_have_text(
            re.compile(r"^(good|fair|poor)"), timeout=10_000
        )

    # The client picks another microphone mid-call: the track is replaced, no renegotiation.
    offers = received(tpage).count("sdp")
    page.get_by_role("button", name="More").click()
    page.get_by_text("Camera, microphone and speaker").click()
    page.get_by_label("Microphone", exact=True).select_option(label="Fake Audio Input 2")
    page.wait_for_function(
        "() => window.rapportRoom.pc().getSenders()"
        ".some((s) => s.track && s.track.label === 'Fake Audio Input 2')"
    )
    page.get_by_label("Speaker", exact=True).select_option(label="Fake Audio Output 1")
    expect(page.locator("#remote-audio")).to_have_js_property(
        "sinkId", page.get_by_label("Speaker", exact=True).input_value()
    )
    assert growth(tpage, AUDIO_IN) > 0
    assert received(tpage).count("sdp") == offers

    # The therapist shares their screen in place of the camera, then stops.
    share = tpage.get_by_role("button", name="Share screen")
    share.click()
    expect(share).to_have_attribute("aria-pressed", "true")
    tpage.wait_for_function(
        "() => window.rapportRoom.pc().getSenders()"
        ".some((s) => s.track && s.track.label.startsWith('screen:'))"
    )
    sharing = page.get_by_text(f"{call.pair.therapist_name} is sharing their screen.")
    expect(sharing).to_be_visible()
    assert growth(page, VIDEO_FRAMES_IN) > 0
    share.click()
    expect(share).to_have_attribute("aria-pressed", "false")
    expect(sharing).to_be_hidden()
    tpage.wait_for_function(
        "() => window.rapportRoom.pc().getSenders()"
        ".some((s) => s.track && s.track.label === 'fake_device_0')"
    )

    # The therapist ends the session: both see it has ended, with a way home.
    tpage.get_by_role("button", name="End session").click()
    tpage.get_by_role("button", name="Yes, end the session").click()
    for person in call.people:
        ended = person.page.get_by_role("region", name="The session has ended")
        expect(ended).to_be_visible()
        expect(ended.get_by_role("link", name="Back to the start page")).to_be_visible()
        assert room_state(person.page)["ended"], room_state(person.page)
        assert person.page.evaluate("window.rapportRoom.pc()") is None
    client.goto(call.room, status=410)
    expect(page.get_by_role("heading", level=1)).to_have_text("This session has ended")


def test_audio_only_call(media_visitor: MakeVisitor, server: DemoServer) -> None:
    call = enter_call(media_visitor, server, "audio")
    wait_for_both(*call.people, video=False)
    print(diagnose(*call.people))
    for person in call.people:
        page = person.page
        stats = media_stats(page)
        assert stats["audioReceived"] > 0 and stats["audioSent"] > 0, stats
        assert not stats["sendingVideo"], stats
        assert stats["videoSent"] == 0 and stats["framesDecoded"] == 0, stats
        expect(page.locator("#remote-video")).to_be_hidden()
        expect(page.locator("#remote-overlay")).to_contain_text("Audio only with")
        expect(page.get_by_role("button", name="Camera off")).to_be_disabled()
        expect(page.get_by_role("radio", name="Audio only")).to_be_checked()
        # No camera was opened at all.
        assert page.evaluate("document.getElementById('self-video').srcObject") is None
        person.audit()


def test_text_only_session(media_visitor: MakeVisitor, server: DemoServer) -> None:
    call = enter_call(media_visitor, server, "text")
    therapist, client = call.people
    tpage, page = therapist.page, client.page
    chat, tchat = page.get_by_role("log", name="Chat"), tpage.get_by_role("log", name="Chat")

    tpage.get_by_label("Message", exact=True).fill("Hello, how has your week been?")
    tpage.get_by_role("button", name="Send", exact=True).click()
    expect(chat).to_contain_text("Hello, how has your week been?")
    expect(chat).to_contain_text(call.pair.therapist_name)
    page.get_by_label("Message", exact=True).fill("Busy, but better.\nThanks for asking.")
    page.get_by_label("Message", exact=True).press("Enter")  # Enter sends
    expect(tchat).to_contain_text("Busy, but better.")
    expect(chat.locator(".pending")).to_have_count(0)  # acknowledged: no longer "sending…"
    expect(tchat.locator(".pending")).to_have_count(0)

    for person in call.people:
        expect(person.page.locator("#path")).to_have_text("Encrypted, text through the practice")
        assert room_state(person.page)["modality"] == "text"
        transceivers = person.page.evaluate(
            "() => window.rapportRoom.pc()?.getTransceivers().length ?? 0"
        )
        assert not transceivers, transceivers  # no peer connection media at all
        person.audit()

    # The conversation is kept: after a reload the history is there, in order.
    client.goto(call.room)
    expect(chat.locator("li")).to_have_count(2)
    expect(chat.locator("li").first).to_contain_text("Hello, how has your week been?")
    expect(chat.locator("li").last).to_contain_text("Thanks for asking.")
    stored = server.shell(
        "from rapport.messaging.models import Message\n"
        "from rapport.visits.models import Visit\n"
        f"v = Visit.objects.get(uid={call.visit!r})\n"
        "print(Message.objects.filter(conversation__relationship=v.relationship).count())\n"
    )
    assert int(stored) == 2
    # Each saw the other's lines live in the room: in Messages afterwards, nothing is unread.
    for person in call.people:
        page = person.goto("/messages/")
        navigation = page.get_by_role("navigation", name="Main")
        messages = navigation.get_by_role("link", name=re.compile(r"^Messages"))
        expect(messages).to_have_accessible_name("Messages")
        expect(page.locator("#inbox .unread-count")).to_be_hidden()


def test_switching_video_audio_text_and_back_mid_session(
    media_visitor: MakeVisitor, server: DemoServer
) -> None:
    call = enter_call(media_visitor, server, "video")
    therapist, client = call.people
    tpage, page = therapist.page, client.page
    wait_for_both(therapist, client)

    # The therapist switches to audio: the cameras go off, sound keeps flowing.
    tpage.get_by_role("radio", name="Audio only").check()
    for person in call.people:
        wait_for_modality(person.page, "audio")
        expect(person.page.locator("#remote-video")).to_be_hidden()
    expect(page.get_by_role("status").filter(has_text="Switched to audio only")).to_contain_text(
        f"{call.pair.therapist_name} chose this."
    )
    for person in call.people:
        wait_until_not_sending(person.page, "video")
        assert growth(person.page, VIDEO_FRAMES_OUT) == 0
        assert growth(person.page, AUDIO_IN) > 0

    # The client switches to text: nothing flows, the chat carries on.
    page.get_by_role("radio", name="Text only").check()
    for person in call.people:
        wait_for_modality(person.page, "text")
        wait_until_not_sending(person.page)
        assert growth(person.page, AUDIO_OUT) == 0
    page.get_by_label("Message", exact=True).fill("Typing is easier right now.")
    page.get_by_role("button", name="Send", exact=True).click()
    expect(tpage.get_by_role("log", name="Chat")).to_contain_text("Typing is easier right now.")

    # Back to video: frames flow again both ways.
    frames = {p.name: counter(p.page, VIDEO_FRAMES_IN) for p in call.people}
    tpage.get_by_role("radio", name="Video").check()
    for person in call.people:
        wait_for_modality(person.page, "video")
        wait_for_stat(person.page, VIDEO_FRAMES_IN, above=frames[person.name] + 10)
        wait_for_stat(person.page, AUDIO_IN, above=counter(person.page, AUDIO_IN))
        expect(person.page.locator("#remote-video")).to_be_visible()
    therapist.audit()

    switches = [r for r in timeline_rows(therapist, call.visit) if r["kind"] == "modality"]
    assert [(r["what"], r["reason"]) for r in switches] == [
        ("Modality switched: Audio only", "user"),
        ("Modality switched: Live text", "user"),
        ("Modality switched: Video", "user"),
    ], switches


def test_the_waiting_room_cannot_be_skipped(media_visitor: MakeVisitor, server: DemoServer) -> None:
    # The client arrives first: the therapist has started the session but is not in the room.
    call = enter_call(media_visitor, server, "video", admitted=False)
    therapist, client = call.people
    page = client.page
    therapist.goto("/")
    client.goto(call.room)
    client.goto(call.room)  # reloading does not let anyone in either
    waiting = page.get_by_role("region", name="Waiting room")
    expect(waiting).to_contain_text("Your therapist will let you in.")
    expect(page.locator("#call")).to_be_hidden()
    expect(page.get_by_role("log", name="Chat")).to_be_hidden()

    # The therapist comes back to the room; the client still waits until let in.
    therapist.goto(call.room)
    tpage = therapist.page
    expect(tpage.get_by_role("button", name=f"Admit {call.pair.client_name}")).to_be_visible()
    tpage.get_by_label("Message to the waiting room").fill("Two minutes, thank you for waiting.")
    tpage.get_by_role("button", name="Send to the waiting room").click()
    expect(waiting).to_contain_text("Two minutes, thank you for waiting.")
    client.goto(call.room)
    expect(waiting).to_contain_text("Your therapist will let you in.")
    expect(tpage.get_by_role("button", name=f"Admit {call.pair.client_name}")).to_be_visible()
    state = room_state(page)
    assert state["you"] == "waiting", state
    assert "ready" not in received(page) and "admitted" not in received(page), received(page)
    assert page.evaluate("window.rapportRoom.pc()") is None
    admitted = server.shell(
        "from rapport.visits.models import Visit\n"
        f"print(Visit.objects.get(uid={call.visit!r}).client_admitted_at)\n"
    ).strip()
    assert admitted == "None"

    tpage.get_by_role("button", name=f"Admit {call.pair.client_name}").click()
    expect(waiting).to_be_hidden()
    wait_for_both(therapist, client)


def test_a_poor_connection_steps_down_to_audio_by_itself(
    media_visitor: MakeVisitor, server: DemoServer
) -> None:
    def poor_network(client: Visitor) -> None:
        # Before any peer connection exists: Chromium applies this only to new connections.
        cdp = client.context.new_cdp_session(client.page)
        cdp.send("Network.enable")
        cdp.send(
            "Network.emulateNetworkConditions",
            {
                "offline": False,
                "latency": 150,
                "downloadThroughput": -1,
                "uploadThroughput": -1,
                "packetLoss": 15,
            },
        )

    call = enter_call(media_visitor, server, "video", before_admit=poor_network)
    therapist, client = call.people
    wait_for_both(therapist, client, video=False)
    for person in call.people:
        wait_for_modality(person.page, "audio", timeout=60_000)
    for person in call.people:
        page = person.page
        assert room_state(page)["lowered"], "video was not lowered before the switch"
        notice = page.get_by_role("status").filter(has_text="Switched to audio only")
        expect(notice).to_contain_text("The connection is too weak for more")
        expect(page.get_by_role("radio", name="Audio only")).to_be_checked()
        wait_until_not_sending(person.page, "video")
    assert growth(client.page, AUDIO_IN, 2000) > 0  # the session goes on with sound

    rows = timeline_rows(therapist, call.visit)
    forced = [r for r in rows if r["kind"] == "modality" and r["reason"] == "connection"]
    assert forced, rows
    assert forced[0]["what"] == "Modality switched: Audio only", forced
    assert re.search(r"(loss \d+ %|round trip \d+ ms) for \d+ s", forced[0]["details"]), forced
    assert any(r["kind"] == "quality_poor" for r in rows), rows


# Records every text the room's status line and the picture's overlay show from now on.
WATCH_STATUS = """() => {
  window.seenStatus = [];
  const record = () => {
    for (const id of ["room-status", "remote-overlay"]) {
      const text = document.getElementById(id).textContent;
      if (!window.seenStatus.includes(text)) window.seenStatus.push(text);
    }
  };
  new MutationObserver(record).observe(document.getElementById("room"),
    {subtree: true, childList: true, characterData: true});
}"""


def test_a_reloaded_page_rejoins_the_same_call(
    media_visitor: MakeVisitor, server: DemoServer
) -> None:
    call = enter_call(media_visitor, server, "video")
    therapist, client = call.people
    wait_for_both(therapist, client)
    before = {p.name: p.page.evaluate("window.rapportRoom.timings().ready") for p in call.people}

    for reloading in (client, therapist):
        other = therapist if reloading is client else client
        other.page.evaluate(WATCH_STATUS)
        started = time.monotonic()
        reloading.goto(call.room)
        wait_for_both(therapist, client)
        took = time.monotonic() - started
        assert took < 10, f"{reloading.name}'s reload took {took:.1f} s to bring the call back"
        for person in call.people:
            ready = person.page.evaluate("window.rapportRoom.timings().ready")
            assert ready != before[person.name], "no new peer connection"
            before[person.name] = ready
            assert room_state(person.page)["you"] == "admitted"
            assert "ended" not in received(person.page)
            assert client.path.startswith(call.room)
        # The other person was told "Reconnecting…", never that the session ended.
        seen = other.page.evaluate("window.seenStatus")
        assert "Reconnecting…" in seen, seen
        assert not any("ended" in text for text in seen), seen

    def reloads_of(rows: list[dict[str, str]]) -> list[dict[str, str]]:
        return [r for r in rows if r["kind"] == "reconnecting" and r["reason"] == "page_reload"]

    rows = timeline_rows(
        therapist,
        call.visit,
        until=lambda rows: (
            len(reloads_of(rows)) >= 2 and sum(r["kind"] == "reconnected" for r in rows) >= 2
        ),
    )
    reloads = reloads_of(rows)
    assert len(reloads) == 2, rows
    assert sum(r["kind"] == "reconnected" for r in rows) >= 2, rows
    visits = server.shell(
        "from rapport.visits.models import Visit\n"
        f"v = Visit.objects.get(uid={call.visit!r})\n"
        "print(Visit.objects.filter(relationship=v.relationship).count(), v.status)\n"
    ).split()
    assert visits == ["1", "live"], visits


@pytest.fixture(scope="module")
def relay_server(
    turn: TurnServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[DemoServer]:
    """A demo server that hands out this coturn and forces every call through it."""
    outer = os.environ.get("RAPPORT_DATA_DIR")
    if outer:
        data_dir = Path(outer) / "relay-server"
        shutil.rmtree(data_dir, ignore_errors=True)
    else:
        data_dir = tmp_path_factory.mktemp("rapport-relay-server")
    env = {
        "RAPPORT_TURN_URLS": ",".join(turn.urls),
        "RAPPORT_TURN_SECRET": turn.secret,
        "RAPPORT_ICE_TRANSPORT_POLICY": "relay",
        "REDIS_URL": "",  # its own in-memory channel layer: never flush the main server's Redis
    }
    try:
        with demo_server(data_dir, database_suffix="_relay", env=env) as running:
            yield running
    except ServerError as exc:
        pytest.fail(f"relay demo server did not start: {exc}")


def test_a_call_through_the_turn_relay(
    request: pytest.FixtureRequest, media_browser: Browser, relay_server: DemoServer
) -> None:
    with visitors_in(request, media_browser, relay_server) as make:
        call = enter_call(make, relay_server, "video")
        wait_for_both(*call.people)
        for person in call.people:
            expect(person.page.locator("#path")).to_have_text("Encrypted, relayed")
            pair = media_stats(person.page)["pair"]
            assert pair == {"local": "relay", "remote": "relay"}, pair
            assert room_state(person.page)["path"] == "relay"
