"""The calendar grids: a therapist's day, week and month, and the practice's day for admins.

Times are laid out by the viewer's wall clock, in rows of ``STEP`` minutes, so a 09:00 session
sits on the 09:00 row on both sides of a daylight-saving change. Working time is shaded, and a
live appointment that overlaps another or falls outside working time is flagged as a conflict
(in words on the page, not only in colour). Building a grid costs the same few queries however
many appointments it holds.
"""

from __future__ import annotations

import zoneinfo
from bisect import bisect_right
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time, timedelta

from rapport.accounts.models import User
from rapport.lib.intervals import Interval, local_to_utc
from rapport.scheduling.models import Appointment

STEP = 15  # minutes per row
DAY = 24 * 60
# The hours always shown, widened to hold whatever falls outside them.
FIRST_HOUR, LAST_HOUR = 8, 18


class Conflict:
    OVERLAP = "overlap"
    OUTSIDE = "outside"


@dataclass(frozen=True)
class Band:
    """Working time on one day, in local wall-clock minutes from midnight."""

    starts: datetime
    ends: datetime
    first_minute: int
    last_minute: int
    row: int = 0
    span: int = 0


@dataclass(frozen=True)
class Block:
    appointment: Appointment
    starts: datetime  # local
    ends: datetime  # local
    first_minute: int
    last_minute: int
    conflicts: tuple[str, ...]
    consent_signed: bool | None
    movable: bool
    row: int = 0
    span: int = 0

    @property
    def overlaps(self) -> bool:
        return Conflict.OVERLAP in self.conflicts

    @property
    def outside(self) -> bool:
        return Conflict.OUTSIDE in self.conflicts


@dataclass
class Column:
    """One day of one therapist's calendar."""

    day: date
    therapist: User | None = None
    bands: list[Band] = field(default_factory=list)
    blocks: list[Block] = field(default_factory=list)

    @property
    def conflict_count(self) -> int:
        return sum(1 for b in self.blocks if b.conflicts)


@dataclass(frozen=True)
class Frame:
    """The hours a grid shows: rows of ``STEP`` minutes from ``first_hour`` to ``last_hour``."""

    first_hour: int
    last_hour: int

    @property
    def rows(self) -> int:
        return (self.last_hour - self.first_hour) * 60 // STEP

    @property
    def first_minute(self) -> int:
        return self.first_hour * 60

    @property
    def hour_marks(self) -> list[tuple[int, int]]:
        """(hour, row) of each hour line."""
        per_hour = 60 // STEP
        return [
            (h, 1 + (h - self.first_hour) * per_hour)
            for h in range(self.first_hour, self.last_hour)
        ]


def day_bounds(day: date, zone: zoneinfo.ZoneInfo) -> Interval:
    """Local midnight to the next one, in UTC: 23 or 25 hours on a daylight-saving change."""
    return local_to_utc(day, time(0), zone), local_to_utc(day + timedelta(days=1), time(0), zone)


def _minute(moment: datetime, day: date) -> int:
    """``moment`` (local) as minutes from ``day``'s midnight, clipped to the day."""
    if moment.date() < day:
        return 0
    if moment.date() > day:
        return DAY
    return moment.hour * 60 + moment.minute


def conflicts_of(
    appointments: list[Appointment], working: dict[int, list[Interval]]
) -> dict[int, tuple[str, ...]]:
    """What is wrong with each live appointment: it overlaps another live one of the same
    therapist, or does not fit inside one stretch of their working time."""
    live = sorted((a for a in appointments if a.is_live), key=lambda a: a.starts_at)
    found: dict[int, set[str]] = {a.pk: set() for a in live}
    for index, first in enumerate(live):
        for other in live[index + 1 :]:
            if other.starts_at >= first.ends_at:
                break
            if other.therapist_id == first.therapist_id:
                found[first.pk].add(Conflict.OVERLAP)
                found[other.pk].add(Conflict.OVERLAP)
    starts = {pk: [s for s, _e in intervals] for pk, intervals in working.items()}
    for appointment in live:
        intervals = working.get(appointment.therapist_id, [])
        index = bisect_right(starts.get(appointment.therapist_id, []), appointment.starts_at) - 1
        if index < 0 or intervals[index][1] < appointment.ends_at:
            found[appointment.pk].add(Conflict.OUTSIDE)
    return {pk: tuple(sorted(kinds)) for pk, kinds in found.items()}


