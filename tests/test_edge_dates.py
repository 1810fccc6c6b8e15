"""Dates at the edge of the calendar get a clear answer, never a server error.

Every date a person can type or put in an address: the therapist's time off and extra hours,
booking for a client (the day and the series' last date), moving a session, the client's chosen
slot (booking and moving), the week in a slot picker and in the schedule's address, the audit
trail's filters and its export, and the page of older messages. Each one is tried with the first
and last days Python knows (which overflow once a zone or a day is added), and with years 0 and
10000. People sit in zones far from UTC (Tokyo, Los Angeles) so the overflow would happen.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from rapport.accounts.models import User
from rapport.audit.models import AuditEvent
from rapport.audit.services import Action
from rapport.care.models import CareRelationship
from rapport.messaging.access import conversation_for
from rapport.scheduling.models import (
    Appointment,
    AvailabilityChange,
    ConsentDocument,
    ConsentSignature,
    SessionType,
)
from tests.conftest import signed_in
from tests.scheduling_data import consent_version, direct_appointment, therapist_with_hours

EDGES = ["0001-01-01", "9999-12-31", "0000-01-01", "10000-01-01", "2026-02-30"]
SLOT_EDGES = [
    "0001-01-01T00:00+14:00",
    "9999-12-31T23:30-12:00",
    "0000-01-01T09:00Z",
    "10000-01-01T09:00Z",
]
DATE_ERROR = "Enter a"  # "Enter a valid date." / "Enter a date from 1970-01-01 to 2999-12-31."
SLOT_ERROR = "Choose one of the times shown."


def page(response: object) -> str:
    return response.content.decode()  # type: ignore[attr-defined,no-any-return]


@pytest.fixture
def session_type(therapist_x: User, client_a: User) -> SessionType:
    User.objects.filter(pk=therapist_x.pk).update(time_zone="Asia/Tokyo")
    User.objects.filter(pk=client_a.pk).update(time_zone="America/Los_Angeles")
    therapist_x.refresh_from_db()
    consent_version(therapist_x)
    _therapist, session_type = therapist_with_hours(therapist=therapist_x, zone="Asia/Tokyo")
    return session_type


@pytest.fixture
def appointment(session_type: SessionType, client_a: User) -> Appointment:
    ConsentSignature.objects.create(
        client=client_a, document=ConsentDocument.objects.get(), typed_name=client_a.full_name
    )
    return direct_appointment(session_type, client_a, timezone.now() + timedelta(days=3))


@pytest.mark.parametrize("edge", EDGES)
@pytest.mark.parametrize("which", ["start", "end"])
def test_time_off_dates(
    therapist_x: User, session_type: SessionType, edge: str, which: str
) -> None:
    fields = {
        "change-kind": "off",
        "change-start_date": "2030-01-07",
        "change-start_time": "00:00",
        "change-end_date": "2030-01-08",
        "change-end_time": "23:45",
    }
    fields[f"change-{which}_date"] = edge
    response = signed_in(therapist_x).post("/schedule/availability/changes/", fields)
    assert response.status_code in {200, 400}
    assert DATE_ERROR in page(response)
    assert not AvailabilityChange.objects.exists()


@pytest.mark.parametrize("edge", EDGES)
@pytest.mark.parametrize("which", ["day", "until"])
def test_booking_for_a_client_dates(
    therapist_x: User, client_a: User, session_type: SessionType, edge: str, which: str
) -> None:
    fields = {
        "client": str(client_a.pk),
        "session_type": str(session_type.pk),
        "modality": "video",
        "day": "2030-01-07",
        "change-start_time": "00:00",
        "repeat": "1" if which == "until" else "0",
    }
    fields[which] = edge
    response = signed_in(therapist_x).post("/schedule/book/", fields)
    assert response.status_code in {200, 400}
    assert DATE_ERROR in page(response)
    assert not Appointment.objects.exists()


@pytest.mark.parametrize("edge", EDGES)
def test_moving_a_session_date(therapist_x: User, appointment: Appointment, edge: str) -> None:
    response = signed_in(therapist_x).post(
        f"/appointments/{appointment.pk}/reschedule/", {"day": edge, "change-start_time": "00:00"}
    )
    assert response.status_code in {200, 400}
    assert DATE_ERROR in page(response)
    assert Appointment.objects.get().starts_at == appointment.starts_at


@pytest.mark.parametrize("slot", SLOT_EDGES)
def test_the_clients_chosen_slot(
    client_a: User, appointment: Appointment, session_type: SessionType, slot: str
) -> None:
    browser = signed_in(client_a)
    response = browser.post(
        "/book/", {"session_type": str(session_type.pk), "modality": "video", "slot": slot}
    )
    assert response.status_code in {200, 400}
    assert SLOT_ERROR in page(response)
    response = browser.post(f"/appointments/{appointment.pk}/reschedule/", {"slot": slot})
    assert response.status_code in {200, 400}
    assert SLOT_ERROR in page(response)
    assert list(Appointment.objects.all()) == [appointment]
    assert Appointment.objects.get().starts_at == appointment.starts_at


@pytest.mark.parametrize("week", [*EDGES, "99999999999999999999999", "-5", "²"])
def test_the_week_in_a_slot_pickers_address(
    client_a: User, appointment: Appointment, session_type: SessionType, week: str
) -> None:
    browser = signed_in(client_a)
    assert browser.get(f"/book/?type={session_type.pk}&week={week}").status_code == 200
    reschedule = f"/appointments/{appointment.pk}/reschedule/?week={week}"
    assert browser.get(reschedule).status_code == 200


@pytest.mark.parametrize(
    ("day", "status"),
    [
        ("1970-01-01", 200),
        ("2999-12-31", 200),
        ("0001-01-01", 404),
        ("9999-12-31", 404),
        ("0000-01-01", 404),
        ("10000-01-01", 404),
        ("2026-02-30", 404),
    ],
)
@pytest.mark.parametrize("view", ["week", "day"])
def test_the_schedules_address(
    therapist_x: User, session_type: SessionType, day: str, status: int, view: str
) -> None:
    assert signed_in(therapist_x).get(f"/schedule/{view}/{day}/").status_code == status


@pytest.mark.parametrize("edge", EDGES)
@pytest.mark.parametrize("which", ["since", "until"])
@pytest.mark.parametrize("path", ["/practice/audit/", "/practice/audit/export.csv"])
def test_audit_trail_filters(admin: User, edge: str, which: str, path: str) -> None:
    User.objects.filter(pk=admin.pk).update(time_zone="Asia/Tokyo")
    exports = AuditEvent.objects.filter(action=Action.AUDIT_EXPORTED).count()
    response = signed_in(admin).get(path, {which: edge})
    assert response.status_code in {200, 400}
    assert DATE_ERROR in page(response)
    assert AuditEvent.objects.filter(action=Action.AUDIT_EXPORTED).count() == exports


@pytest.mark.parametrize("before", ["99999999999999999999999", "²", "-1", "1e5"])
def test_the_page_of_older_messages(therapist_x: User, client_a: User, before: str) -> None:
    chat = conversation_for(CareRelationship.objects.get(therapist=therapist_x, client=client_a))
    response = signed_in(client_a).get(f"/messages/{chat.uid}/", {"before": before})
    assert response.status_code == 404


def test_ordinary_dates_still_work(therapist_x: User, session_type: SessionType) -> None:
    response = signed_in(therapist_x).post(
        "/schedule/availability/changes/",
        {
            "change-kind": "off",
            "change-start_date": "2030-01-07",
            "change-start_time": "00:00",
            "change-end_date": "2030-01-08",
            "change-end_time": "23:45",
        },
    )
    assert response.status_code == 302
    assert AvailabilityChange.objects.count() == 1
    assert Client().get("/schedule/").status_code == 302
