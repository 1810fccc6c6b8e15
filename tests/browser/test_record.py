"""The clinical record in real browsers: the therapist sends the adult intake; the client, on a
phone, saves a draft, comes back to it, is told what is missing, and sends it once; the therapist
reads it in the record's timeline, and pages back through a long record.
Every page is checked with axe on the way."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import MakeVisitor
from tests.browser.people import pair_in_browsers
from tests.browser.server import DemoServer

pytestmark = pytest.mark.browser


def test_the_client_fills_the_intake_on_a_phone_and_the_record_shows_it(
    visitor: MakeVisitor, server: DemoServer
) -> None:
    pair, client, therapist = pair_in_browsers(visitor, server)
    page, cpage = therapist.page, client.page

    therapist.goto(f"/clients/{pair.client_id}/intake/")
    page.get_by_label("Form to send").select_option(label="Adult intake")
    therapist.click(page.get_by_role("button", name="Send"))
    expect(page.locator("#intakes")).to_contain_text("not started")

    # The client starts on their home page, answers a little and saves a draft.
    client.goto("/")
    client.click(cpage.get_by_role("link", name="Fill in: Adult intake"))
    client.assert_fits()
    cpage.get_by_label("What brings you to therapy now?").fill("Panic on the bus to work.")
    client.click(cpage.get_by_role("button", name="Save draft"))
    expect(cpage.locator("#draft-saved")).to_be_visible()
    client.goto("/")
    expect(cpage.locator("#intakes")).to_contain_text("draft saved")
    client.click(cpage.get_by_role("link", name="Fill in: Adult intake"))
    reason = cpage.get_by_label("What brings you to therapy now?")
    expect(reason).to_have_value("Panic on the bus to work.")

    # Sending with the required answers missing says what is missing and keeps what was typed.
    cpage.get_by_label("Relationship to you").fill("Sister")
    client.click(cpage.get_by_role("button", name="Send the form"))
    summary = cpage.get_by_role("alert").filter(has_text="Please check what you entered")
    expect(summary).to_be_visible()
    expect(summary).to_contain_text("What would you like to be different")
    expect(reason).to_have_value("Panic on the bus to work.")
    expect(cpage.get_by_label("Relationship to you")).to_have_value("Sister")

    safety = cpage.get_by_role("region", name="Your safety")
    for question in (
        "In the last two weeks, have you had thoughts",
        "Have you ever harmed yourself",
        "Are you having thoughts of harming someone else?",
    ):
        safety.get_by_role("group", name=question).get_by_label("No").check()
    cpage.get_by_label("What would you like to be different when therapy ends?").fill(
        "Take the bus without dread."
    )
    contact = cpage.get_by_role("region", name="Emergency contact")
    contact.get_by_label("Name", exact=True).fill("Robin Example")
    contact.get_by_label("Phone number").fill("+44 7700 900123")
    cpage.get_by_label("I agree to receive therapy by video").check()
    cpage.get_by_label("Type your full name to sign").fill(pair.client_name)
    client.click(cpage.get_by_role("button", name="Send the form"))
    expect(cpage.get_by_text("Thank you. Your form is sent to your therapist.")).to_be_visible()
    expect(cpage.get_by_role("main")).to_contain_text("Take the bus without dread.")
    client.assert_fits()
    # Sent once: the form is no longer offered, and opening it again shows what was sent.
    client.goto("/")
    expect(cpage.get_by_role("link", name="Fill in: Adult intake")).to_have_count(0)

    # The therapist sees it in the record's timeline, filtered to intake.
    therapist.goto(f"/clients/{pair.client_id}/record/timeline/")
    therapist.page.get_by_role("checkbox", name="Intake").check()
    therapist.click(page.get_by_role("button", name="Filter"))
    rows = page.get_by_role("table").get_by_role("row")
    expect(rows).to_have_count(2)  # the header and the one intake
    expect(rows.nth(1)).to_contain_text("Adult intake")
    therapist.click(rows.nth(1).get_by_role("link", name="Adult intake"))
    expect(page.get_by_role("main")).to_contain_text("Panic on the bus to work.")


# Runs in ``rapport manage shell``: a long record for the pair's client (about 110 entries of
# every kind, the same seeding as the timeline's tests and benchmark).
LONG_RECORD_CODE = """
from datetime import UTC, datetime
from rapport.care.models import CareRelationship
from tests.record_data import seed_record
relationship = CareRelationship.objects.get(client_id={client_id})
seed_record(relationship, scale=0.15, start=datetime(2024, 1, 8, 10, tzinfo=UTC))
"""


def test_the_therapist_pages_back_through_a_long_record(
    visitor: MakeVisitor, server: DemoServer
) -> None:
    pair, _client, therapist = pair_in_browsers(visitor, server)
    server.shell(LONG_RECORD_CODE.format(client_id=pair.client_id))
    therapist.goto(f"/clients/{pair.client_id}/")
    page = therapist.page
    therapist.click(page.get_by_role("link", name="Whole record: timeline and download"))
    table = page.get_by_role("table", name="The record, newest first")
    newest = table.get_by_role("row").nth(1).inner_text()
    seen = [newest]
    # Page back to the start of the record by the "Older entries" links.
    while page.get_by_role("link", name="Older entries").count():
        therapist.click(page.get_by_role("link", name="Older entries"))
        expect(page.get_by_role("link", name="Newest entries")).to_be_visible()
        seen.append(table.get_by_role("row").nth(1).inner_text())
    assert len(seen) >= 3
    assert len(set(seen)) == len(seen)
    expect(table).to_contain_text("Signed the telehealth consent")  # the oldest entry
    therapist.click(page.get_by_role("link", name="Newest entries"))
    expect(table.get_by_role("row")).not_to_have_count(0)
    assert table.get_by_role("row").nth(1).inner_text() == newest
