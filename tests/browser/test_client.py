"""A client signs in (no second factor required), sees an empty home and who saw their record."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.browser.browsing import DEMO_PASSWORD, SMALL_SCREEN
from tests.browser.conftest import MakeVisitor
from tests.browser.people import end_sudo_mode, new_pair
from tests.browser.server import DemoServer

pytestmark = pytest.mark.browser

CLIENT = "client@demo.rapport.test"


def test_client_home_and_record_access(visitor: MakeVisitor) -> None:
    client = visitor("client")
    client.goto("/accounts/login/")
    page = client.page
    # Sign-up is closed in the demo practice (clients join by invitation): no sign-up link.
    expect(page.get_by_role("link", name="Create a client account")).to_have_count(0)
    expect(page.get_by_role("button", name="Sign in with a passkey")).to_be_visible()

    client.sign_in(CLIENT, "not-the-password")
    assert client.path.startswith("/accounts/login/")
    expect(page.get_by_role("alert")).to_contain_text("not correct")
    client.sign_in(CLIENT)

    assert client.path == "/"
    expect(page.get_by_role("heading", level=1)).to_have_text("Hello, Sam Rivera")
    sessions = page.get_by_role("region", name="Upcoming sessions")
    expect(sessions.get_by_role("link", name="Book a session")).to_be_visible()
    expect(sessions.get_by_role("listitem").first).to_contain_text("Individual session")
    expect(page.get_by_role("region", name="Messages")).to_contain_text("No new messages.")
    expect(page.get_by_role("region", name="Things to do")).to_contain_text(
        "Nothing to fill in right now."
    )
    expect(page.get_by_role("region", name="Your therapist")).to_contain_text("Dr. Maya Okafor")
    expect(page.get_by_role("region", name="In a crisis")).to_contain_text("988")

    nav = page.get_by_role("navigation", name="Main")
    client.click(nav.get_by_role("link", name="Who saw my record"))
    assert client.path == "/my-record/access/"
    expect(page.get_by_role("heading", level=1)).to_have_text("Who saw or changed your record")
    expect(page.get_by_role("table")).to_contain_text("Care started")

    client.click(nav.get_by_role("link", name="Account"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Your account")
    expect(nav.get_by_role("link", name="Account")).to_have_attribute("aria-current", "page")
    client.click(page.get_by_role("link", name="Change password"))
    expect(page.get_by_label("Current password")).to_be_visible()
    client.goto("/settings/")
    client.click(page.get_by_role("link", name="Email address"))
    expect(page.get_by_text(CLIENT)).to_be_visible()


def test_sign_in_and_client_home_fit_a_small_phone(visitor: MakeVisitor) -> None:
    phone = visitor("client on a 360px phone", viewport=SMALL_SCREEN, is_mobile=True)
    phone.goto("/accounts/login/")
    phone.assert_fits()
    phone.sign_in(CLIENT)
    assert phone.path == "/"
    phone.assert_fits()
    phone.goto("/my-record/access/")
    phone.assert_fits()
    phone.sign_out()
    phone.click(phone.page.get_by_role("link", name="Forgot your password?"))
    assert phone.path == "/accounts/password/reset/"
    phone.assert_fits()


def test_an_unattended_browser_adds_no_address_without_the_password(
    visitor: MakeVisitor, server: DemoServer
) -> None:
    pair = new_pair(server)
    client = visitor("client")
    pair.let_in(client, pair.client)
    end_sudo_mode(server, client)  # signed in long ago, then left open
    page = client.goto("/accounts/email/")
    page.get_by_label("Email").fill("someone.else@pair.test")
    client.click(page.get_by_role("button", name="Add Email"))
    assert client.path.startswith("/accounts/reauthenticate/"), page.url
    assert added(server, pair.client) == "0 0"

    page.get_by_label("Password").fill(DEMO_PASSWORD)
    client.click(page.get_by_role("button", name="Confirm"))
    # The change waiting for the password is made once it is typed.
    assert client.path == "/accounts/email/"
    expect(page.get_by_text("Confirmation email sent to someone.else@pair.test.")).to_be_visible()
    expect(page.get_by_role("radio", name="someone.else@pair.test Unverified")).to_be_visible()
    assert added(server, pair.client) == "1 1"


def added(server: DemoServer, owner: str) -> str:
    """How many addresses ``owner`` added, and how many additions the audit trail holds."""
    code = (
        "from allauth.account.models import EmailAddress\n"
        "from rapport.audit.models import AuditEvent\n"
        f"addresses = EmailAddress.objects.filter(user__email={owner!r}, primary=False).count()\n"
        "audited = AuditEvent.objects.filter(\n"
        f"    action='auth.email_added', actor__email={owner!r}\n"
        ").count()\n"
        "print(addresses, audited)\n"
    )
    return server.shell(code).strip().splitlines()[-1]
