"""Every form page that comes back with errors starts its form with a summary of them, each a
link to its field (the focus move is in tests/browser/test_error_summary.py)."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from rapport.accounts.models import User
from rapport.accounts.services import invite
from rapport.plans.services import start_draft
from rapport.scheduling.models import SessionType
from tests.conftest import signed_in
from tests.scheduling_data import consent_version, direct_appointment

People = dict[str, User]
# persona, address, data posted (GET when the address has a query), the fields the summary
# must link to (empty: errors of the whole form only).
Case = tuple[str, Callable[[People], str], dict[str, str], list[str]]


def intake_for(people: People) -> Any:
    from tests.intake_data import send_form

    return send_form(people["therapist_x"], people["client_a"])


CASES: dict[str, Case] = {
    "practice settings": ("admin", lambda p: "/practice/settings/", {}, ["id_name"]),
    "invitations": ("admin", lambda p: "/invitations/", {}, ["id_full_name", "id_email"]),
    "account settings": ("client_a", lambda p: "/settings/", {}, ["id_full_name"]),
    "messaging settings": (
        "client_a",
        lambda p: "/settings/messages/",
        {"email_delay_minutes": "-1"},
        [],
    ),
    "client record": (
        "therapist_x",
        lambda p: f"/clients/{p['client_a'].pk}/edit/",
        {"phone": "1" * 41},
        ["id_phone"],
    ),
    "emergency access": (
        "admin",
        lambda p: f"/clients/{p['client_a'].pk}/emergency-access/",
        {},
        [],
    ),
    "care relationships": (
        "admin",
        lambda p: "/practice/relationships/",
        {"therapist": "abc"},
        ["id_therapist", "id_client"],
    ),
    "weekly hours": (
        "therapist_x",
        lambda p: "/schedule/availability/hours/",
        {},
        ["id_window-start_time", "id_window-end_time"],
    ),
    "time off": (
        "therapist_x",
        lambda p: "/schedule/availability/changes/",
        {"change-start_date": "0001-01-01"},
        ["id_change-start_date", "id_change-start_time"],
    ),
    "session type": (
        "therapist_x",
        lambda p: "/schedule/session-types/",
        {},
        ["id_new-type-name", "id_new-type-minutes"],
    ),
    "booking for a client": (
        "therapist_x",
        lambda p: "/schedule/book/",
        {},
        ["id_client", "id_session_type", "id_day", "id_start_time"],
    ),
    "moving a session": (
        "therapist_x",
        lambda p: f"/appointments/{p['appointment'].pk}/reschedule/",
        {},
        ["id_day", "id_start_time"],
    ),
    "client booking": (
        "client_a",
        lambda p: "/book/",
        {"modality": "video", "session_type": "SESSION_TYPE"},
        ["id_slot"],
    ),
    "consent document": ("admin", lambda p: "/practice/consent/", {}, ["id_title", "id_body"]),
    "consent signature": ("client_a", lambda p: "/consent/", {}, ["id_typed_name"]),
    "intake form": (
        "client_a",
        lambda p: f"/intake/{intake_for(p).pk}/",
        {"action": "submit", "f-reason": "Typed"},
        ["id_f-goals", "id_f-self_harm_now", "id_f-telehealth_consent", "id_f-signature"],
    ),
    "sending an intake": (
        "therapist_x",
        lambda p: f"/clients/{p['client_a'].pk}/intake/",
        {"form_key": "none"},
        ["id_form_key"],
    ),
    "practice intake forms": ("admin", lambda p: "/practice/intake-forms/", {}, ["id_definition"]),
    "assigning a measure": (
        "therapist_x",
        lambda p: f"/clients/{p['client_a'].pk}/measures/",
        {},
        ["id_instrument"],
    ),
    "recording a diagnosis": (
        "therapist_x",
        lambda p: f"/clients/{p['client_a'].pk}/diagnoses/",
        {},
        ["id_code", "id_rank_0"],
    ),
    "frequent diagnosis codes": ("admin", lambda p: "/practice/diagnosis-codes/", {}, ["id_codes"]),
    "treatment plan goal": (
        "therapist_x",
        lambda p: f"/clients/{p['client_a'].pk}/plan/draft/",
        {"form": "goal"},
        ["goal-problem", "goal-description", "goal-sustained_over"],
    ),
    "treatment plan details": (
        "therapist_x",
        lambda p: f"/clients/{p['client_a'].pk}/plan/draft/",
        {"form": "details"},
        ["details-starts_on", "details-review_on", "details-modality"],
    ),
    "daily check-in reminder": (
        "client_a",
        lambda p: "/journal/reminder/",
        {"enabled": "on", "remind_at": ""},
        ["id_remind_at"],
    ),
    "instrument import": ("admin", lambda p: "/practice/instruments/", {}, ["id_definition_file"]),
    "audit filters": ("admin", lambda p: "/practice/audit/?since=yesterday", {}, ["id_since"]),
    "accepting an invitation": ("anonymous", lambda p: f"/invite/{p['token']}/", {}, []),
    "sign in": ("anonymous", lambda p: "/accounts/login/", {"login": "x@example.test"}, []),
    "password change": ("client_a", lambda p: "/accounts/password/change/", {}, []),
}


@pytest.fixture
def people(personas: dict[str, User | None], admin: User) -> dict[str, Any]:
    therapist, client = personas["therapist_x"], personas["client_a"]
    assert therapist is not None and client is not None
    consent_version(admin)
    session_type = SessionType.objects.create(therapist=therapist, name="Session", minutes=50)
    _invitation, token = invite(therapist, email="new@example.test", full_name="New", role="client")
    start_draft(therapist, client)
    return {
        **personas,
        "appointment": direct_appointment(session_type, client, timezone.now() + timedelta(days=3)),
        "session_type": session_type,
        "token": token,
    }


def browser_for(person: User | None) -> Client:
    return signed_in(person) if person is not None else Client()


@pytest.mark.parametrize("case", CASES)
def test_a_form_page_with_errors_starts_with_the_summary(case: str, people: dict[str, Any]) -> None:
    persona, address, data, fields = CASES[case]
    browser = browser_for(people[persona])
    url = address(people)
    data = {
        k: str(people["session_type"].pk) if v == "SESSION_TYPE" else v for k, v in data.items()
    }
    if persona == "client_a" and url == "/book/":
        from rapport.scheduling.models import ConsentDocument, ConsentSignature

        ConsentSignature.objects.create(
            client=people["client_a"], document=ConsentDocument.objects.get(), typed_name="A"
        )
    # A form bound to an empty POST would be a fresh one (``request.POST or None``).
    response = browser.get(url) if "?" in url else browser.post(url, {"unknown": "", **data})
    assert response.status_code in {200, 400}, (case, response.status_code)
    html = response.content.decode()
    summaries = re.findall(r"<div class=\"error-summary\"[^>]*data-error-summary[^>]*>", html)
    assert len(summaries) == 1, case
    summary = html[html.index(summaries[0]) :]
    summary = summary[: summary.index("</div>")]
    assert "<li>" in summary
    for field in fields:
        assert f'<a href="#{field}">' in summary, (case, field)
        assert f'id="{field}"' in html, (case, field)
    # The summary comes before every field of the form.
    form_start = html.rfind("<form", 0, html.index(summaries[0]))
    assert form_start != -1 or case in {"messaging settings"}, case
