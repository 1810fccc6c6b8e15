"""Sessions across every daylight-saving change of every zone the tests use.

On the night clocks go back, a session at 01:30 for 50 minutes ends at 01:20 on the wall clock.
Its invitation (in the email) and the person's calendar feed must still say exactly when it
starts and ends, as a calendar app reads them, and the email's text must not read as a session
that ends before it starts. One event that cannot be written never takes the feed down.
"""

from __future__ import annotations

import email
import email.policy
import logging
import re
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage as Mail
from functools import cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, available_timezones

import pytest
import time_machine
from django.core.mail import EmailMessage as DjangoEmail
from django.test import Client
from icalendar import Calendar, Event

from rapport.accounts.models import User
from rapport.scheduling import ical, notifications
from rapport.scheduling.feeds import issue_feed
from rapport.scheduling.models import Appointment, SessionType
from tests.mail import body_of
from tests.scheduling_data import direct_appointment, person

# The clock stands still in 2027: the feed (30 days back, a year ahead) holds all of 2027.
TODAY = datetime(2027, 1, 2, 12, tzinfo=UTC)
YEAR_END = datetime(2027, 12, 31, tzinfo=UTC)
SESSION = timedelta(minutes=50)
# Sessions starting from 90 minutes before a change to an hour after it, every 10 minutes:
# starts and ends before, inside and after the skipped or repeated wall-clock time.
OFFSETS = [timedelta(minutes=m) for m in range(-90, 61, 10)]


@cache
def zones_in_tests() -> list[str]:
    """Every IANA zone named anywhere in the tests (so a test that adds a zone adds it here)."""
    named: set[str] = set()
    for path in Path(__file__).parent.rglob("*.py"):
        named.update(re.findall(r"""["']([A-Z][A-Za-z_]+/[A-Za-z_/]+)["']""", path.read_text()))
    return sorted(named & available_timezones())


def transitions(zone: str) -> list[datetime]:
    """The instants (UTC) in 2027 at which ``zone`` changes its offset, to the minute."""
    tz = ZoneInfo(zone)
    found = []
    moment = TODAY
    while moment < YEAR_END:
        later = moment + timedelta(hours=1)
        if moment.astimezone(tz).utcoffset() != later.astimezone(tz).utcoffset():
            low, high = moment, later
            while high - low > timedelta(minutes=1):
                middle = low + (high - low) / 2
                if low.astimezone(tz).utcoffset() == middle.astimezone(tz).utcoffset():
                    low = middle
                else:
                    high = middle
            found.append(high.replace(second=0, microsecond=0))
        moment = later
    return found


def zones_with_changes() -> list[str]:
    return [zone for zone in zones_in_tests() if transitions(zone)]


def test_the_zones_cover_both_directions() -> None:
    zones = zones_with_changes()
    assert {"Europe/London", "America/New_York", "Pacific/Auckland"} <= set(zones)
    assert "Australia/Lord_Howe" in zones, "a half-hour change"
    for zone in zones:
        tz = ZoneInfo(zone)
        shifts = {
            (at.astimezone(tz).utcoffset() or timedelta())
            - ((at - timedelta(minutes=1)).astimezone(tz).utcoffset() or timedelta())
            > timedelta()
            for at in transitions(zone)
        }
        assert shifts == {True, False}, f"{zone}: clocks go forward and back in 2027"


def as_mail_app_reads(message: DjangoEmail) -> Mail:
    parsed = email.message_from_bytes(bytes(message.message()), policy=email.policy.default)
    assert isinstance(parsed, Mail)
    return parsed


def calendar_of(message: Mail) -> Calendar:
    [part] = [p for p in message.walk() if p.get_content_type() == "text/calendar"]
    calendar = Calendar.from_ical(part.get_content())
    assert isinstance(calendar, Calendar)
    return calendar


def instant(moment: datetime) -> datetime:
    """In UTC: Python never calls two zones' times equal inside a repeated hour (PEP 495)."""
    return moment.astimezone(UTC)


def written_at(event: Event, prop: str) -> datetime:
    """DTSTART or DTEND as a calendar app reads it: in UTC, or on the zone's wall clock, where
    RFC 5545 reads a repeated time as its first occurrence."""
    written: Any = event[prop]
    moment = written.dt
    assert isinstance(moment, datetime), prop
    tzid = written.params.get("TZID")
    if tzid is not None:
        return moment.replace(tzinfo=ZoneInfo(tzid), fold=0)
    assert moment.utcoffset() == timedelta(), f"{prop} is in UTC or in its zone"
    return moment


