"""Billing in a real browser: the therapist confirms a session's proposed line (a typing mistake
first, answered by the error summary), sets the client's sliding-scale fee and finds the line on
the billing page. Every page is checked with axe on the way."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import MakeVisitor
from tests.browser.people import pair_in_browsers
from tests.browser.server import DemoServer

pytestmark = pytest.mark.browser

# A proposed line of the pair's session, as the end of the session would have made it.
PROPOSED_LINE = """
import datetime
from rapport.accounts.models import User
from rapport.billing.models import BillingLine
therapist = User.objects.get(email={therapist!r})
client = User.objects.get(email={client!r})
line = BillingLine.objects.create(
    client=client, therapist=therapist, date_of_service=datetime.date(2026, 3, 2),
    cpt_code="90834", modifiers="93", fee=15000, currency="USD", created_by=therapist,
    video_minutes=12, audio_minutes=38,
    proposal_note="50 face-to-face minutes. The client did not say whether they were at home.",
)
print(line.pk)
"""


def test_the_therapist_confirms_a_line_and_sets_a_sliding_fee(
    visitor: MakeVisitor, server: DemoServer
) -> None:
    pair, _client, therapist = pair_in_browsers(visitor, server)
    code = PROPOSED_LINE.format(therapist=pair.therapist, client=pair.client)
    line_id = int(server.shell(code).strip().splitlines()[-1])
    page = therapist.goto(f"/billing/lines/{line_id}/")
    expect(page.locator("#line-status")).to_have_text("Proposed")
    confirm = page.get_by_role("region", name="Confirm or edit")
    confirm.get_by_label("Place of service").select_option("10")
    confirm.get_by_label("Fee per unit").fill("one forty")
    therapist.click(confirm.get_by_role("button", name="Confirm"))
    summary = page.get_by_role("alert", name="Please check what you entered")
    expect(summary).to_contain_text("Fee per unit: Enter an amount")
    summary.get_by_role("link", name="Fee per unit").click()
    expect(page.get_by_label("Fee per unit")).to_be_focused()
    page.get_by_label("Fee per unit").fill("140.00")
    therapist.click(page.get_by_role("button", name="Confirm"))
    expect(page.locator("#line-status")).to_have_text("Confirmed")
    expect(page.locator("#line-amount")).to_have_text("140.00 USD")
    expect(page.locator("#line-place")).to_contain_text("10")

    therapist.goto(f"/clients/{pair.client_id}/billing/fees/")
    page.get_by_label("Or a percentage of the usual fee").fill("50")
    page.get_by_label("Reason").fill("Between jobs")
    therapist.click(page.get_by_role("button", name="Save"))
    expect(page.get_by_text("Client fee saved.")).to_be_visible()
    expect(page.get_by_role("region", name="Sliding-scale fees")).to_contain_text("Between jobs")

    nav = page.get_by_role("navigation", name="Main")
    therapist.click(nav.get_by_role("link", name="Billing"))
    expect(page.get_by_role("table")).to_contain_text(pair.client_name)
