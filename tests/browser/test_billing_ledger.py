"""The ledger in real browsers: the billing office issues a monthly invoice from a client's
confirmed line and records a payment (a mistyped amount first: a clear error); the client, on a
phone, finds "Billing" in their navigation, their balance, their invoice and their statement.
Every page is checked with axe on the way."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from playwright.sync_api import expect

from tests.browser.browsing import SMALL_SCREEN, Visitor
from tests.browser.conftest import MakeVisitor
from tests.browser.people import Pair, new_pair
from tests.browser.server import DemoServer

pytestmark = pytest.mark.browser

# The server runs on the real clock: the invoice is numbered in this year.
TODAY = dt.date.today()  # noqa: DTZ011
THIS_YEAR = TODAY.year

# On the server: a confirmed line of the pair's client, and a member of the billing office (with
# an authenticator app, as their role requires) signed in; prints their session's cookie.
OFFICE_AND_LINE = """
from allauth.account.models import EmailAddress
from allauth.mfa.totp.internal.auth import TOTP, generate_totp_secret
from rapport.accounts.models import Role, User
from rapport.billing.models import LineStatus
from tests.billing_data import billing_line
from tests.sessions import session_cookie
client = User.objects.get(email={client!r})
therapist = User.objects.get(email={therapist!r})
billing_line(client, therapist, status=LineStatus.CONFIRMED, fee=15000)
office = User.objects.create_user(
    {office!r}, "unused passphrase 1234", full_name="Bea Billing", role=Role.BILLING
)
EmailAddress.objects.create(user=office, email=office.email, verified=True, primary=True)
TOTP.activate(office, generate_totp_secret())
print(session_cookie(office))
"""


def billing_office(make: MakeVisitor, server: DemoServer, pair: Pair) -> Visitor:
    code = OFFICE_AND_LINE.format(
        client=pair.client, therapist=pair.therapist, office=f"office-{pair.client}"
    )
    cookie = server.shell(code).strip().splitlines()[-1]
    person = make("billing office")
    cookie_name, value = cookie.split("=", 1)
    person.context.add_cookies([{"name": cookie_name, "value": value, "url": person.base_url}])
    return person


def test_an_invoice_a_payment_and_the_clients_own_billing(
    visitor: MakeVisitor, server: DemoServer
) -> None:
    pair = new_pair(server)
    office = billing_office(visitor, server, pair)
    page = office.page

    office.goto(f"/clients/{pair.client_id}/ledger/")
    unbilled = page.get_by_role("region", name="Confirmed lines not invoiced yet")
    expect(unbilled).to_contain_text("150.00 USD")
    office.click(page.get_by_role("link", name="Issue an invoice"))
    page.get_by_label(re.compile(r"^Invoice:?$")).select_option(label="Monthly")
    page.get_by_label("Month (monthly invoice)").fill("2026-03")
    office.click(page.get_by_role("button", name="Issue the invoice"))
    expect(page.get_by_role("heading", level=1)).to_have_text(
        re.compile(rf"^Invoice INV-{THIS_YEAR}-\d{{5}}$")
    )
    expect(page.locator("#invoice-total")).to_have_text("150.00 USD")

    office.click(page.get_by_role("link", name="Back to invoices and payments"))
    office.click(page.get_by_role("link", name="Record a payment"))
    page.get_by_label("Received on").fill(TODAY.isoformat())
    page.get_by_label("Amount").fill("sixty")
    page.get_by_label("Method").select_option(label="Cash")
    office.click(page.get_by_role("button", name="Record the payment"))
    summary = page.get_by_role("alert", name="Please check what you entered")
    expect(summary).to_contain_text("Enter an amount like")
    expect(page.get_by_label("Method")).to_have_value("cash")
    page.get_by_label("Amount").fill("60.00")
    office.click(page.get_by_role("button", name="Record the payment"))
    expect(page.locator("#balance")).to_have_text("Owed: 90.00 USD")

    office.goto("/practice/billing/overview/")
    expect(page.get_by_role("region", name=re.compile(r"^0 to 30 days"))).to_contain_text(
        pair.client_name
    )

    client = visitor("client on a phone", viewport=SMALL_SCREEN)
    pair.let_in(client, pair.client)
    cpage = client.page
    client.click(cpage.get_by_role("navigation", name="Main").get_by_role("link", name="Billing"))
    expect(cpage.locator("#balance")).to_have_text("You owe 90.00 USD")
    client.assert_fits()
    client.click(cpage.get_by_role("link", name=re.compile(rf"^INV-{THIS_YEAR}-")))
    expect(cpage.locator("#invoice-owed")).to_have_text("90.00 USD")
    client.click(cpage.get_by_role("link", name="Back to your billing"))
    client.click(cpage.get_by_role("link", name="Your statement"))
    expect(cpage.locator("#closing")).to_have_text("90.00 USD")
