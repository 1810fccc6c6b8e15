"""A form that comes back with errors: focus lands on the summary at the top, and each of its
links takes focus to its field (rapport/error-summary.js), on the Practice settings page whose
errors used to sit below the fold. Every page load is checked by axe (``Visitor.audit``)."""

from __future__ import annotations

import json
import uuid

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import MakeVisitor
from tests.browser.server import DemoServer

pytestmark = pytest.mark.browser

# Runs in ``rapport manage shell`` on the server: a practice admin of this test's own, with an
# authenticator app, and a signed-in (sudo-mode) session for them.
NEW_ADMIN_CODE = """
import json
from allauth.account.models import EmailAddress
from allauth.mfa.totp.internal.auth import TOTP, generate_totp_secret
from rapport.accounts.models import Role, User
from tests.sessions import session_cookie
admin = User.objects.create_user({email!r}, None, full_name="Ada Summary", role=Role.ADMIN)
EmailAddress.objects.create(user=admin, email=admin.email, verified=True, primary=True)
TOTP.activate(admin, generate_totp_secret())
print(json.dumps(session_cookie(admin)))
"""

FOCUSED_ID = "document.activeElement && document.activeElement.id"


def test_focus_moves_to_the_summary_and_its_links_to_the_fields(
    visitor: MakeVisitor, server: DemoServer
) -> None:
    email = f"a-{uuid.uuid4().hex[:8]}@summary.test"
    cookie = json.loads(server.shell(NEW_ADMIN_CODE.format(email=email)).strip().splitlines()[-1])
    admin = visitor("admin", viewport={"width": 1000, "height": 600})
    name, value = cookie.split("=", 1)
    admin.context.add_cookies([{"name": name, "value": value, "url": admin.base_url}])
    page = admin.goto("/practice/settings/")

    page.get_by_label("Practice name").fill("")
    limit = page.get_by_label("largest file a message may carry (MB)")
    limit.fill("0")
    admin.click(page.get_by_role("button", name="Save"))
    assert admin.path == "/practice/settings/"

    summary = page.get_by_role("alert").filter(has_text="Please check what you entered")
    expect(summary).to_be_focused()
    expect(summary).to_be_in_viewport()
    links = summary.get_by_role("link")
    expect(links).to_have_text(
        [
            "Practice name: This field is required.",
            "Largest file a message may carry (MB): "
            "Ensure this value is greater than or equal to 1.",
        ]
    )
    # The limit's field is below the fold: its link brings it into view and focuses it.
    expect(limit).not_to_be_in_viewport()
    links.nth(1).click()
    expect(limit).to_be_focused()
    expect(limit).to_be_in_viewport()
    assert page.evaluate(FOCUSED_ID) == "id_message_attachment_limit_mb"
    links.nth(0).click()
    expect(page.get_by_label("Practice name")).to_be_focused()

    # Mending both and saving: no summary any more.
    page.get_by_label("Practice name").fill("Riverside Counselling (demo)")
    limit.fill("20")
    admin.click(page.get_by_role("button", name="Save"))
    expect(page.get_by_text("Practice settings saved.")).to_be_visible()
    expect(page.locator("[data-error-summary]")).to_have_count(0)
