"""The slot picker: one week of a session type's open slots at a time, grouped by the viewer's
local day, each with the therapist's own time when it differs.
"""

from __future__ import annotations

import zoneinfo
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from django.utils import timezone

from rapport.lib.intervals import local_to_utc
from rapport.scheduling.availability import display_zone, open_slots
from rapport.scheduling.forms import slot_value
from rapport.scheduling.models import SessionType


@dataclass(frozen=True)
class SlotChoice:
    value: str
    starts_at: datetime
    ends_at: datetime
    # The same start in the therapist's zone, when their wall-clock time differs.
    therapist_time: datetime | None


@dataclass(frozen=True)
class SlotDay:
    day: date
    slots: list[SlotChoice]


@dataclass(frozen=True)
class Picker:
    days: list[SlotDay]
    week: int
    weeks: int
    first: date
    last: date
    therapist_zone: str

    @property
    def has_previous(self) -> bool:
        return self.week > 0

    @property
    def has_next(self) -> bool:
        return self.week < self.weeks - 1


def week_number(value: str | None) -> int:
    """The week asked for in the address (0: this one), between 0 and 60; 0 when unreadable."""
    try:
        return max(0, min(int(value or "0"), 60))
    except ValueError:
        return 0


def slot_picker(session_type: SessionType, zone: zoneinfo.ZoneInfo, week: int) -> Picker:
    """Open slots of one week (from today, in the viewer's zone), grouped by local day."""
    weeks = session_type.horizon_days // 7 + 1
    week = min(week, weeks - 1)
    first = timezone.localdate(timezone=zone) + timedelta(weeks=week)
    therapist_zone = display_zone(session_type.therapist)
    slots = open_slots(
        session_type,
        start=local_to_utc(first, time(0), zone),
        end=local_to_utc(first + timedelta(days=7), time(0), zone),
    )
    by_day: dict[date, list[SlotChoice]] = {}
    for slot in slots:
        local = slot.starts_at.astimezone(zone)
        theirs = slot.starts_at.astimezone(therapist_zone)
        differs = theirs.replace(tzinfo=None) != local.replace(tzinfo=None)
        by_day.setdefault(local.date(), []).append(
            SlotChoice(slot_value(slot.starts_at), local, slot.ends_at, theirs if differs else None)
        )
    return Picker(
        days=[SlotDay(day, choices) for day, choices in by_day.items()],
        week=week,
        weeks=weeks,
        first=first,
        last=first + timedelta(days=6),
        therapist_zone=therapist_zone.key,
    )
