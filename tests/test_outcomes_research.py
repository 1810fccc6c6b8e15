"""The de-identified research export: no direct identifier anywhere in it (planted names,
emails, phone numbers and dates in every free-text field), no real date of any client, shifts
that keep each client's intervals, ages in bands; admins only, in sudo mode, audited."""

from __future__ import annotations

import csv
import io
import itertools
import re
import uuid
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path
from random import Random

import pytest
from django.urls import reverse
from django.utils import timezone

from rapport.accounts.models import User
from rapport.audit.models import AuditEvent
from rapport.audit.services import Action
from rapport.care.models import CareRelationship, ClientProfile
from rapport.intake.models import IntakeSubmission
from rapport.measures.models import Response
from rapport.messaging.access import conversation_for
from rapport.messaging.services import send_message
from rapport.outcomes.research_export import (
    COLUMNS,
    DICTIONARY,
    age_band,
    build_rows,
    diagnosis_category,
    dictionary_markdown,
)
from rapport.scheduling.models import Appointment, AppointmentStatus
from rapport.visits.models import Visit
from tests.conftest import signed_in
from tests.erasure_data import seed_client_everywhere, unlock_signed_notes
from tests.scheduling_data import ready_client, therapist_with_hours
from tests.service_data import booking, held_session

NAME = "Zebediah Quillfeather"
EMAIL = "zeb.quill@planted.example"
PHONE = "+1 415 555 0199"
PLANTED_DAY = date(1983, 7, 29)


@pytest.mark.parametrize(
    ("born", "on", "band"),
    [
        (None, date(2026, 1, 1), "unknown"),
        (date(2008, 1, 2), date(2026, 1, 1), "under 18"),  # 17, a day short of 18
        (date(2008, 1, 1), date(2026, 1, 1), "18-24"),  # 18 that day
        (date(2001, 1, 2), date(2026, 1, 1), "18-24"),  # 24
        (date(2001, 1, 1), date(2026, 1, 1), "25-34"),
        (date(1961, 1, 2), date(2026, 1, 1), "55-64"),  # 64
        (date(1961, 1, 1), date(2026, 1, 1), "65+"),
        (date(1920, 5, 5), date(2026, 1, 1), "65+"),  # top-coded: no 100+ band
    ],
)
def test_age_bands_at_their_edges(born: date | None, on: date, band: str) -> None:
    assert age_band(born, on) == band


@pytest.mark.parametrize(("code", "category"), [("F41.1", "F41"), ("F32.A", "F32"), ("f43", "F43")])
def test_diagnoses_at_category_level(code: str, category: str) -> None:
    assert diagnosis_category(code) == category


def test_every_column_is_in_the_dictionary_and_the_docs() -> None:
    text = dictionary_markdown()
    docs = Path("docs/security.md").read_text(encoding="utf-8")
    for name, _meaning in DICTIONARY:
        assert f"`{name}`" in text
        assert f"`{name}`" in docs, name
    assert [name for name, _m in DICTIONARY] == COLUMNS


def _date_forms(day: date) -> set[str]:
    return {
        day.isoformat(),
        day.strftime("%m/%d/%Y"),
        day.strftime("%d/%m/%Y"),
        day.strftime("%Y%m%d"),
        f"{day:%B} {day.day}, {day.year}",
        f"{day.day} {day:%B} {day.year}",
    }


def _real_dates() -> set[date]:
    """Every date on which something of any client happened, and their dates of birth."""
    days: set[date] = set()
    for a in Appointment.objects.all():
        days |= {a.starts_at.date(), a.ends_at.date()}
    for v in Visit.objects.all():
        days |= {d.date() for d in (v.created_at, v.started_at, v.ended_at) if d is not None}
    days |= {r.submitted_at.date() for r in Response.objects.all()}
    days |= {p.date_of_birth for p in ClientProfile.objects.all() if p.date_of_birth}
    return days


