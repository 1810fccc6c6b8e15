"""Open slots: weekly windows + extra hours - time off - busy appointments, in UTC."""

from __future__ import annotations

import zoneinfo
from bisect import bisect_left
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.utils import timezone

from rapport.accounts.models import User
from rapport.lib.intervals import Interval, days, local_to_utc, merge, subtract
from rapport.scheduling.models import (
    LIVE_STATUSES,
    Appointment,
    AvailabilityChange,
    SessionType,
    WeeklyWindow,
)

# Slots start on the quarter hour, every SLOT_STEP.
SLOT_STEP = timedelta(minutes=15)


@dataclass(frozen=True)
class Slot:
    starts_at: datetime
    ends_at: datetime


def working_time(therapist: User, start: datetime, end: datetime) -> list[Interval]:
    """When the therapist works between ``start`` and ``end`` (weekly windows ± changes)."""
    windows = list(WeeklyWindow.objects.filter(therapist=therapist))
    intervals: list[Interval] = []
    for window in windows:
        zone = zoneinfo.ZoneInfo(window.time_zone)
        first = start.astimezone(zone).date() - timedelta(days=1)
        last = end.astimezone(zone).date() + timedelta(days=1)
        for day in days(first, last):
            if day.weekday() != window.weekday:
                continue
            intervals.append(
                (
                    local_to_utc(day, window.start_time, zone),
                    local_to_utc(day, window.end_time, zone),
                )
            )
    changes = list(
        AvailabilityChange.objects.filter(
            therapist=therapist, ends_at__gt=start, starts_at__lt=end
        ).values_list("kind", "starts_at", "ends_at")
    )
    extra = [(s, e) for kind, s, e in changes if kind == AvailabilityChange.Kind.EXTRA]
    off = merge((s, e) for kind, s, e in changes if kind == AvailabilityChange.Kind.TIME_OFF)
    working = subtract(merge([*intervals, *extra]), off)
    return subtract(
        working,
        [(datetime.min.replace(tzinfo=UTC), start), (end, datetime.max.replace(tzinfo=UTC))],
    )


def busy_time(therapist: User, start: datetime, end: datetime) -> list[Interval]:
    rows = Appointment.objects.filter(
        therapist=therapist, status__in=LIVE_STATUSES, busy_until__gt=start, starts_at__lt=end
    ).values_list("starts_at", "busy_until")
    return merge(rows)


def open_slots(
    session_type: SessionType,
    *,
    now: datetime | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
    ignore_busy: bool = False,
) -> list[Slot]:
    """Bookable starts for ``session_type``: within working time, notice and horizon, free.

    ``ignore_busy`` skips the appointments, for a caller that has just checked for a clash
    under the schedule lock (booking), so only working time is left to check.
    """
    now = now or timezone.now()
    earliest = now + timedelta(hours=session_type.min_notice_hours)
    latest = now + timedelta(days=session_type.horizon_days)
    start = max(start or earliest, earliest)
    end = min(end or latest, latest)
    if end <= start:
        return []
    therapist = session_type.therapist
    length = timedelta(minutes=session_type.minutes)
    occupied = length + timedelta(minutes=session_type.buffer_minutes)
    # Free time must hold the session; the buffer must not run into another appointment.
    free = working_time(therapist, start, end + occupied)
    busy = [] if ignore_busy else busy_time(therapist, start - occupied, end + occupied)
    busy_starts = [b[0] for b in busy]
    slots: list[Slot] = []
    for window_start, window_end in free:
        candidate = _round_up(max(window_start, start))
        while candidate + length <= window_end and candidate < end:
            finish_busy = candidate + occupied
            index = bisect_left(busy_starts, finish_busy)
            # Any busy interval starting before our busy end and ending after our start collides.
            collides = index > 0 and busy[index - 1][1] > candidate
            if not collides:
                slots.append(Slot(candidate, candidate + length))
                candidate += SLOT_STEP
            else:
                candidate = _round_up(busy[index - 1][1])
    return slots


def _round_up(moment: datetime) -> datetime:
    base = moment.replace(second=0, microsecond=0)
    extra = (-base.minute) % 15
    if base < moment and extra == 0:
        extra = 15
    return base + timedelta(minutes=extra)
