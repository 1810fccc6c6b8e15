"""A therapist's availability: the weekly hours, one-off changes (extra hours, time off) and
session types they keep here, and the open slots these leave: weekly windows + extra hours -
time off - busy appointments, in UTC.

Changing availability never touches a booking: appointments that end up outside working time
are listed by ``availability_conflicts`` for the therapist to resolve.
"""

from __future__ import annotations

import zoneinfo
from bisect import bisect_left
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta

from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext as _

from rapport.accounts.models import User
from rapport.audit.services import Action, record
from rapport.lib.intervals import Interval, days, local_to_utc, merge, subtract
from rapport.scheduling.errors import SchedulingError
from rapport.scheduling.models import (
    LIVE_STATUSES,
    Appointment,
    AvailabilityChange,
    SessionType,
    WeeklyWindow,
)

UTC_ZONE = zoneinfo.ZoneInfo("UTC")
# Slots start on the quarter hour, every SLOT_STEP.
SLOT_STEP = timedelta(minutes=15)
SESSION_TYPE_FIELDS = (
    "name",
    "minutes",
    "allow_video",
    "allow_audio",
    "allow_text",
    "buffer_minutes",
    "min_notice_hours",
    "horizon_days",
    "is_active",
)


@dataclass(frozen=True)
class Slot:
    starts_at: datetime
    ends_at: datetime


def working_time(therapist: User, start: datetime, end: datetime) -> list[Interval]:
    """When the therapist works between ``start`` and ``end`` (weekly windows ± changes)."""
    return working_times([therapist.pk], start, end)[therapist.pk]


def working_times(
    therapist_ids: Sequence[int], start: datetime, end: datetime
) -> dict[int, list[Interval]]:
    """``working_time`` of several therapists at once, in two queries however many."""
    windows: dict[int, list[WeeklyWindow]] = {pk: [] for pk in therapist_ids}
    for window in WeeklyWindow.objects.filter(therapist_id__in=therapist_ids):
        windows[window.therapist_id].append(window)
    changes: dict[int, list[tuple[str, datetime, datetime]]] = {pk: [] for pk in therapist_ids}
    for therapist_id, kind, change_start, change_end in AvailabilityChange.objects.filter(
        therapist_id__in=therapist_ids, ends_at__gt=start, starts_at__lt=end
    ).values_list("therapist_id", "kind", "starts_at", "ends_at"):
        changes[therapist_id].append((kind, change_start, change_end))
    return {pk: _working(windows[pk], changes[pk], start, end) for pk in therapist_ids}


def _working(
    windows: list[WeeklyWindow],
    changes: list[tuple[str, datetime, datetime]],
    start: datetime,
    end: datetime,
) -> list[Interval]:
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


def zone_of(user: User) -> zoneinfo.ZoneInfo:
    """``user``'s time zone, or a clear error when the stored name is not a known zone."""
    try:
        return zoneinfo.ZoneInfo(user.time_zone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError) as exc:
        raise SchedulingError(
            _("The time zone “%(zone)s” is not known. Choose your time zone in your account.")
            % {"zone": user.time_zone},
            code="time_zone",
        ) from exc


def display_zone(user: User) -> zoneinfo.ZoneInfo:
    """``user``'s zone for showing times; UTC when the name stored is unknown (pages render)."""
    try:
        return zone_of(user)
    except SchedulingError:
        return UTC_ZONE


def _availability_changed(
    therapist: User, obj: object, change: str, request: HttpRequest | None
) -> None:
    record(Action.AVAILABILITY_CHANGED, actor=therapist, request=request, obj=obj, change=change)


def add_weekly_window(
    therapist: User,
    *,
    weekday: int,
    start_time: time,
    end_time: time,
    request: HttpRequest | None = None,
) -> WeeklyWindow:
    if not therapist.is_therapist:
        raise PermissionDenied("only therapists have working hours")
    zone = zone_of(therapist)
    if end_time <= start_time:
        raise SchedulingError(
            _(
                "The hours must end after they start. For hours past midnight, add the rest to the "
                "next day."
            ),
            code="order",
        )
    with transaction.atomic():
        clash = WeeklyWindow.objects.filter(
            therapist=therapist, weekday=weekday, start_time__lt=end_time, end_time__gt=start_time
        ).first()
        if clash is not None:
            raise SchedulingError(
                _("These hours overlap your hours on %(window)s.") % {"window": clash},
                code="overlap",
            )
        window = WeeklyWindow.objects.create(
            therapist=therapist,
            weekday=weekday,
            start_time=start_time,
            end_time=end_time,
            time_zone=zone.key,
        )
        _availability_changed(therapist, window, "window_added", request)
    return window


