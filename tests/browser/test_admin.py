"""The practice admin enrols TOTP, then walks every admin page; sensitive ones ask for sudo mode."""

from __future__ import annotations

import csv
import io

import pytest
from playwright.sync_api import expect

from tests.browser.browsing import DEMO_PASSWORD, SMALL_SCREEN, fresh_totp
from tests.browser.conftest import MakeVisitor
from tests.browser.people import end_sudo_mode
from tests.browser.server import DemoServer

pytestmark = pytest.mark.browser

ADMIN = "admin@demo.rapport.test"


def test_admin_pages_and_reauthentication(visitor: MakeVisitor, server: DemoServer) -> None:
    admin = visitor("admin")
    page = admin.sign_in(ADMIN)
    assert admin.path == "/accounts/2fa/totp/activate/"
    secret = admin.enrol_totp()
    admin.goto("/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Riverside Counselling (demo)")

    nav = page.get_by_role("navigation", name="Main")
    admin.click(nav.get_by_role("link", name="People"))
    expect(page.get_by_role("cell", name="Dr. Maya Okafor", exact=True)).to_be_visible()
    admin.click(nav.get_by_role("link", name="Care relationships"))
    expect(page.get_by_role("cell", name="Jordan Chen", exact=True).first).to_be_visible()
    admin.click(nav.get_by_role("link", name="Invitations"))
    expect(page.get_by_role("heading", level=1)).to_be_visible()
    admin.click(nav.get_by_role("link", name="Audit trail"))
    expect(page.get_by_role("table")).to_be_visible()

    # Practice settings are behind sudo mode: once it has lapsed, the admin confirms the password.
    end_sudo_mode(server, admin)
    admin.click(nav.get_by_role("link", name="Practice"))
    assert admin.path.startswith("/accounts/reauthenticate/"), page.url
    page.get_by_label("Password").fill(DEMO_PASSWORD)
    admin.click(page.get_by_role("button", name="Confirm"))
    assert admin.path == "/practice/settings/"
    expect(page.get_by_role("heading", level=1)).to_have_text("Practice settings")
    expect(page.get_by_label("Practice name")).to_have_value("Riverside Counselling (demo)")

    # Opening client self-registration puts a sign-up link on the sign-in page, which a newcomer
    # follows; the admin closes it again for the other tests (that the link then goes is checked
    # without a browser: test_accounts.py).
    registration = page.get_by_label("clients may create their own account")
    registration.set_checked(True)
    admin.click(page.get_by_role("button", name="Save"))
    expect(page.get_by_text("Practice settings saved.")).to_be_visible()
    newcomer = visitor("newcomer")
    newcomer.goto("/accounts/login/")
    newcomer.click(newcomer.page.get_by_role("link", name="Create a client account"))
    assert newcomer.path == "/accounts/signup/"
    expect(newcomer.page.get_by_label("Password (again)")).to_be_visible()
    registration.set_checked(False)
    admin.click(page.get_by_role("button", name="Save"))
    expect(page.get_by_text("Practice settings saved.")).to_be_visible()

    # The retention policy is on this form; its page lists records past it. Jordan's erasure
    # page shows what would go; a mistyped address is refused with what was typed kept, and the
    # right one is refused too while Jordan is in care (nothing in the demo is erased).
    expect(page.get_by_label("records are kept under the law of")).to_have_value("us")
    admin.click(page.get_by_role("link", name="Retention and erasure"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Retention and erasure")
    admin.click(nav.get_by_role("link", name="People"))
    admin.click(page.get_by_role("link", name="Erasure j.chen@demo.rapport.test"))
    expect(page.get_by_role("heading", name="What would go (dry run)")).to_be_visible()
    page.get_by_label("The client asked, and the law allows it").check()
    confirm = page.get_by_label("Type the client's email address to confirm")
    confirm.fill("j.chen@demo.rapport.tst")
    admin.click(page.get_by_role("button", name="Ask to erase this record"))
    expect(page.get_by_text("This is not the client's email address.").first).to_be_visible()
    expect(confirm).to_have_value("j.chen@demo.rapport.tst")
    confirm.fill("j.chen@demo.rapport.test")
    admin.click(page.get_by_role("button", name="Ask to erase this record"))
    expect(page.get_by_text("This client is still in care: end their care first.")).to_be_visible()

    # So is the audit export; this time the admin confirms with the authenticator app instead.
    end_sudo_mode(server, admin)
    admin.goto("/practice/audit/")
    admin.click(page.get_by_role("link", name="Export these events (CSV)"))
    assert admin.path.startswith("/accounts/reauthenticate/"), page.url
    admin.click(page.get_by_role("link", name="Use authenticator app or code"))
    assert admin.path.startswith("/accounts/2fa/reauthenticate/"), page.url
    page.get_by_label("Authenticator code").fill(fresh_totp(secret))
    with page.expect_download() as download_info:
        page.get_by_role("button", name="Confirm").click()
    exported = download_info.value.path().read_text(encoding="utf-8")
    rows = list(csv.reader(io.StringIO(exported)))
    assert rows[0][:4] == ["sequence", "occurred_at", "actor", "action"]
    assert len(rows) > 1, rows

    # The wide tables on a 360px phone: each scrolls inside its own box, never the whole page.
    page.set_viewport_size(SMALL_SCREEN)
    for path in ("/practice/people/", "/practice/relationships/", "/practice/audit/"):
        admin.goto(path)
        admin.assert_fits()
