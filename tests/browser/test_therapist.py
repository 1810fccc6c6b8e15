"""A therapist signs in for the first time: TOTP enrolment is forced, then required at sign-in."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import MakeVisitor

pytestmark = pytest.mark.browser

THERAPIST = "therapist@demo.rapport.test"


def test_therapist_enrols_totp_and_signs_in_with_it(visitor: MakeVisitor) -> None:
    therapist = visitor("therapist")
    page = therapist.sign_in(THERAPIST)

    # MFA is required for therapists: the first page after the password is TOTP enrolment.
    assert therapist.path == "/accounts/2fa/totp/activate/"
    expect(page.get_by_text("Your role requires two-factor authentication")).to_be_visible()
    secret = therapist.enrol_totp()
    if therapist.path.startswith("/accounts/2fa/recovery-codes/"):
        expect(page.get_by_role("heading", name="Recovery codes")).to_be_visible()

    therapist.goto("/")
    caseload = page.get_by_role("region", name="Caseload")
    expect(caseload.get_by_role("link", name="Sam Rivera")).to_be_visible()
    expect(caseload.get_by_role("link", name="Jordan Chen")).to_be_visible()
    therapist.click(page.get_by_role("navigation", name="Main").get_by_role("link", name="Clients"))
    expect(page.get_by_role("link", name="Sam Rivera")).to_be_visible()

    # Second sign-in: password, then the TOTP challenge.
    therapist.sign_out()
    assert therapist.path.startswith("/accounts/login/")
    therapist.sign_in(THERAPIST)
    assert therapist.path.startswith("/accounts/2fa/authenticate/")
    therapist.answer_totp(secret)
    assert therapist.path == "/"
    expect(page.get_by_role("heading", level=1)).to_contain_text("Today")
    expect(caseload.get_by_role("link", name="Jordan Chen")).to_be_visible()
    # The demo's unsigned note of Jordan's latest session waits on the home page.
    expect(page.locator("#notes-waiting").get_by_role("link", name="Jordan Chen")).to_be_visible()
