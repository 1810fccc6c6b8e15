"""The safety plan in real browsers (issue 18).

The therapist writes it; the client on a phone reaches it in one tap from their home page,
taps its numbers (``tel:`` links), and finds it again with the network cut (the service worker's
copy: it still shows the version it kept while the server already holds a newer one); after
signing out the copy is gone. In a live session both people write it together in the room's
details panel, each seeing the other's typing, and saving stores a version both are told of.
Every page is checked with axe on the way."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.browser.browsing import SMALL_SCREEN
from tests.browser.calls import enter_call
from tests.browser.conftest import MakeVisitor
from tests.browser.people import pair_in_browsers
from tests.browser.server import DemoServer

pytestmark = pytest.mark.browser

KEPT = "This plan is kept on this device"
HAS_COPY = "async () => (await caches.keys()).includes('rapport-safety-plan')"
NO_COPY = "async () => !(await caches.keys()).includes('rapport-safety-plan')"
NO_PLAN_IN_ANY_CACHE = """async () => {
  for (const name of await caches.keys()) {
    const cache = await caches.open(name);
    for (const request of await cache.keys()) {
      if (new URL(request.url).pathname === "/safety-plan/") return false;
    }
  }
  return true;
}"""


def test_the_plan_opens_offline_and_is_gone_after_sign_out(
    visitor: MakeVisitor, server: DemoServer
) -> None:
    pair, client, therapist = pair_in_browsers(visitor, server, service_workers="allow")
    page, cpage = therapist.page, client.page

    # The therapist writes version 1.
    therapist.goto(f"/clients/{pair.client_id}/")
    therapist.click(page.get_by_role("link", name="Safety plan", exact=True))
    therapist.click(page.get_by_role("link", name="Write the plan"))
    page.get_by_label("1. Warning signs").fill("Not sleeping\nStaying in my room")
    page.get_by_label("Person 1: name").fill("Sam, my sister")
    page.get_by_label("Person 1: phone").fill("+44 117 496 0999")
    page.get_by_label("The one thing most important to me").fill("My daughter")
    therapist.click(page.get_by_role("button", name="Save a new version"))
    expect(page.get_by_role("region", name="Versions")).to_contain_text("Version 1")

    # The client: one tap from home, the numbers to tap, the page kept on the phone.
    client.goto("/")
    client.click(cpage.get_by_role("link", name="My safety plan"))
    assert client.path == "/safety-plan/"
    sister = cpage.get_by_role("link", name="+44 117 496 0999")
    expect(sister).to_have_attribute("href", "tel:+441174960999")
    client.assert_fits()
    expect(cpage.locator("#offline-status")).to_contain_text(KEPT)
    cpage.wait_for_function(HAS_COPY)

    # The server gets version 2; with the network cut, the phone still opens version 1.
    therapist.goto(f"/clients/{pair.client_id}/safety-plan/edit/")
    page.get_by_label("The one thing most important to me").fill("My daughter and my dog")
    therapist.click(page.get_by_role("button", name="Save a new version"))
    client.context.set_offline(True)
    cpage.goto(client.url("/safety-plan/"))
    expect(cpage.get_by_role("heading", name="My safety plan", level=1)).to_be_visible()
    expect(cpage.locator("main")).to_contain_text("My daughter")
    expect(cpage.locator("main")).not_to_contain_text("my dog")
    expect(sister).to_have_attribute("href", "tel:+441174960999")
    client.context.set_offline(False)
    client.audit()
    client.goto("/safety-plan/")  # online again: the network wins, and refreshes the copy
    expect(cpage.locator("main")).to_contain_text("My daughter and my dog")

    # Signing out removes the copy: offline, the plan no longer opens. The site-wide worker
    # (issue 20) stays and answers with its offline page, which holds no plan.
    client.sign_out()
    cpage.wait_for_function(NO_COPY)
    assert cpage.evaluate(NO_PLAN_IN_ANY_CACHE)
    client.context.set_offline(True)
    cpage.goto(client.url("/safety-plan/"))
    expect(cpage.get_by_role("heading", name="You are offline", level=1)).to_be_visible()
    expect(cpage.locator("main")).not_to_contain_text("My daughter")
    client.context.set_offline(False)
    client.audit()
    client.goto("/accounts/login/")


def test_both_people_write_the_plan_together_in_the_room(
    visitor: MakeVisitor, server: DemoServer
) -> None:
    call = enter_call(visitor, server, "text", viewport=SMALL_SCREEN)
    therapist, client = call.therapist, call.client
    tpage, cpage = therapist.page, client.page
    for person in (therapist, client):
        person.page.get_by_role("button", name="More").click()
        expect(person.page.get_by_label("1. Warning signs")).to_be_enabled()
    therapist.audit()  # the panel, open, passes axe
    client.audit()

    # Each sees what the other types, as they type it.
    tpage.get_by_label("1. Warning signs").fill("Can't sleep")
    expect(cpage.get_by_label("1. Warning signs")).to_have_value("Can't sleep")
    cpage.get_by_label("Person 1: name").fill("Sam")
    cpage.get_by_label("Person 1: phone").fill("+44 117 496 0999")
    expect(tpage.get_by_label("Person 1: phone")).to_have_value("+44 117 496 0999")

    # Saving stores version 1, and both are told.
    cpage.get_by_role("button", name="Save the safety plan").click()
    name = call.pair.client_name
    for page in (tpage, cpage):
        expect(page.locator("#plan-status")).to_have_text(f"Saved as version 1 by {name}.")

    # A bad number is refused with a clear message, and nothing is stored.
    tpage.get_by_label("Person 2: name").fill("Dr Lee")
    tpage.get_by_label("Person 2: phone").fill("call the office")
    tpage.get_by_role("button", name="Save the safety plan").click()
    expect(tpage.get_by_role("alert").filter(has_text="Person 2: phone")).to_contain_text(
        "Write a phone number with digits"
    )

    therapist.goto(f"/clients/{call.pair.client_id}/safety-plan/")
    versions = tpage.get_by_role("region", name="Versions")
    expect(versions).to_contain_text("Version 1")
    expect(versions).to_contain_text("in a session")
    expect(versions).not_to_contain_text("Version 2")
    expect(tpage.get_by_role("link", name="+44 117 496 0999")).to_have_attribute(
        "href", "tel:+441174960999"
    )
