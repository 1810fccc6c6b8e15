"""What a person chose about messaging: unread-message emails and quiet hours; for therapists also
the reply time clients may expect and weekly office hours.

Quiet hours are wall-clock times in the person's own zone, office hours in the therapist's zone,
so 22:00 stays 22:00 across daylight-saving changes.
"""

from __future__ import annotations

import itertools
import zoneinfo
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import HttpRequest
from django.utils.translation import gettext as _

from rapport.accounts.models import User
from rapport.audit.services import Action, record
from rapport.core.clock import clock
from rapport.messaging.models import MessagingSettings, OfficeHours

DEFAULT_DELAY_MINUTES = 10
SHORTEST_DELAY_MINUTES = 5  # of the unread-message email: the settings form's minimum


@dataclass(frozen=True)
class Window:
    """One weekly office-hours window (0 = Monday), in the therapist's zone."""

    weekday: int
    starts: time
    ends: time


def settings_for(user: User | int) -> MessagingSettings:
    """The person's messaging settings, made with the defaults on first use."""
    user_id = user if isinstance(user, int) else user.pk
    found, _created = MessagingSettings.objects.get_or_create(user_id=user_id)
    return found


def zone_of(user: User) -> zoneinfo.ZoneInfo:
    try:
        return zoneinfo.ZoneInfo(user.time_zone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return zoneinfo.ZoneInfo("UTC")


def wall_clock(day: date, at: time, zone: zoneinfo.ZoneInfo) -> datetime:
    """``day`` at ``at`` on the clocks of ``zone``, as an aware datetime in UTC.

    A time that does not exist (skipped when clocks go forward) comes out one hour later, as the
    clocks on the wall show it; a repeated one is its first occurrence.
    """
    return datetime.combine(day, at, tzinfo=zone).astimezone(zoneinfo.ZoneInfo("UTC"))


def quiet_hours_end(
    prefs: MessagingSettings, zone: zoneinfo.ZoneInfo, now: datetime
) -> datetime | None:
    """When the quiet hours that ``now`` falls in end, or None outside quiet hours.

    A range may cross midnight (22:00 to 07:00); equal or missing ends mean no quiet hours.
    """
    start, end = prefs.quiet_from, prefs.quiet_until
    if start is None or end is None or start == end:
        return None
    local = now.astimezone(zone)
    clock = local.time().replace(tzinfo=None)
    inside = start <= clock < end if start < end else clock >= start or clock < end
    if not inside:
        return None
    day = local.date() if clock < end else local.date() + timedelta(days=1)
    return wall_clock(day, end, zone)


def quiet_now(sender: object, *, user: User, now: datetime, **kwargs: object) -> datetime | None:
    """Answers ``rapport.push.signals.quiet_hours_end``: push keeps the same quiet hours."""
    return quiet_hours_end(settings_for(user), zone_of(user), now)


def check_windows(windows: list[Window]) -> None:
    """Refuse a window that ends before it starts, or two windows of one day that overlap."""
    by_day: dict[int, list[Window]] = {}
    for window in windows:
        if not 0 <= window.weekday <= 6:
            raise ValidationError(_("A weekday is out of range."), code="weekday")
        if window.ends <= window.starts:
            raise ValidationError(_("Office hours must end after they start."), code="order")
        by_day.setdefault(window.weekday, []).append(window)
    for day in by_day.values():
        day.sort(key=lambda w: w.starts)
        for earlier, later in itertools.pairwise(day):
            if later.starts < earlier.ends:
                raise ValidationError(
                    _("Office hours on the same day overlap: %(a)s and %(b)s.")
                    % {
                        "a": f"{clock(earlier.starts)}–{clock(earlier.ends)}",  # noqa: RUF001
                        "b": f"{clock(later.starts)}–{clock(later.ends)}",  # noqa: RUF001
                    },
                    code="overlap",
                )


def office_hours_of(therapist: User) -> list[Window]:
    return [
        Window(row.weekday, row.starts, row.ends)
        for row in OfficeHours.objects.filter(therapist=therapist).order_by("weekday", "starts")
    ]


def save_messaging_settings(
    user: User,
    *,
    email_when_unread: bool,
    email_delay_minutes: int,
    quiet_from: time | None,
    quiet_until: time | None,
    response_hours: int | None = None,
    office_hours: list[Window] | None = None,
    request: HttpRequest | None = None,
) -> list[str]:
    """Save a person's choices (office hours replace the old ones); audited. The changed fields.

    ``response_hours`` and ``office_hours`` are for therapists and ignored for anyone else.
    Raises ``ValidationError`` for quiet hours with one end only, or overlapping office hours.
    """
    if (quiet_from is None) != (quiet_until is None):
        raise ValidationError(_("Give both ends of the quiet hours, or neither."), code="quiet")
    with transaction.atomic():
        prefs = MessagingSettings.objects.select_for_update().filter(user=user).first()
        if prefs is None:
            prefs = settings_for(user)
        values: dict[str, object] = {
            "email_when_unread": email_when_unread,
            "email_delay_minutes": email_delay_minutes,
            "quiet_from": quiet_from,
            "quiet_until": quiet_until,
        }
        if user.is_therapist and response_hours is not None:
            values["response_hours"] = response_hours
        changed = sorted(name for name, value in values.items() if getattr(prefs, name) != value)
        for name in changed:
            setattr(prefs, name, values[name])
        if changed:
            prefs.save(update_fields=changed)
        if user.is_therapist and office_hours is not None:
            check_windows(office_hours)
            if set(office_hours) != set(office_hours_of(user)):
                OfficeHours.objects.filter(therapist=user).delete()
                OfficeHours.objects.bulk_create(
                    OfficeHours(therapist=user, weekday=w.weekday, starts=w.starts, ends=w.ends)
                    for w in office_hours
                )
                changed.append("office_hours")
        if changed:
            record(
                Action.MESSAGING_SETTINGS_CHANGED,
                actor=user,
                request=request,
                obj=prefs,
                fields=changed,
            )
    return changed
