"""Outcomes in a real browser: a therapist opens their caseload's outcomes from the main
navigation and reads the rates as a screen reader would (charts described in words, tables
beside them), then lists their own clients' episodes; each page is checked with axe. (The
therapist's own scope keeps other tests' episodes off the page.)"""

from __future__ import annotations

import json
import uuid

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import MakeVisitor
from tests.browser.server import DemoServer

pytestmark = pytest.mark.browser

# Runs in ``rapport manage shell`` on the server: a new therapist with an authenticator app, a
# signed-in session and 24 clients in care with a finished episode each (14 reliably improved).
SEED = """
import json
from datetime import timedelta
from allauth.account.models import EmailAddress
from allauth.mfa.totp.internal.auth import TOTP, generate_totp_secret
from django.utils import timezone
from rapport.accounts.models import Role, User
from rapport.care.models import CareRelationship
from rapport.outcomes.models import EpisodeOutcome
from tests.sessions import session_cookie
therapist = User.objects.create_user({therapist!r}, "x-unused-9", full_name="Dr Outcome",
                                     role=Role.THERAPIST, time_zone="Europe/London")
EmailAddress.objects.create(user=therapist, email=therapist.email, verified=True, primary=True)
TOTP.activate(therapist, generate_totp_secret())
now = timezone.now()
for n in range(24):
    client = User.objects.create(email=f"{tag}.{{n}}@outcomes.test", full_name=f"Client {{n}}",
                                 role=Role.CLIENT)
    care = CareRelationship.objects.create(therapist=therapist, client=client)
    better = n < 14
    EpisodeOutcome.objects.create(
        relationship=care, client=client, therapist=therapist,
        first_session_at=now - timedelta(days=300), last_session_at=now - timedelta(days=200),
        gap_days=90, quarter="2026-Q1", sessions=8, modality_mix="video",
        phq9_first=15, phq9_last=5 if better else 15, gad7_first=12,
        gad7_last=4 if better else 12, caseness_at_start=True, reliable_improvement=better,
        reliable_deterioration=False, recovery=better, reliable_recovery=better)
print(json.dumps({{"cookie": session_cookie(therapist)}}))
"""


def test_a_therapist_reads_their_caseload_outcomes(
    visitor: MakeVisitor, server: DemoServer
) -> None:
    tag = uuid.uuid4().hex[:8]
    code = SEED.format(therapist=f"t-{tag}@outcomes.test", tag=tag)
    made = json.loads(server.shell(code).strip().splitlines()[-1])
    therapist = visitor("therapist")
    name, value = made["cookie"].split("=", 1)
    therapist.context.add_cookies([{"name": name, "value": value, "url": therapist.base_url}])
    page = therapist.goto("/")
    nav = page.get_by_role("navigation", name="Main")
    therapist.click(nav.get_by_role("link", name="Outcomes"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Outcomes of my caseload")
    expect(page.get_by_role("region", name="All counted clients")).to_contain_text(
        "a different population"
    )
    # The chart is an image described in words, and its numbers are in the table beside it.
    modality = page.get_by_role("region", name="By modality mix of the episode")
    chart = modality.get_by_role("img", name="Reliable improvement: By modality mix of the episode")
    expect(chart).to_be_visible()
    table = modality.get_by_role("table", name="By modality mix of the episode")
    expect(table.get_by_role("row", name="Mostly video")).to_contain_text("14 of 24: 58 %")
    assert page.get_by_role("region", name="By therapist").count() == 0

    therapist.click(page.get_by_role("link", name="Episodes of my own clients"))
    listing = page.get_by_role("table", name="Finished episodes of clients in your care")
    expect(listing.get_by_role("row")).to_have_count(25)
    expect(listing.get_by_role("row", name="Client 3 ", exact=False).first).to_contain_text(
        "Reliable recovery"
    )
