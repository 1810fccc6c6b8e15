"""Passkeys: a client adds one through allauth's MFA pages, then signs in with it alone.

Chromium's virtual authenticator (DevTools protocol, WebAuthn domain) plays the platform
authenticator: resident keys and user verification, with presence and verification simulated.
"""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import CDPSession, expect

from tests.browser.browsing import Visitor
from tests.browser.conftest import MakeVisitor

pytestmark = pytest.mark.browser

CLIENT = "a.nowak@demo.rapport.test"


def add_virtual_authenticator(participant: Visitor) -> tuple[CDPSession, str]:
    cdp = participant.context.new_cdp_session(participant.page)
    cdp.send("WebAuthn.enable", {"enableUI": False})
    result = cdp.send(
        "WebAuthn.addVirtualAuthenticator",
        {
            "options": {
                "protocol": "ctap2",
                "transport": "internal",
                "hasResidentKey": True,
                "hasUserVerification": True,
                "isUserVerified": True,
                "automaticPresenceSimulation": True,
            }
        },
    )
    return cdp, str(result["authenticatorId"])


def credentials(cdp: CDPSession, authenticator_id: str) -> list[dict[str, Any]]:
    result = cdp.send("WebAuthn.getCredentials", {"authenticatorId": authenticator_id})
    found: list[dict[str, Any]] = result["credentials"]
    return found


def test_passkey_added_then_used_to_sign_in(visitor: MakeVisitor) -> None:
    laptop = visitor("passkey owner")
    cdp, authenticator_id = add_virtual_authenticator(laptop)
    page = laptop.sign_in(CLIENT)
    assert laptop.path == "/"

    # Add a passkey from the account page.
    laptop.click(page.get_by_role("navigation", name="Main").get_by_role("link", name="Account"))
    laptop.click(page.get_by_role("link", name="Two-factor authentication and passkeys"))
    laptop.goto("/accounts/2fa/webauthn/add/")
    page.get_by_label("Name").fill("Laptop passkey")
    page.get_by_label("Passwordless").check()
    laptop.click(page.get_by_role("button", name="Add"))
    stored = credentials(cdp, authenticator_id)
    assert len(stored) == 1 and stored[0]["isResidentCredential"], stored
    laptop.goto("/accounts/2fa/webauthn/")
    expect(page.get_by_role("cell", name="Laptop passkey Passkey")).to_be_visible()

    # Sign out, then sign in with the passkey alone: no email, no password.
    laptop.sign_out()
    assert laptop.path.startswith("/accounts/login/")
    laptop.click(page.get_by_role("button", name="Sign in with a passkey"))
    assert laptop.path == "/", page.url
    expect(page.get_by_role("heading", level=1)).to_have_text("Hello, Anna Nowak")
    assert credentials(cdp, authenticator_id)[0]["signCount"] >= 1

    # The key is now this account's second factor: a password sign-in asks for it.
    laptop.sign_out()
    laptop.sign_in(CLIENT)
    assert laptop.path.startswith("/accounts/2fa/authenticate/"), page.url
    laptop.click(page.get_by_role("button", name="Use a security key"))
    assert laptop.path == "/", page.url
