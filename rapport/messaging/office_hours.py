"""When a therapist reads messages, and what a client may expect before sending one.

Office hours are weekly wall-clock windows in the therapist's zone (``OfficeHours``); every
moment is worked out on that zone's clocks with ``zoneinfo`` and compared in UTC, so 9:00 stays
9:00 across daylight-saving changes on either side.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta

from django.utils.formats import date_format
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from rapport.accounts.models import User
from rapport.core.clock import clock, weekday_date
from rapport.messaging.preferences import Window, office_hours_of, settings_for, wall_clock, zone_of

WEEKDAYS = [0, 1, 2, 3, 4, 5, 6]


@dataclass(frozen=True)
class Expectation:
    """What the conversation page tells a client about replies, before they send."""

    has_office_hours: bool
    open_now: bool  # in office hours now, or no office hours set (nothing to wait for)
    response_hours: int
    # The start of the next office hours (UTC; ``at`` itself while open), None without hours.
    next_opening: datetime | None
    # One plain sentence in the reader's zone and language.
    sentence: str

    @property
    def away(self) -> bool:
        """Outside office hours: show when to expect an answer and the crisis resources."""
        return not self.open_now


def _open_at(windows: list[Window], local: datetime) -> bool:
    clock = local.time().replace(tzinfo=None)
    return any(w.weekday == local.weekday() and w.starts <= clock < w.ends for w in windows)


def _next_opening(therapist: User, windows: list[Window], at: datetime) -> datetime | None:
    if not windows:
        return None
    zone = zone_of(therapist)
    local = at.astimezone(zone)
    if _open_at(windows, local):
        return at
    for offset in range(8):
        day = local.date() + timedelta(days=offset)
        for window in windows:
            if window.weekday != day.weekday():
                continue
            starts = wall_clock(day, window.starts, zone)
            if starts > at:
                return starts
    return None


def reply_time(hours: int) -> str:
    """48 → "2 days", 36 → "36 hours", 1 → "1 hour"."""
    if hours % 24 == 0 and hours >= 48:
        days = hours // 24
        return ngettext("%(count)d day", "%(count)d days", days) % {"count": days}
    return ngettext("%(count)d hour", "%(count)d hours", hours) % {"count": hours}


def _clock(at: time) -> str:
    return clock(at)


def describe_hours(windows: list[Window]) -> str:
    """Days with the same hours joined: "Monday to Friday 9:00 to 17:00" (with en dashes)."""
    by_day: dict[int, tuple[tuple[time, time], ...]] = {
        day: tuple((w.starts, w.ends) for w in windows if w.weekday == day) for day in WEEKDAYS
    }
    names = [date_format(datetime(2024, 1, 1 + day, tzinfo=UTC), "l") for day in WEEKDAYS]
    parts: list[str] = []
    day = 0
    while day < 7:
        hours = by_day[day]
        last = day
        while last + 1 < 7 and by_day[last + 1] == hours:
            last += 1
        if hours:
            days = names[day] if last == day else f"{names[day]}–{names[last]}"  # noqa: RUF001
            times = ", ".join(f"{_clock(s)}–{_clock(e)}" for s, e in hours)  # noqa: RUF001
            parts.append(f"{days} {times}")
        day = last + 1
    return "; ".join(parts)


def _moment(at: datetime, reader: User, now: datetime) -> str:
    """A coming moment as ``reader`` reads it: "today 9:00", "Monday 9:00", or with the date."""
    zone = zone_of(reader)
    local, today = at.astimezone(zone), now.astimezone(zone).date()
    at_clock = clock(local, convert=False)
    if local.date() == today:
        return _("today at %(time)s") % {"time": at_clock}
    if local.date() == today + timedelta(days=1):
        return _("tomorrow at %(time)s") % {"time": at_clock}
    return _("%(day)s at %(time)s") % {"day": weekday_date(local), "time": at_clock}


def expectation(therapist: User, at: datetime, viewer: User | None = None) -> Expectation:
    """What to tell ``viewer`` (the client; the therapist when None) about replies at ``at``.

    Times in the sentence are on the viewer's clocks; the office hours are the therapist's,
    named with their zone when the two differ.
    """
    reader = viewer or therapist
    windows = office_hours_of(therapist)
    hours = settings_for(therapist).response_hours
    opening = _next_opening(therapist, windows, at)
    open_now = not windows or opening == at
    name = therapist.full_name
    within = _("%(name)s usually replies within %(time)s.") % {
        "name": name,
        "time": reply_time(hours),
    }
    if not windows:
        sentence = within
    else:
        reads = _("%(name)s reads messages %(hours)s") % {
            "name": name,
            "hours": describe_hours(windows),
        }
        if zone_of(therapist).key != zone_of(reader).key:
            reads += " " + _("(%(zone)s time)") % {"zone": zone_of(therapist).key}
        sentence = f"{reads}. {within}"
        if not open_now and opening is not None:
            sentence += " " + _(
                "%(name)s is away now: expect an answer from %(when)s, your time."
            ) % {"name": name, "when": _moment(opening, reader, at)}
    return Expectation(
        has_office_hours=bool(windows),
        open_now=open_now,
        response_hours=hours,
        next_opening=opening,
        sentence=sentence,
    )