def assert_exact(event: Event, appointment: Appointment) -> None:
    """The event starts and ends at the appointment's instants, as a calendar app reads them."""
    start, end = written_at(event, "DTSTART"), written_at(event, "DTEND")
    assert instant(start) == appointment.starts_at
    assert instant(end) == appointment.ends_at
    assert instant(end) > instant(start)


def times_on(line: str) -> tuple[str, str]:
    match = re.search(r", ([^,]+) – (.+) \(", line)  # noqa: RUF001
    assert match is not None, line
    return match.group(1), match.group(2)


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("zone", zones_with_changes())
def test_sessions_across_every_change_make_valid_invitations_and_feeds(zone: str) -> None:
    tz = ZoneInfo(zone)
    # One pair of people per start offset: a person's sessions may not overlap (PostgreSQL
    # refuses it), and those starting ten minutes apart would.
    pairs = [
        (
            person(f"t{index}@dst.test", "therapist", f"Tess Therapist {index}", zone),
            person(f"c{index}@dst.test", "client", f"Cal Client {index}", zone),
        )
        for index in range(len(OFFSETS))
    ]
    booked: dict[int, list[Appointment]] = {}
    with time_machine.travel(TODAY, tick=False):
        for (therapist, client), offset in zip(pairs, OFFSETS, strict=True):
            session_type = SessionType.objects.create(
                therapist=therapist, name="Session", minutes=50, buffer_minutes=0
            )
            booked[client.pk] = [
                direct_appointment(session_type, client, at + offset) for at in transitions(zone)
            ]
        for therapist, client in pairs:
            for appointment in booked[client.pk]:
                start = appointment.starts_at.astimezone(tz)
                end = appointment.ends_at.astimezone(tz)
                for someone in (client, therapist):
                    for change in ("booked", "cancelled"):
                        message = as_mail_app_reads(
                            notifications.change_email(appointment, change, someone)
                        )
                        [event] = calendar_of(message).events
                        assert_exact(event, appointment)
                        [when] = re.findall(r"^When: (.+)$", body_of(message), re.MULTILINE)
                        shown_start, shown_end = times_on(when)
                        if end.replace(tzinfo=None) <= start.replace(tzinfo=None):
                            # The wall clock went back: the text says which side of the change.
                            assert str(start.tzname()) in shown_start, when
                            assert str(end.tzname()) in shown_end, when

            for owner in (client, therapist):
                response = Client().get(f"/calendar/{issue_feed(owner)}.ics")
                assert response.status_code == 200
                calendar = Calendar.from_ical(response.content)
                assert isinstance(calendar, Calendar)
                events = {str(event.uid): event for event in calendar.events}
                assert len(events) == len(booked[client.pk])
                for appointment in booked[client.pk]:
                    assert_exact(events[ical.event_uid(appointment)], appointment)


@pytest.mark.django_db(transaction=True)
def test_one_event_that_cannot_be_written_leaves_the_rest_of_the_feed(
    therapist_x: User,
    client_a: User,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    session_type = SessionType.objects.create(therapist=therapist_x, name="Session", minutes=50)
    with time_machine.travel(TODAY, tick=False):
        kept = direct_appointment(session_type, client_a, TODAY + timedelta(days=2))
        broken = direct_appointment(session_type, client_a, TODAY + timedelta(days=3))
        # A fault no real appointment has any more: writing this one event fails.
        write_event = ical._event

        def failing(appointment: Appointment, *args: object, **kwargs: object) -> Event:
            if appointment.pk == broken.pk:
                raise ValueError(f"cannot write {client_a.full_name} {client_a.email}")
            return write_event(appointment, *args, **kwargs)  # type: ignore[arg-type]

        monkeypatch.setattr(ical, "_event", failing)
        with caplog.at_level(logging.WARNING, logger="rapport.scheduling"):
            response = Client().get(f"/calendar/{issue_feed(client_a)}.ics")
            # Its email still goes out and tells the time, without the calendar file.
            message = as_mail_app_reads(notifications.change_email(broken, "booked", client_a))
    assert "Your session with Xena Therapist is booked." in body_of(message)
    assert [p for p in message.walk() if p.get_content_type() == "text/calendar"] == []
    assert response.status_code == 200
    calendar = Calendar.from_ical(response.content)
    assert isinstance(calendar, Calendar)
    assert [str(event.uid) for event in calendar.events] == [ical.event_uid(kept)]
    logged = [r for r in caplog.records if r.name.startswith("rapport.scheduling")]
    assert len(logged) == 2
    for entry in logged:
        assert f"appointment {broken.pk} (ValueError)" in entry.getMessage()
        assert client_a.full_name not in entry.getMessage()
        assert client_a.email not in entry.getMessage()
        assert entry.exc_info is None, "a traceback could carry the failing value"