def columns_for(
    days: list[date],
    zone: zoneinfo.ZoneInfo,
    appointments: list[Appointment],
    working: list[Interval],
    *,
    now: datetime,
    signed: set[int] | None = None,
    conflicts: dict[int, tuple[str, ...]] | None = None,
    therapist: User | None = None,
) -> list[Column]:
    """One column per day: each appointment on the day it starts (clipped to the first day),
    each stretch of working time on every day it touches."""
    columns = {day: Column(day, therapist) for day in days}
    conflicts = conflicts if conflicts is not None else {}
    for appointment in appointments:
        starts = appointment.starts_at.astimezone(zone)
        ends = appointment.ends_at.astimezone(zone)
        day = max(starts.date(), days[0])
        if day not in columns:
            continue
        columns[day].blocks.append(
            Block(
                appointment,
                starts,
                ends,
                _minute(starts, day),
                max(_minute(ends, day), _minute(starts, day) + 1),
                conflicts.get(appointment.pk, ()),
                None if signed is None else appointment.client_id in signed,
                appointment.is_live and appointment.starts_at > now,
            )
        )
    for start, end in working:
        starts, ends = start.astimezone(zone), end.astimezone(zone)
        day = starts.date()
        while day <= ends.date():
            first, last = _minute(starts, day), _minute(ends, day)
            if day in columns and last > first:
                columns[day].bands.append(Band(starts, ends, first, last))
            day += timedelta(days=1)
    return list(columns.values())


def frame_of(columns: list[Column]) -> Frame:
    """The hours that hold every band and block, at least ``FIRST_HOUR`` to ``LAST_HOUR``."""
    spans = [(i.first_minute, i.last_minute) for c in columns for i in c.bands] + [
        (i.first_minute, i.last_minute) for c in columns for i in c.blocks
    ]
    firsts, lasts = [f for f, _l in spans], [last for _f, last in spans]
    first = min([FIRST_HOUR * 60, *firsts]) // 60
    last = -(-max([LAST_HOUR * 60, *lasts]) // 60)
    return Frame(first, min(last, 24))


def placed(columns: list[Column], frame: Frame) -> list[Column]:
    """The columns with each band and block given its grid row and span."""

    def rows(first: int, last: int) -> tuple[int, int]:
        row = 1 + (first - frame.first_minute) // STEP
        span = max(1, -(-(last - first) // STEP))
        return row, min(span, frame.rows - row + 1)

    return [
        Column(
            c.day,
            c.therapist,
            [
                replace(b, row=r, span=n)
                for b in c.bands
                for r, n in [rows(b.first_minute, b.last_minute)]
            ],
            [
                replace(b, row=r, span=n)
                for b in c.blocks
                for r, n in [rows(b.first_minute, b.last_minute)]
            ],
        )
        for c in columns
    ]


def month_weeks(day: date) -> list[list[date]]:
    """The Monday-to-Sunday weeks that hold ``day``'s month."""
    first = day.replace(day=1)
    start = first - timedelta(days=first.weekday())
    following = (first + timedelta(days=32)).replace(day=1)
    weeks = []
    while start < following:
        weeks.append([start + timedelta(days=i) for i in range(7)])
        start += timedelta(days=7)
    return weeks


# --- The practice's week: a line per therapist, a cell per day ----------------------------------


@dataclass(frozen=True)
class DayLoad:
    """One therapist's day at a glance: live sessions, their minutes, working minutes, and how
    many of the sessions have a conflict."""

    day: date
    sessions: int = 0
    booked_minutes: int = 0
    working_minutes: int = 0
    conflicts: int = 0

    @property
    def booked_hours(self) -> float:
        return self.booked_minutes / 60

    @property
    def working_hours(self) -> float:
        return self.working_minutes / 60


def _overlap_minutes(intervals: list[Interval], start: datetime, end: datetime) -> int:
    seconds = sum(max(0.0, (min(e, end) - max(s, start)).total_seconds()) for s, e in intervals)
    return int(seconds // 60)


def week_loads(
    days: list[date],
    zone: zoneinfo.ZoneInfo,
    therapists: list[User],
    appointments: list[Appointment],
    working: dict[int, list[Interval]],
    conflicts: dict[int, tuple[str, ...]],
) -> list[tuple[User, list[DayLoad]]]:
    """For each therapist, a ``DayLoad`` per day of ``days`` (local days of ``zone``). A session
    counts on the day it starts; cancelled ones do not count."""
    bounds = [day_bounds(day, zone) for day in days]
    rows = []
    for therapist in therapists:
        own = [a for a in appointments if a.therapist_id == therapist.pk and a.is_live]
        loads = []
        for day, (start, end) in zip(days, bounds, strict=True):
            today = [a for a in own if start <= a.starts_at < end]
            loads.append(
                DayLoad(
                    day=day,
                    sessions=len(today),
                    booked_minutes=sum(
                        int((a.ends_at - a.starts_at).total_seconds() // 60) for a in today
                    ),
                    working_minutes=_overlap_minutes(working.get(therapist.pk, []), start, end),
                    conflicts=sum(1 for a in today if conflicts.get(a.pk)),
                )
            )
        rows.append((therapist, loads))
    return rows
