"""The practice's billing set-up in a real browser: billing settings, the fee schedule (a service
added after a typing mistake, then changed), how a session type bills, and a rendering provider's
details (an NPI with a wrong check digit refused, what was typed kept). Every page is checked with
axe on the way (``Visitor.goto`` and ``click``)."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import MakeVisitor
from tests.browser.server import DemoServer
from tests.browser.test_escalation import new_admin

pytestmark = pytest.mark.browser


def test_the_admin_sets_up_fees_session_types_and_a_provider(
    visitor: MakeVisitor, server: DemoServer
) -> None:
    admin = visitor("admin")
    admin.sign_in(new_admin(server))
    admin.enrol_totp()
    page = admin.goto("/practice/billing/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Billing settings")

    # A service, first with a fee that is not an amount: the summary names it, nothing is lost.
    admin.click(page.get_by_role("link", name="Fee schedule"))
    add = page.get_by_role("region", name="Add a service")
    add.get_by_label(re.compile(r"^Code:?$")).fill("90853")
    add.get_by_label(re.compile(r"^Label:?$")).fill("Group psychotherapy")
    add.get_by_label(re.compile(r"^Fee:?$")).fill("one fifty")
    admin.click(add.get_by_role("button", name="Add"))
    summary = page.get_by_role("alert", name="Please check what you entered")
    expect(summary).to_contain_text("Fee")
    expect(page.get_by_label(re.compile(r"^Label:?$"))).to_have_value("Group psychotherapy")
    page.get_by_label(re.compile(r"^Fee:?$")).fill("150.00")
    admin.click(page.get_by_role("button", name="Add"))
    expect(page.get_by_text("Service added.")).to_be_visible()
    services = page.get_by_role("region", name="Services")
    expect(services.get_by_role("row", name="90853")).to_contain_text("150.00")

    # Changed on its own page.
    admin.click(services.get_by_role("link", name="90853"))
    page.get_by_label(re.compile(r"^Fee:?$")).fill("160.00")
    admin.click(page.get_by_role("button", name="Save").first)
    expect(page.get_by_text("Service saved.")).to_be_visible()

    # How a session type bills, from the settings page.
    admin.goto("/practice/billing/")
    types = page.get_by_role("region", name="How session types bill")
    first_type = types.get_by_role("listitem").first
    kind = first_type.get_by_role("combobox")
    options = kind.locator("option")
    expect(options.first).to_be_attached()
    chosen = options.last.get_attribute("value")
    assert chosen
    kind.select_option(chosen)
    admin.click(first_type.get_by_role("button", name="Save"))
    expect(page.get_by_text("Session type saved.")).to_be_visible()
    expect(
        page.get_by_role("region", name="How session types bill").get_by_role("combobox").first
    ).to_have_value(chosen)

    # A rendering provider: a mistyped NPI is refused, what was typed stays.
    providers = page.get_by_role("region", name="Rendering providers")
    admin.click(providers.get_by_role("link").first)
    page.get_by_label(re.compile(r"^NPI:?$")).fill("1234567890")
    page.get_by_label(re.compile(r"^Credentials:?$")).fill("LCSW")
    admin.click(page.get_by_role("button", name="Save"))
    expect(page.get_by_role("alert", name="Please check what you entered")).to_contain_text(
        "An NPI is ten digits with a valid check digit."
    )
    expect(page.get_by_label(re.compile(r"^Credentials:?$"))).to_have_value("LCSW")
    page.get_by_label(re.compile(r"^NPI:?$")).fill("1234567893")
    admin.click(page.get_by_role("button", name="Save"))
    expect(page.get_by_text("Provider details saved.")).to_be_visible()
