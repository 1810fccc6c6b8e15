"""The calendar pages: a therapist's day, week and month, and the practice's day for admins.

Each page is built from one read of the appointments, one of the consent signatures and two of
working time (see ``calendar``), so its cost does not grow with the number of sessions.
"""

from __future__ import annotations

import zoneinfo
from datetime import date, timedelta
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_http_methods

from rapport.accounts.decorators import role_required
from rapport.accounts.models import Role, User
from rapport.core.forms import is_plausible_date
from rapport.scheduling.access import practice_schedule
from rapport.scheduling.availability import display_zone, working_time, working_times
from rapport.scheduling.calendar import (
    columns_for,
    conflicts_of,
    day_bounds,
    frame_of,
    month_weeks,
    placed,
    week_loads,
)
from rapport.scheduling.consent import clients_with_current_consent
from rapport.scheduling.forms import PracticeScheduleForm, week_start
from rapport.scheduling.schedule import therapist_appointments


def _plausible(day: date) -> date | None:
    """``day`` for a link, or None at the edge of the dates Rapport takes (no link then)."""
    return day if is_plausible_date(day) else None


def _therapist_calendar(user: User, days: list[date], zone: zoneinfo.ZoneInfo) -> dict[str, Any]:
    start, end = day_bounds(days[0], zone)[0], day_bounds(days[-1], zone)[1]
    appointments = therapist_appointments(user, start, end)
    signed = clients_with_current_consent(sorted({a.client_id for a in appointments}))
    working = working_time(user, start, end)
    columns = columns_for(
        days,
        zone,
        appointments,
        working,
        now=timezone.now(),
        signed=signed,
        conflicts=conflicts_of(appointments, {user.pk: working}),
    )
    return {
        "columns": columns,
        "zone": zone,
        "zone_known": zone.key == user.time_zone,
        "today": timezone.localdate(timezone=zone),
        "count": sum(1 for a in appointments if a.is_live),
        "conflicts": sum(c.conflict_count for c in columns),
    }


def _grid(request: HttpRequest, days: list[date], template: str, **extra: Any) -> HttpResponse:
    user: User = request.user  # type: ignore[assignment]
    context = _therapist_calendar(user, days, display_zone(user))
    frame = frame_of(context["columns"])
    context["columns"] = placed(context["columns"], frame)
    return render(
        request,
        template,
        {
            **context,
            "frame": frame,
            "first": days[0],
            "last": days[-1],
            "here": request.path,
            **extra,
        },
    )


@role_required(Role.THERAPIST)
@require_http_methods(["GET"])
def schedule_week(request: HttpRequest, day: date | None = None) -> HttpResponse:
    user: User = request.user  # type: ignore[assignment]
    first = week_start(day or timezone.localdate(timezone=display_zone(user)))
    return _grid(
        request,
        [first + timedelta(days=i) for i in range(7)],
        "scheduling/week.html",
        previous=_plausible(first - timedelta(days=7)),
        next=_plausible(first + timedelta(days=7)),
        view="week",
    )


@role_required(Role.THERAPIST)
@require_http_methods(["GET"])
def schedule_day(request: HttpRequest, day: date) -> HttpResponse:
    return _grid(
        request,
        [day],
        "scheduling/day.html",
        previous=_plausible(day - timedelta(days=1)),
        next=_plausible(day + timedelta(days=1)),
        week=_plausible(week_start(day)),
        view="day",
    )


@role_required(Role.THERAPIST)
@require_http_methods(["GET"])
def schedule_month(request: HttpRequest, day: date | None = None) -> HttpResponse:
    user: User = request.user  # type: ignore[assignment]
    zone = display_zone(user)
    month = (day or timezone.localdate(timezone=zone)).replace(day=1)
    weeks = month_weeks(month)
    context = _therapist_calendar(user, [d for week in weeks for d in week], zone)
    columns = context.pop("columns")
    return render(
        request,
        "scheduling/month.html",
        {
            **context,
            "month": month,
            "weeks": [columns[i : i + 7] for i in range(0, len(columns), 7)],
            "previous": _plausible((month - timedelta(days=1)).replace(day=1)),
            "next": _plausible((month + timedelta(days=32)).replace(day=1)),
            "here": request.path,
            "view": "month",
        },
    )


@role_required(Role.ADMIN)
@require_http_methods(["GET"])
def practice_day(request: HttpRequest, day: date | None = None) -> HttpResponse:
    """All therapists' sessions of one day, one column each, in the admin's time zone."""
    user: User = request.user  # type: ignore[assignment]
    zone = display_zone(user)
    day = day or timezone.localdate(timezone=zone)
    form = PracticeScheduleForm(request.GET or None)
    chosen = form.cleaned_data.get("therapist") if form.is_valid() else None
    start, end = day_bounds(day, zone)
    therapists, appointments = practice_schedule(user, start, end, therapist=chosen)
    working = working_times([t.pk for t in therapists], start, end)
    conflicts = conflicts_of(appointments, working)
    now = timezone.now()
    columns = [
        column
        for therapist in therapists
        for column in columns_for(
            [day],
            zone,
            [a for a in appointments if a.therapist_id == therapist.pk],
            working[therapist.pk],
            now=now,
            conflicts=conflicts,
            therapist=therapist,
        )
    ]
    frame = frame_of(columns)
    return render(
        request,
        "scheduling/practice_day.html",
        {
            "form": form,
            "query": f"?therapist={chosen.pk}" if chosen is not None else "",
            "columns": placed(columns, frame),
            "frame": frame,
            "day": day,
            "zone": zone,
            "today": timezone.localdate(timezone=zone),
            "count": sum(1 for a in appointments if a.is_live),
            "conflicts": sum(c.conflict_count for c in columns),
            "previous": _plausible(day - timedelta(days=1)),
            "next": _plausible(day + timedelta(days=1)),
        },
    )


@role_required(Role.ADMIN)
@require_http_methods(["GET"])
def practice_week(request: HttpRequest, day: date | None = None) -> HttpResponse:
    """Every therapist's week at a glance: a line each, a cell per day (sessions, booked and
    working hours, conflicts), each cell opening the practice's day for that therapist."""
    user: User = request.user  # type: ignore[assignment]
    zone = display_zone(user)
    first = week_start(day or timezone.localdate(timezone=zone))
    days = [first + timedelta(days=i) for i in range(7)]
    form = PracticeScheduleForm(request.GET or None)
    chosen = form.cleaned_data.get("therapist") if form.is_valid() else None
    start, end = day_bounds(days[0], zone)[0], day_bounds(days[-1], zone)[1]
    therapists, appointments = practice_schedule(user, start, end, therapist=chosen)
    working = working_times([t.pk for t in therapists], start, end)
    rows = week_loads(
        days, zone, therapists, appointments, working, conflicts_of(appointments, working)
    )
    totals = [
        (
            sum(loads[i].sessions for _t, loads in rows),
            sum(loads[i].conflicts for _t, loads in rows),
        )
        for i in range(len(days))
    ]
    return render(
        request,
        "scheduling/practice_week.html",
        {
            "form": form,
            "query": f"?therapist={chosen.pk}" if chosen is not None else "",
            "days": days,
            "rows": rows,
            "totals": totals,
            "zone": zone,
            "today": timezone.localdate(timezone=zone),
            "previous": _plausible(first - timedelta(days=7)),
            "next": _plausible(first + timedelta(days=7)),
        },
    )
