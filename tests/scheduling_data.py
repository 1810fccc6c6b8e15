"""Scheduling test data: therapists with working hours, clients ready to book, consent versions.

Plain functions rather than fixtures, so the domain tests, the concurrency tests and the
benchmarks in ``bench/`` build the same practice. Users get no password (nobody signs in here),
which keeps creating fifty of them fast.
"""

from __future__ import annotations

import zoneinfo
from collections.abc import Iterable
from datetime import date, datetime, time, timedelta

from rapport.accounts.models import User
from rapport.care.models import CareRelationship
from rapport.scheduling.models import (
    Appointment,
    AppointmentStatus,
    ConsentDocument,
    ConsentSignature,
    SessionType,
    WeeklyWindow,
)

Window = tuple[int, time, time]  # weekday (Monday = 0), from, until
WEEKDAYS_9_TO_12: tuple[Window, ...] = ((0, time(9), time(12)),)


def person(email: str, role: str, name: str, zone: str = "UTC") -> User:
    return User.objects.create_user(email, None, full_name=name, role=role, time_zone=zone)


def therapist_with_hours(
    email: str = "hours@example.test",
    *,
    zone: str = "America/New_York",
    windows: Iterable[Window] = WEEKDAYS_9_TO_12,
    minutes: int = 60,
    buffer_minutes: int = 15,
    min_notice_hours: int = 12,
    horizon_days: int = 56,
    therapist: User | None = None,
) -> tuple[User, SessionType]:
    """A therapist (new unless given) with weekly windows in ``zone`` and one session type."""
    if therapist is None:
        therapist = person(email, "therapist", "Hana Hours", zone)
    WeeklyWindow.objects.bulk_create(
        WeeklyWindow(
            therapist=therapist, weekday=day, start_time=start, end_time=end, time_zone=zone
        )
        for day, start, end in windows
    )
    session_type = SessionType.objects.create(
        therapist=therapist,
        name=f"Session {minutes}",
        minutes=minutes,
        buffer_minutes=buffer_minutes,
        min_notice_hours=min_notice_hours,
        horizon_days=horizon_days,
    )
    return therapist, session_type


def ready_client(therapist: User, email: str, *, zone: str = "UTC", name: str = "") -> User:
    """A client in active care with ``therapist`` who signed the current consent (if any)."""
    client = person(email, "client", name or email.split("@")[0].replace(".", " ").title(), zone)
    CareRelationship.objects.create(therapist=therapist, client=client)
    document = ConsentDocument.objects.order_by("-version").first()
    if document is not None:
        ConsentSignature.objects.create(
            client=client, document=document, typed_name=client.full_name
        )
    return client


def consent_version(publisher: User) -> ConsentDocument:
    """Publish the next consent version directly (the service is tested on its own)."""
    latest = ConsentDocument.objects.order_by("-version").first()
    version = latest.version + 1 if latest else 1
    return ConsentDocument.objects.create(
        version=version,
        title=f"Telehealth consent v{version}",
        body="Sessions happen over video; here is what that means.",
        published_by=publisher,
    )


def at(day: date, wall: time, zone: str) -> datetime:
    """``wall`` o'clock on ``day`` in ``zone``, as an aware datetime (first occurrence)."""
    return datetime.combine(day, wall, tzinfo=zoneinfo.ZoneInfo(zone))


def direct_appointment(
    session_type: SessionType,
    client: User,
    starts_at: datetime,
    *,
    status: str = AppointmentStatus.CONFIRMED,
    modality: str = "video",
) -> Appointment:
    """An appointment written straight to the table, bypassing the booking checks."""
    ends_at = starts_at + timedelta(minutes=session_type.minutes)
    return Appointment.objects.create(
        therapist=session_type.therapist,
        client=client,
        session_type=session_type,
        modality=modality,
        starts_at=starts_at,
        ends_at=ends_at,
        busy_until=ends_at + timedelta(minutes=session_type.buffer_minutes),
        status=status,
        booked_by=session_type.therapist,
    )
