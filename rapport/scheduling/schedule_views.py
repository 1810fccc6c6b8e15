"""Who is booked when: the therapist's week and day, and the client's list of their sessions."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, time, timedelta
from typing import Any

from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_http_methods

from rapport.accounts.decorators import role_required
from rapport.accounts.models import Practice, Role, User
from rapport.core.forms import is_plausible_date
from rapport.lib.intervals import local_to_utc
from rapport.scheduling.availability import display_zone
from rapport.scheduling.consent import clients_with_current_consent
from rapport.scheduling.forms import week_start
from rapport.scheduling.models import Appointment, AppointmentStatus
from rapport.scheduling.schedule import client_sessions, therapist_appointments


@dataclass(frozen=True)
class Entry:
    appointment: Appointment
    consent_signed: bool


@dataclass(frozen=True)
class ScheduleDay:
    day: date
    entries: list[Entry]


def _schedule(
    request: HttpRequest, first: date, days: int, template: str, **extra: Any
) -> HttpResponse:
    """The therapist's appointments for ``days`` days from ``first``: a fixed number of queries."""
    user: User = request.user  # type: ignore[assignment]
    zone = display_zone(user)
    start = local_to_utc(first, time(0), zone)
    end = local_to_utc(first + timedelta(days=days), time(0), zone)
    appointments = therapist_appointments(user, start, end)
    signed = clients_with_current_consent(sorted({a.client_id for a in appointments}))
    by_day: dict[date, list[Entry]] = {first + timedelta(days=i): [] for i in range(days)}
    for appointment in appointments:
        local_day = max(appointment.starts_at.astimezone(zone).date(), first)
        by_day[local_day].append(Entry(appointment, appointment.client_id in signed))
    return render(
        request,
        template,
        {
            "days": [ScheduleDay(day, entries) for day, entries in by_day.items()],
            "first": first,
            "last": first + timedelta(days=days - 1),
            "zone": zone.key,
            "zone_known": zone.key == user.time_zone,
            "today": timezone.localdate(timezone=zone),
            "count": sum(1 for a in appointments if a.status != AppointmentStatus.CANCELLED),
            **extra,
        },
    )


def _plausible(day: date) -> date | None:
    """``day`` for a link, or None at the edge of the dates Rapport takes (no link then)."""
    return day if is_plausible_date(day) else None


@role_required(Role.THERAPIST)
@require_http_methods(["GET"])
def schedule_week(request: HttpRequest, day: date | None = None) -> HttpResponse:
    user: User = request.user  # type: ignore[assignment]
    first = week_start(day or timezone.localdate(timezone=display_zone(user)))
    return _schedule(
        request,
        first,
        7,
        "scheduling/week.html",
        previous=_plausible(first - timedelta(days=7)),
        next=_plausible(first + timedelta(days=7)),
    )


@role_required(Role.THERAPIST)
@require_http_methods(["GET"])
def schedule_day(request: HttpRequest, day: date) -> HttpResponse:
    return _schedule(
        request,
        day,
        1,
        "scheduling/day.html",
        previous=_plausible(day - timedelta(days=1)),
        next=_plausible(day + timedelta(days=1)),
        week=_plausible(week_start(day)),
    )


@role_required(Role.CLIENT)
@require_http_methods(["GET"])
def my_sessions(request: HttpRequest) -> HttpResponse:
    user: User = request.user  # type: ignore[assignment]
    now = timezone.now()
    upcoming, earlier = client_sessions(user, now)
    past = Paginator(earlier, 20).get_page(request.GET.get("page"))
    opens = timedelta(minutes=Practice.get().join_opens_minutes)
    return render(
        request,
        "scheduling/my_sessions.html",
        {
            "upcoming": [(a, a.starts_at - opens <= now) for a in upcoming[:50]],
            "page": past,
        },
    )
