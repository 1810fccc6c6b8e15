"""Mid-call network faults on the client's link (tests/browser/netfault.py): blackouts the call
must notice at once and come back from within seconds of the link's return, and packet loss it
must step down from and offer to step back up from once the loss is gone.

Each test is bounded: a fault of at most 30 s, and waits measured against the budget they check.
"""

from __future__ import annotations

import os
import re
import shutil
import time
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, Playwright, expect
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

from tests.browser.browsing import Visitor
from tests.browser.calls import (
    Call,
    diagnose,
    enter_call,
    timeline_rows,
    wait_for_call,
    wait_for_modality,
)
from tests.browser.conftest import MakeVisitor, visitors_in
from tests.browser.media import ALLOW_DEVICES, MEDIA_ARGS
from tests.browser.netfault import FaultNetwork, NetworkError, fault_network
from tests.browser.server import DemoServer, ServerError, demo_server

pytestmark = [pytest.mark.browser, pytest.mark.netfault]

DETECT_S = 4.0  # both pages say "Reconnecting…" this soon after the link goes dark
RECOVER_S = 5.0  # media flows again this soon after the link returns
OFFER_S = 15.0  # the offer to step back up this soon after the loss is lifted
RECONNECTING = "Reconnecting…"


@pytest.fixture(scope="module")
def network() -> Iterator[FaultNetwork]:
    try:
        with fault_network() as made:
            yield made
    except NetworkError as exc:
        pytest.fail(f"the fault network could not be made: {exc}")


