"""A person's appointments as their pages list them: between two times, on one day in their own
zone, the therapist's days and weeks, and a client's sessions to come and past.
"""

from __future__ import annotations

import zoneinfo
from datetime import date, datetime, time, timedelta

from django.db.models import Q, QuerySet
from django.utils import timezone

from rapport.accounts.models import User
from rapport.lib.intervals import local_to_utc
from rapport.scheduling.availability import zone_of
from rapport.scheduling.errors import SchedulingError
from rapport.scheduling.models import LIVE_STATUSES, Appointment


def appointments_between(user: User, start: datetime, end: datetime) -> list[Appointment]:
    """A user's own appointments (as therapist or client) overlapping [start, end)."""
    return list(
        Appointment.objects.filter(Q(therapist=user) | Q(client=user))
        .filter(starts_at__lt=end, ends_at__gt=start)
        .select_related("client", "therapist", "session_type")
        .order_by("starts_at")
    )


def appointments_on(user: User, day: date) -> list[Appointment]:
    """A user's appointments that start on ``day`` in their own time zone."""
    try:
        zone = zone_of(user)
    except SchedulingError:
        zone = zoneinfo.ZoneInfo("UTC")
    start = local_to_utc(day, time(0), zone)
    end = local_to_utc(day + timedelta(days=1), time(0), zone)
    return [a for a in appointments_between(user, start, end) if a.starts_at >= start]


def upcoming_sessions(
    client: User, *, limit: int, therapist: User | None = None
) -> list[Appointment]:
    """The client's next booked sessions (not yet over; with ``therapist`` only if given)."""
    sessions = Appointment.objects.filter(
        client=client, status__in=LIVE_STATUSES, ends_at__gt=timezone.now()
    )
    if therapist is not None:
        sessions = sessions.filter(therapist=therapist)
    return list(sessions.select_related("therapist", "session_type").order_by("starts_at")[:limit])


def therapist_appointments(therapist: User, start: datetime, end: datetime) -> list[Appointment]:
    """The therapist's appointments overlapping [start, end), cancelled ones too, with their
    clients and session types: one query however many."""
    return list(
        Appointment.objects.filter(therapist=therapist, starts_at__lt=end, ends_at__gt=start)
        .select_related("client", "session_type")
        .order_by("starts_at")
    )


def client_sessions(
    client: User, now: datetime
) -> tuple[QuerySet[Appointment], QuerySet[Appointment]]:
    """The client's sessions still to come (booked, not over), and all the others, newest first."""
    mine = Appointment.objects.filter(client=client).select_related("therapist", "session_type")
    upcoming = Q(ends_at__gt=now, status__in=LIVE_STATUSES)
    return mine.filter(upcoming), mine.exclude(upcoming).order_by("-starts_at")