@pytest.fixture
def planted(admin: User) -> Iterator[list[User]]:
    """Clients whose free text everywhere carries a name, an email, a phone number and dates."""
    canary = f"Zebediah{uuid.uuid4().hex[:6]}"
    client, therapist = seed_client_everywhere(canary, admin)
    ClientProfile.objects.filter(client=client).update(date_of_birth=PLANTED_DAY)
    planted_text = (
        f"{NAME} ({EMAIL}, {PHONE}) said on {PLANTED_DAY:%m/%d/%Y} and {PLANTED_DAY.isoformat()}"
    )
    relationship = CareRelationship.objects.get(therapist=therapist, client=client)
    send_message(client, conversation_for(relationship).uid, uuid.uuid4(), planted_text)
    ClientProfile.objects.filter(client=client).update(intake_notes=planted_text)
    assert IntakeSubmission.objects.filter(client=client).exists()
    # A second client with a course of sessions, bookings and feedback.
    other_therapist, session_type = therapist_with_hours("research.t@example.test")
    second = ready_client(other_therapist, "research.c@example.test", name=NAME)
    ClientProfile.objects.create(
        client=second, date_of_birth=date(1995, 2, 14), phone=PHONE, intake_notes=planted_text
    )
    start = timezone.now() - timedelta(days=60)
    for week in range(5):
        at = start + timedelta(weeks=week)
        booking(session_type, second, at, modality="audio")
        held_session(
            other_therapist,
            second,
            at,
            modality="audio",
            reconnect_seconds=[12.0],
            feedback_share=0.8,
        )
    booking(session_type, second, start + timedelta(weeks=5), status=AppointmentStatus.NO_SHOW)
    yield [client, second]
    unlock_signed_notes()


def test_the_export_holds_no_identifier_and_no_real_date(admin: User, planted: list[User]) -> None:
    response = signed_in(admin).get(reverse("outcomes_research_csv"))
    assert response.status_code == 200
    assert response["Content-Disposition"].startswith("attachment;")
    text = response.content.decode("utf-8")
    lowered = text.lower()
    forbidden = [NAME, EMAIL, PHONE, "Zebediah", "Quillfeather", "@", "555"]
    forbidden += [c.full_name for c in planted] + [c.email for c in planted]
    for secret in forbidden:
        assert secret.lower() not in lowered, secret
    for day in _real_dates() | {PLANTED_DAY}:
        for form in _date_forms(day):
            assert form not in text, form
    rows = list(csv.DictReader(io.StringIO(text)))
    assert list(rows[0]) == COLUMNS
    clients = [r for r in rows if r["record"] == "client"]
    assert len(clients) == 2
    assert all(re.fullmatch(r"C[0-9a-f]{8}", r["client"]) for r in rows)
    assert {r["age_band"] for r in clients} == {"35-44", "25-34"}
    # Every cell is a code, a number, a band or a date: no free text can hide in one.
    allowed = re.compile(r"[A-Za-z0-9_.;+\- ]*")
    assert all(allowed.fullmatch(value) for r in rows for value in r.values())
    event = AuditEvent.objects.filter(action=Action.RESEARCH_EXPORTED).latest("sequence")
    assert event.actor == admin and event.detail == {"clients": 2, "rows": len(rows)}


def test_dates_shift_per_client_and_keep_intervals(admin: User, planted: list[User]) -> None:
    rows, count = build_rows(Random(4))
    second = planted[1]
    real = sorted(v.started_at.date() for v in Visit.objects.filter(client=second))  # type: ignore[union-attr]
    by_client: dict[str, list[dict[str, object]]] = {}
    for row in rows:
        by_client.setdefault(str(row["client"]), []).append(row)
    sessions = next(
        found
        for group in by_client.values()
        if len(found := [r for r in group if r["record"] == "session"]) == 5
    )
    shifted = sorted(date.fromisoformat(str(r["date"])) for r in sessions)
    gaps_real = [(b - a).days for a, b in itertools.pairwise(real)]
    gaps_shifted = [(b - a).days for a, b in itertools.pairwise(shifted)]
    assert gaps_real == gaps_shifted == [7, 7, 7, 7]
    shift = (real[0] - shifted[0]).days
    assert shift % 7 == 0 and 53 * 7 <= shift <= 104 * 7
    days = [int(str(r["day"])) for r in sessions]
    assert [b - a for a, b in itertools.pairwise(days)] == gaps_real
    # Another export draws other pseudonyms.
    again, _count = build_rows(Random(5))
    assert {r["client"] for r in rows}.isdisjoint({r["client"] for r in again})
    assert count == 2


def test_only_admins_in_sudo_mode(admin: User, therapist_x: User, client_a: User) -> None:
    for user in (therapist_x, client_a):
        assert signed_in(user).get(reverse("outcomes_research_csv")).status_code == 403
        assert signed_in(user).get(reverse("outcomes_research_dictionary")).status_code == 403
    dictionary = signed_in(admin).get(reverse("outcomes_research_dictionary"))
    assert dictionary.status_code == 200
    assert "`minutes_lost`" in dictionary.content.decode()
    assert not AuditEvent.objects.filter(action=Action.RESEARCH_EXPORTED).exists()