@pytest.fixture(scope="module")
def fault_server(
    network: FaultNetwork, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[DemoServer]:
    """A demo server listening only on the test network's address."""
    outer = os.environ.get("RAPPORT_DATA_DIR")
    if outer:
        data_dir = Path(outer) / "netfault-server"
        shutil.rmtree(data_dir, ignore_errors=True)
    else:
        data_dir = tmp_path_factory.mktemp("rapport-netfault")
    env = {"RAPPORT_ALLOWED_HOSTS": network.server_host}
    try:
        with demo_server(
            data_dir, host=network.server_host, database_suffix="_netfault", env=env
        ) as running:
            network.check_address(network.server_host)
            yield running
    except ServerError as exc:
        pytest.fail(f"demo server did not start: {exc}")


@pytest.fixture(scope="module")
def fault_browsers(
    playwright: Playwright, network: FaultNetwork, fault_server: DemoServer
) -> Iterator[dict[str, Browser]]:
    """One fake-media Chromium inside each person's namespace."""
    # The server's own address is the only origin it is told to trust (camera, microphone).
    secure = f"--unsafely-treat-insecure-origin-as-secure={fault_server.browser_url}"
    launched: dict[str, Browser] = {}
    try:
        for side in ("therapist", "client"):
            launched[side] = playwright.chromium.launch(
                executable_path=str(network.chromium(side)),
                args=[*MEDIA_ARGS, ALLOW_DEVICES, secure],
            )
        yield launched
    finally:
        for browser in launched.values():
            browser.close()


@pytest.fixture
def faulty(
    request: pytest.FixtureRequest,
    network: FaultNetwork,
    fault_server: DemoServer,
    fault_browsers: dict[str, Browser],
) -> Iterator[MakeVisitor]:
    """Make a participant in their own namespace's browser; the fault is lifted afterwards."""
    with ExitStack() as stack:
        makers = {
            side: stack.enter_context(visitors_in(request, browser, fault_server))
            for side, browser in fault_browsers.items()
        }
        stack.callback(network.lift)

        def make(name: str, **options: Any) -> Visitor:
            return makers[name](name, **options)

        yield make


# How long ago (ms) the page last saw inbound media packets grow; polled in the page.
WATCH_INBOUND = """() => {
  window.inbound = {total: -1, pc: null, at: performance.now()};
  setInterval(async () => {
    const pc = window.rapportRoom.pc();
    if (!pc) return;
    let total = 0;
    (await pc.getStats()).forEach((s) => {
      if (s.type === "inbound-rtp") total += s.packetsReceived || 0;
    });
    if (pc !== window.inbound.pc || total > window.inbound.total) {
      const grew = pc === window.inbound.pc || total > 0;
      window.inbound = {total, pc, at: grew ? performance.now() : window.inbound.at};
    }
  }, 100);
}"""
# Until inbound media has grown after `since` (performance.now() ms); the time it took.
MEDIA_AFTER = """([since, timeout]) => new Promise((resolve) => {
  const check = () => {
    if (window.inbound.at > since) resolve(window.inbound.at - since);
    else if (performance.now() - since > timeout) resolve(null);
    else setTimeout(check, 50);
  };
  check();
})"""


def page_now(page: Page) -> float:
    now: float = page.evaluate("performance.now()")
    return now


def status(page: Page) -> str:
    text: str = page.locator("#room-status").inner_text()
    return text


def in_a_call(make: MakeVisitor, server: DemoServer) -> Call:
    call = enter_call(make, server, "video")
    try:
        for person in call.people:
            wait_for_call(person)
            person.page.evaluate(WATCH_INBOUND)
    except AssertionError as exc:
        raise AssertionError(diagnose(*call.people)) from exc
    return call


def blackout_and_back(call: Call, network: FaultNetwork, seconds: float) -> dict[str, float]:
    """Cut the client's link for ``seconds``; check both pages say so within DETECT_S; return
    how long after the link's return each page received media again."""
    network.blackout()
    cut = time.monotonic()
    for person in call.people:
        left = max(0.1, DETECT_S - (time.monotonic() - cut))
        try:
            person.page.wait_for_function(
                "text => document.getElementById('room-status').textContent.includes(text)",
                arg=RECONNECTING,
                polling=100,
                timeout=left * 1000,
            )
        except PlaywrightTimeoutError as exc:
            raise AssertionError(
                f"{person.name} did not say {RECONNECTING!r} within {DETECT_S} s\n"
                + diagnose(*call.people)
            ) from exc
    time.sleep(max(0.0, seconds - (time.monotonic() - cut)))
    for person in call.people:
        assert RECONNECTING in status(person.page), diagnose(person)
    marks = {person.name: page_now(person.page) for person in call.people}
    network.lift()
    back: dict[str, float] = {}
    for person in call.people:
        took = person.page.evaluate(MEDIA_AFTER, [marks[person.name], 20_000])
        assert took is not None, f"{person.name}: no media 20 s after the link came back\n" + (
            diagnose(*call.people)
        )
        back[person.name] = took / 1000
    return back


def expect_recovered(call: Call) -> None:
    for person in call.people:
        wait_for_call(person)
        expect(person.page.locator("#room-status")).not_to_contain_text(RECONNECTING)
        expect(person.page.get_by_role("status").filter(has_text="connected again")).to_be_visible()


def media_back_rows(rows: list[dict[str, str]]) -> list[dict[str, str]]:
    return [r for r in rows if r["reason"] == "media_lost" and r["kind"] == "reconnected"]


def reconnect_rows(call: Call) -> list[dict[str, str]]:
    """The timeline's reconnect lines, once both pages' ends of the media loss are stored (a
    page whose socket died in the blackout reports it when its socket is back)."""
    rows = timeline_rows(
        call.therapist, call.visit, until=lambda rows: len(media_back_rows(rows)) >= 2
    )
    return [r for r in rows if r["kind"] in ("reconnecting", "reconnected", "reconnect_failed")]


@pytest.mark.parametrize("seconds", [10, 30])
def test_a_blackout_is_shown_at_once_and_the_call_comes_back_within_seconds(
    faulty: MakeVisitor, fault_server: DemoServer, network: FaultNetwork, seconds: int
) -> None:
    call = in_a_call(faulty, fault_server)
    back = blackout_and_back(call, network, seconds)
    print(f"media back {back} s after a {seconds} s blackout")  # shown with pytest -s
    assert max(back.values()) <= RECOVER_S, (back, diagnose(*call.people))
    expect_recovered(call)
    # The timeline: each page's loss, how long no media arrived, the ICE restarts it took.
    rows = reconnect_rows(call)
    back_rows = media_back_rows(rows)
    assert len(back_rows) == 2, rows
    for row in back_rows:
        found = re.search(r"no media for (\d+\.\d) s, \d+ ICE restarts?", row["details"])
        assert found, row
        assert seconds - 0.5 <= float(found.group(1)) <= seconds + RECOVER_S + 0.5, row
    minutes_lost = float(call.therapist.page.locator("#minutes-lost").inner_text())
    assert seconds / 60 - 0.1 <= minutes_lost <= (seconds + RECOVER_S) / 60 + 0.1, minutes_lost


LOSS_S = 30.0  # how long the loss lasts
SWITCH_BACK = "Switch back to video"


@pytest.mark.parametrize("percent", [10, 30])
def test_after_packet_loss_is_lifted_the_call_offers_to_step_back_up(
    faulty: MakeVisitor, fault_server: DemoServer, network: FaultNetwork, percent: int
) -> None:
    call = in_a_call(faulty, fault_server)
    network.fault(percent, udp_only=True)
    start = time.monotonic()
    try:
        for person in call.people:
            left = LOSS_S - (time.monotonic() - start)
            wait_for_modality(person.page, "audio", timeout=max(0.1, left) * 1000)
    except PlaywrightTimeoutError as exc:
        raise AssertionError(
            f"no step down to audio within {LOSS_S} s of {percent} % loss\n"
            + diagnose(*call.people)
        ) from exc
    time.sleep(max(0.0, LOSS_S - (time.monotonic() - start)))
    at_lift = {p.name: p.page.evaluate("window.rapportRoom.modality()") for p in call.people}
    network.lift()
    lifted = time.monotonic()
    for person in call.people:
        offer = person.page.get_by_role("button", name=SWITCH_BACK)
        left = OFFER_S - (time.monotonic() - lifted)
        try:
            expect(offer).to_be_visible(timeout=max(0.1, left) * 1000)
        except AssertionError as exc:
            raise AssertionError(
                f"{person.name}: no offer to switch back within {OFFER_S} s of the loss's end\n"
                + diagnose(*call.people)
            ) from exc
    print(f"offer {time.monotonic() - lifted:.1f} s after {percent} % loss was lifted")
    # Nothing stepped down on figures from before the loss's end.
    for person in call.people:
        assert person.page.evaluate("window.rapportRoom.modality()") == at_lift[person.name]
    call.therapist.page.get_by_role("button", name=SWITCH_BACK).click()
    for person in call.people:
        wait_for_modality(person.page, "video")
        wait_for_call(person)
    rows = timeline_rows(call.therapist, call.visit)
    forced = [r for r in rows if r["kind"] == "modality" and r["reason"] == "connection"]
    assert [r["what"] for r in forced] == ["Modality switched: Audio only"], rows