def _remove_own(
    model: type[WeeklyWindow] | type[AvailabilityChange],
    therapist: User,
    pk: int,
    request: HttpRequest | None,
) -> bool:
    """Delete one availability row of ``therapist`` (audited); False when they have no such row."""
    with transaction.atomic():
        row = model.objects.filter(pk=pk, therapist=therapist).first()
        if row is None:
            return False
        prefix = row.kind if isinstance(row, AvailabilityChange) else "window"
        _availability_changed(therapist, row, f"{prefix}_removed", request)
        row.delete()
    return True


def remove_weekly_window(
    therapist: User, window_id: int, *, request: HttpRequest | None = None
) -> bool:
    """Remove one of ``therapist``'s weekly windows; False when they have no such window."""
    return _remove_own(WeeklyWindow, therapist, window_id, request)


def add_availability_change(
    therapist: User,
    *,
    kind: str,
    starts_at: datetime,
    ends_at: datetime,
    request: HttpRequest | None = None,
) -> AvailabilityChange:
    if not therapist.is_therapist:
        raise PermissionDenied("only therapists have working hours")
    if kind not in AvailabilityChange.Kind.values:
        raise SchedulingError(_("Choose extra hours or time off."), code="kind")
    if ends_at <= starts_at:
        raise SchedulingError(_("The change must end after it starts."), code="order")
    if ends_at <= timezone.now():
        raise SchedulingError(_("That time is already over."), code="past")
    if ends_at - starts_at > timedelta(days=366):
        raise SchedulingError(_("A change can last at most a year."), code="length")
    with transaction.atomic():
        if AvailabilityChange.objects.filter(
            therapist=therapist, kind=kind, starts_at=starts_at, ends_at=ends_at
        ).exists():
            raise SchedulingError(_("This change is already in your list."), code="duplicate")
        change = AvailabilityChange.objects.create(
            therapist=therapist, kind=kind, starts_at=starts_at, ends_at=ends_at
        )
        _availability_changed(therapist, change, f"{kind}_added", request)
    return change


def remove_availability_change(
    therapist: User, change_id: int, *, request: HttpRequest | None = None
) -> bool:
    """Remove one of ``therapist``'s one-off changes; False when they have no such change."""
    return _remove_own(AvailabilityChange, therapist, change_id, request)


def save_session_type(
    therapist: User,
    session_type: SessionType | None,
    values: dict[str, object],
    *,
    request: HttpRequest | None = None,
) -> SessionType:
    """Create a session type (``session_type`` None) or change one of the therapist's own.

    Booked appointments keep their times: a new length applies to new bookings only.
    """
    if not therapist.is_therapist:
        raise PermissionDenied("only therapists offer sessions")
    if session_type is not None and session_type.therapist_id != therapist.pk:
        raise PermissionDenied("not your session type")
    item = session_type or SessionType(therapist=therapist)
    for name in SESSION_TYPE_FIELDS:
        if name in values:
            setattr(item, name, values[name])
    item.name = " ".join(str(item.name).split())
    if not (item.allow_video or item.allow_audio or item.allow_text):
        raise SchedulingError(_("Choose at least one way to hold the session."), code="modality")
    with transaction.atomic():
        same_name = SessionType.objects.filter(therapist=therapist, name__iexact=item.name)
        if item.pk is not None:
            same_name = same_name.exclude(pk=item.pk)
        if same_name.exists():
            raise SchedulingError(
                _("You already have a session type named “%(name)s”.") % {"name": item.name},
                code="duplicate",
            )
        item.full_clean(exclude=["therapist"])
        item.save()
        _availability_changed(
            therapist,
            item,
            "session_type_added" if session_type is None else "session_type_changed",
            request,
        )
    return item


def availability_conflicts(therapist: User, *, now: datetime | None = None) -> list[Appointment]:
    """Upcoming live appointments that no longer fit inside the therapist's working time."""
    from bisect import bisect_right

    now = now or timezone.now()
    upcoming = list(
        Appointment.objects.filter(therapist=therapist, status__in=LIVE_STATUSES, ends_at__gt=now)
        .select_related("client", "session_type")
        .order_by("starts_at")[:1000]
    )
    if not upcoming:
        return []
    working = working_time(therapist, upcoming[0].starts_at, max(a.ends_at for a in upcoming))
    starts = [start for start, _end in working]
    conflicts = []
    for appointment in upcoming:
        index = bisect_right(starts, appointment.starts_at) - 1
        if index < 0 or working[index][1] < appointment.ends_at:
            conflicts.append(appointment)
    return conflicts
