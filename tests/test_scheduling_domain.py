"""Scheduling rules at the service level: time zones, series, late cancels, bad input, open slots.

"Now" is fixed with time_machine in every test, because open slots depend on minimum notice and
the booking horizon. Dates are in 2027, whose daylight-saving changes the tests name.
"""

from __future__ import annotations

import itertools
import zoneinfo
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import pytest
from django.core.exceptions import PermissionDenied
from django.test import RequestFactory
from time_machine import TimeMachineFixture

from rapport.accounts.models import Practice, User
from rapport.audit.models import AuditEvent
from rapport.care.models import CareRelationship
from rapport.scheduling.availability import Slot, open_slots
from rapport.scheduling.booking import BookingRequest, book_appointment, book_series
from rapport.scheduling.changes import cancel_appointment, is_late, reschedule_appointment
from rapport.scheduling.consent import has_current_consent, publish_consent, sign_consent
from rapport.scheduling.errors import SchedulingError, SlotTaken
from rapport.scheduling.models import (
    Appointment,
    AppointmentSeries,
    AppointmentStatus,
    AvailabilityChange,
    SessionType,
)
from tests.scheduling_data import (
    at,
    consent_version,
    direct_appointment,
    person,
    ready_client,
    therapist_with_hours,
)

NEW_YORK = "America/New_York"
LONDON = "Europe/London"
AUCKLAND = "Pacific/Auckland"
LOS_ANGELES = "America/Los_Angeles"
NINE_TO_ELEVEN = ["09:00", "09:15", "09:30", "09:45", "10:00", "10:15", "10:30", "10:45", "11:00"]


def local(moment: datetime, zone: str) -> datetime:
    return moment.astimezone(zoneinfo.ZoneInfo(zone))


def wall_times(slots: list[Slot], zone: str, day: date) -> list[str]:
    """The local start times of the slots that start on ``day`` in ``zone``."""
    starts = (local(slot.starts_at, zone) for slot in slots)
    return [start.strftime("%H:%M") for start in starts if start.date() == day]


def booked_events() -> int:
    return AuditEvent.objects.filter(action="appointment.booked").count()


# --- Daylight saving -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("zone", "before", "after", "utc_hour_before", "utc_hour_after"),
    [
        pytest.param(NEW_YORK, date(2027, 3, 8), date(2027, 3, 15), 14, 13, id="new-york-march"),
        pytest.param(NEW_YORK, date(2027, 11, 1), date(2027, 11, 8), 13, 14, id="new-york-nov"),
        pytest.param(LONDON, date(2027, 3, 22), date(2027, 3, 29), 9, 8, id="london-march"),
        pytest.param(LONDON, date(2027, 10, 25), date(2027, 11, 1), 8, 9, id="london-october"),
    ],
)
def test_a_nine_oclock_window_stays_nine_oclock_across_daylight_saving(
    db: Any,
    time_machine: TimeMachineFixture,
    zone: str,
    before: date,
    after: date,
    utc_hour_before: int,
    utc_hour_after: int,
) -> None:
    _, session_type = therapist_with_hours(zone=zone)  # Mondays 09:00-12:00, 60 minutes
    time_machine.move_to(at(before - timedelta(days=4), time(12), zone), tick=False)

    slots = open_slots(session_type)

    for monday, utc_hour in ((before, utc_hour_before), (after, utc_hour_after)):
        assert wall_times(slots, zone, monday) == NINE_TO_ELEVEN
        first = next(s for s in slots if local(s.starts_at, zone).date() == monday)
        assert first.starts_at.astimezone(UTC).hour == utc_hour
    # Every slot of the eight weeks is a Monday morning in the therapist's zone.
    assert {local(s.starts_at, zone).weekday() for s in slots} == {0}
    assert {local(s.starts_at, zone).strftime("%H:%M") for s in slots} == set(NINE_TO_ELEVEN)


@pytest.mark.parametrize(
    ("zone", "sunday", "window", "expected"),
    [
        # 02:00-03:00 does not exist in New York that night: the window starts at 03:00 EDT.
        pytest.param(
            NEW_YORK,
            date(2027, 3, 14),
            (time(2), time(4)),
            ["03:00", "03:15", "03:30"],
            id="new-york",
        ),
        # 01:00-02:00 does not exist in London that night: the window starts at 02:00 BST.
        pytest.param(
            LONDON, date(2027, 3, 28), (time(1), time(3)), ["02:00", "02:15", "02:30"], id="london"
        ),
        # Lord Howe Island skips only 02:00-02:30: the window starts at 02:30, not an hour late.
        pytest.param(
            "Australia/Lord_Howe",
            date(2027, 10, 3),
            (time(2), time(4)),
            ["02:30", "02:45", "03:00", "03:15", "03:30"],
            id="lord-howe-half-hour",
        ),
    ],
)
def test_a_window_over_the_skipped_hour_offers_only_real_times(
    db: Any,
    time_machine: TimeMachineFixture,
    zone: str,
    sunday: date,
    window: tuple[time, time],
    expected: list[str],
) -> None:
    therapist, session_type = therapist_with_hours(zone=zone, windows=[(6, *window)], minutes=30)
    time_machine.move_to(at(sunday - timedelta(days=5), time(12), zone), tick=False)

    slots = open_slots(session_type, end=at(sunday + timedelta(days=8), time(0), zone))

    assert wall_times(slots, zone, sunday) == expected
    # The Sunday after has the full two hours again.
    assert len(wall_times(slots, zone, sunday + timedelta(days=7))) == 7
    starts = [s.starts_at for s in slots]
    assert starts == sorted(set(starts))
    for start in starts:  # every offered wall time exists: it survives a round trip
        wall = local(start, zone).replace(tzinfo=None)
        assert wall.replace(tzinfo=zoneinfo.ZoneInfo(zone)).astimezone(UTC) == start

    client = ready_client(therapist, "skipped.hour@example.test", zone=zone)
    appointment = book_appointment(
        client, BookingRequest(client, session_type, "video", slots[0].starts_at)
    )
    assert local(appointment.starts_at, zone).strftime("%H:%M") == expected[0]


@pytest.mark.parametrize(
    ("zone", "sunday", "offsets"),
    [
        pytest.param(NEW_YORK, date(2027, 11, 7), (-4, -5), id="new-york"),
        pytest.param(LONDON, date(2027, 10, 31), (1, 0), id="london"),
    ],
)
def test_a_window_over_the_repeated_hour_lasts_as_long_as_the_clock_says(
    db: Any,
    time_machine: TimeMachineFixture,
    zone: str,
    sunday: date,
    offsets: tuple[int, int],
) -> None:
    # 01:00-02:00 happens twice that night: the therapist works both passes, each slot once.
    _, session_type = therapist_with_hours(zone=zone, windows=[(6, time(1), time(2))], minutes=30)
    time_machine.move_to(at(sunday - timedelta(days=5), time(12), zone), tick=False)

    slots = open_slots(session_type, end=at(sunday + timedelta(days=1), time(0), zone))

    summer, winter = offsets
    seen = []
    for slot in slots:
        wall_clock = local(slot.starts_at, zone)
        offset = wall_clock.utcoffset()
        assert offset is not None
        seen.append((wall_clock.strftime("%H:%M"), int(offset.total_seconds() // 3600)))
    assert seen == [
        ("01:00", summer),
        ("01:15", summer),
        ("01:30", summer),
        ("01:45", summer),
        ("01:00", winter),
        ("01:15", winter),
        ("01:30", winter),
    ]
    starts = [s.starts_at for s in slots]
    assert starts == sorted(set(starts))
    assert all(b - a == timedelta(minutes=15) for a, b in itertools.pairwise(starts))


# --- Far-apart zones -----------------------------------------------------------------------------


def test_far_apart_zones_see_the_same_instants_on_different_days(
    db: Any, time_machine: TimeMachineFixture, admin: User
) -> None:
    therapist, session_type = therapist_with_hours(zone=AUCKLAND)
    consent_version(admin)
    client = ready_client(therapist, "la.client@example.test", zone=LOS_ANGELES)
    time_machine.move_to(datetime(2027, 6, 1, tzinfo=UTC), tick=False)

    slot = open_slots(session_type)[0]

    # Monday 09:00 in Auckland (NZST, +12) is Sunday 14:00 in Los Angeles (PDT, -7).
    assert slot.starts_at == datetime(2027, 6, 6, 21, tzinfo=UTC)
    assert local(slot.starts_at, AUCKLAND).strftime("%A %H:%M") == "Monday 09:00"
    assert local(slot.starts_at, LOS_ANGELES).strftime("%A %H:%M") == "Sunday 14:00"

    appointment = book_appointment(
        client, BookingRequest(client, session_type, "video", slot.starts_at)
    )
    appointment.refresh_from_db()
    assert appointment.starts_at == slot.starts_at
    assert appointment.status == AppointmentStatus.CONFIRMED
    assert appointment.booked_by == client
    assert local(appointment.starts_at, LOS_ANGELES).strftime("%Y-%m-%d %H:%M") == (
        "2027-06-06 14:00"
    )
    assert slot not in open_slots(session_type)


def test_when_only_one_zone_changes_the_therapist_keeps_the_wall_time(
    db: Any, time_machine: TimeMachineFixture
) -> None:
    # Los Angeles springs forward on 14 March; Auckland falls back on 4 April.
    _, session_type = therapist_with_hours(zone=AUCKLAND)
    time_machine.move_to(datetime(2027, 3, 3, tzinfo=UTC), tick=False)

    firsts: dict[str, str] = {}
    for slot in open_slots(session_type):
        therapist_day = local(slot.starts_at, AUCKLAND).strftime("%m-%d %a %H:%M")
        firsts.setdefault(
            therapist_day[:5],
            therapist_day[6:] + " = " + (local(slot.starts_at, LOS_ANGELES).strftime("%a %H:%M")),
        )

    assert firsts == {
        "03-08": "Mon 09:00 = Sun 12:00",
        "03-15": "Mon 09:00 = Sun 13:00",
        "03-22": "Mon 09:00 = Sun 13:00",
        "03-29": "Mon 09:00 = Sun 13:00",
        "04-05": "Mon 09:00 = Sun 14:00",
        "04-12": "Mon 09:00 = Sun 14:00",
        "04-19": "Mon 09:00 = Sun 14:00",
        "04-26": "Mon 09:00 = Sun 14:00",
    }


# --- Recurring series ----------------------------------------------------------------------------


@pytest.fixture
def weekly(db: Any, time_machine: TimeMachineFixture) -> tuple[User, User, SessionType]:
    """A New York therapist and client; "now" is a week before the first Monday of March."""
    therapist, session_type = therapist_with_hours(zone=NEW_YORK)
    client = ready_client(therapist, "series.client@example.test", zone=NEW_YORK)
    time_machine.move_to(datetime(2027, 2, 22, 12, tzinfo=UTC), tick=False)
    return therapist, client, session_type


def book_six_mondays(
    therapist: User, client: User, session_type: SessionType, first: date = date(2027, 3, 1)
) -> list[Appointment]:
    return book_series(
        therapist,
        BookingRequest(client, session_type, "video", at(first, time(9), NEW_YORK)),
        interval_weeks=1,
        count=6,
    )


def schedule(appointments: list[Appointment]) -> list[str]:
    """How each appointment reads in New York, or "cancelled"."""
    rows = []
    for appointment in appointments:
        appointment.refresh_from_db()
        if appointment.status == AppointmentStatus.CANCELLED:
            rows.append("cancelled")
        else:
            rows.append(local(appointment.starts_at, NEW_YORK).strftime("%m-%d %a %H:%M"))
    return rows


def test_a_weekly_series_keeps_nine_oclock_across_daylight_saving(
    weekly: tuple[User, User, SessionType],
) -> None:
    therapist, client, session_type = weekly

    appointments = book_six_mondays(therapist, client, session_type)

    assert schedule(appointments) == [
        "03-01 Mon 09:00",
        "03-08 Mon 09:00",
        "03-15 Mon 09:00",
        "03-22 Mon 09:00",
        "03-29 Mon 09:00",
        "04-05 Mon 09:00",
    ]
    assert [a.starts_at.astimezone(UTC).hour for a in appointments] == [14, 14, 13, 13, 13, 13]
    assert len({a.series_id for a in appointments}) == 1
    assert appointments[0].series is not None
    assert appointments[0].series.interval_weeks == 1


def test_a_collision_in_one_occurrence_books_nothing_and_names_the_date(
    weekly: tuple[User, User, SessionType],
) -> None:
    therapist, client, session_type = weekly
    other = ready_client(therapist, "other.client@example.test")
    direct_appointment(session_type, other, at(date(2027, 3, 22), time(9, 30), NEW_YORK))

    with pytest.raises(SchedulingError) as caught:
        book_six_mondays(therapist, client, session_type)

    assert caught.value.code == "series_conflict"
    assert "22 Mar 2027, 09:00" in caught.value.message
    assert "nothing was booked" in caught.value.message
    assert Appointment.objects.filter(client=client).count() == 0
    assert AppointmentSeries.objects.count() == 0
    assert booked_events() == 0


def test_this_and_following_moves_and_cancels_only_the_later_occurrences(
    weekly: tuple[User, User, SessionType],
) -> None:
    therapist, client, session_type = weekly
    appointments = book_six_mondays(therapist, client, session_type)

    moved = reschedule_appointment(
        therapist, appointments[2], at(date(2027, 3, 15), time(10), NEW_YORK), scope="following"
    )
    assert [a.pk for a in moved] == [a.pk for a in appointments[2:]]
    assert schedule(appointments) == [
        "03-01 Mon 09:00",
        "03-08 Mon 09:00",
        "03-15 Mon 10:00",
        "03-22 Mon 10:00",
        "03-29 Mon 10:00",
        "04-05 Mon 10:00",
    ]
    assert all(a.revision == 1 for a in appointments[2:])

    reschedule_appointment(therapist, appointments[0], at(date(2027, 3, 1), time(11), NEW_YORK))
    assert schedule(appointments)[:3] == ["03-01 Mon 11:00", "03-08 Mon 09:00", "03-15 Mon 10:00"]

    cancelled = cancel_appointment(therapist, appointments[4], scope="following")
    assert [a.pk for a in cancelled] == [a.pk for a in appointments[4:]]
    assert schedule(appointments)[3:] == ["03-22 Mon 10:00", "cancelled", "cancelled"]

    cancel_appointment(therapist, appointments[1], scope="this")
    assert schedule(appointments) == [
        "03-01 Mon 11:00",
        "cancelled",
        "03-15 Mon 10:00",
        "03-22 Mon 10:00",
        "cancelled",
        "cancelled",
    ]


def test_postponing_this_and_following_by_a_week_keeps_the_wall_time_across_dst(
    weekly: tuple[User, User, SessionType],
) -> None:
    # The move crosses 14 March for the 8 March session, and each session lands on the time
    # its successor holds until that one moves too.
    therapist, client, session_type = weekly
    appointments = book_six_mondays(therapist, client, session_type)

    reschedule_appointment(
        therapist, appointments[1], at(date(2027, 3, 15), time(9), NEW_YORK), scope="following"
    )

    assert schedule(appointments) == [
        "03-01 Mon 09:00",
        "03-15 Mon 09:00",
        "03-22 Mon 09:00",
        "03-29 Mon 09:00",
        "04-05 Mon 09:00",
        "04-12 Mon 09:00",
    ]


def test_bringing_this_and_following_forward_by_a_week(
    weekly: tuple[User, User, SessionType],
) -> None:
    therapist, client, session_type = weekly
    appointments = book_six_mondays(therapist, client, session_type, first=date(2027, 3, 22))

    reschedule_appointment(
        therapist, appointments[0], at(date(2027, 3, 15), time(9), NEW_YORK), scope="following"
    )

    assert schedule(appointments) == [
        "03-15 Mon 09:00",
        "03-22 Mon 09:00",
        "03-29 Mon 09:00",
        "04-05 Mon 09:00",
        "04-12 Mon 09:00",
        "04-19 Mon 09:00",
    ]


def test_only_the_therapist_changes_a_whole_series(
    weekly: tuple[User, User, SessionType],
) -> None:
    therapist, client, session_type = weekly
    appointments = book_six_mondays(therapist, client, session_type)

    with pytest.raises(PermissionDenied):
        cancel_appointment(client, appointments[2], scope="following")
    with pytest.raises(PermissionDenied):
        book_series(
            client,
            BookingRequest(client, session_type, "video", at(date(2027, 5, 3), time(9), NEW_YORK)),
            interval_weeks=1,
            count=3,
        )
    assert schedule(appointments)[2:] == [
        "03-15 Mon 09:00",
        "03-22 Mon 09:00",
        "03-29 Mon 09:00",
        "04-05 Mon 09:00",
    ]


# --- Late cancellation ---------------------------------------------------------------------------


@pytest.fixture
def booked(db: Any, time_machine: TimeMachineFixture) -> tuple[User, User, Appointment]:
    """A confirmed appointment on Monday 8 March 2027, 09:00 New York (14:00 UTC)."""
    Practice.objects.update_or_create(id=1, defaults={"late_cancel_hours": 24})
    therapist, session_type = therapist_with_hours(zone=NEW_YORK)
    client = ready_client(therapist, "late.client@example.test")
    time_machine.move_to(datetime(2027, 3, 1, 12, tzinfo=UTC), tick=False)
    appointment = book_appointment(
        client,
        BookingRequest(client, session_type, "video", at(date(2027, 3, 8), time(9), NEW_YORK)),
    )
    return therapist, client, appointment


@pytest.mark.parametrize("who", ["client", "therapist"])
@pytest.mark.parametrize(
    ("before_start", "late"),
    [
        pytest.param(timedelta(hours=25), False, id="25h"),
        pytest.param(timedelta(hours=24), False, id="exactly-24h"),
        pytest.param(timedelta(hours=24) - timedelta(seconds=1), True, id="23h59m59s"),
        pytest.param(timedelta(minutes=1), True, id="1min"),
    ],
)
def test_late_cancel_window_edges(
    booked: tuple[User, User, Appointment],
    time_machine: TimeMachineFixture,
    who: str,
    before_start: timedelta,
    late: bool,
) -> None:
    # The rule: a cancel is late when less than the window remains (starts_at - now < window).
    therapist, client, appointment = booked
    actor = client if who == "client" else therapist
    now = appointment.starts_at - before_start
    time_machine.move_to(now, tick=False)
    assert is_late(appointment, now) is late

    [cancelled] = cancel_appointment(actor, appointment)

    appointment.refresh_from_db()
    assert cancelled.pk == appointment.pk
    assert appointment.status == AppointmentStatus.CANCELLED
    assert appointment.late_cancellation is late
    assert appointment.cancelled_by == actor
    assert appointment.cancelled_at == now
    assert appointment.revision == 1
    event = AuditEvent.objects.get(action="appointment.cancelled")
    assert event.actor == actor
    assert event.detail == {"late": late}


@pytest.mark.parametrize("after_start", [timedelta(0), timedelta(minutes=1), timedelta(days=1)])
def test_a_session_cannot_be_cancelled_once_it_started(
    booked: tuple[User, User, Appointment],
    time_machine: TimeMachineFixture,
    after_start: timedelta,
) -> None:
    therapist, client, appointment = booked
    time_machine.move_to(appointment.starts_at + after_start, tick=False)

    for actor in (client, therapist):
        with pytest.raises(SchedulingError, match="already started"):
            cancel_appointment(actor, appointment)

    appointment.refresh_from_db()
    assert appointment.status == AppointmentStatus.CONFIRMED
    assert appointment.cancelled_by is None
    assert not AuditEvent.objects.filter(action="appointment.cancelled").exists()


def test_cancelling_twice_or_someone_elses_session_is_refused(
    booked: tuple[User, User, Appointment], therapist_y: User, client_b: User
) -> None:
    therapist, client, appointment = booked
    for outsider in (therapist_y, client_b):
        with pytest.raises(PermissionDenied):
            cancel_appointment(outsider, appointment)
    cancel_appointment(client, appointment)
    with pytest.raises(SchedulingError, match="no longer booked"):
        cancel_appointment(therapist, appointment)
    appointment.refresh_from_db()
    assert appointment.cancelled_by == client
    assert AuditEvent.objects.filter(action="appointment.cancelled").count() == 1


# --- Bad input -----------------------------------------------------------------------------------


@dataclass
class Clinic:
    """Therapist X in New York (Mondays 09:00-12:00, 60 min + 15 min buffer, 12 h notice, 28 days
    ahead); client A in their care with the current consent signed; "now" is Monday 1 March 2027,
    07:00 in New York."""

    therapist: User
    session_type: SessionType
    client: User
    other_therapist: User
    other_client: User
    admin: User

    def request(
        self,
        day: date,
        wall: time,
        *,
        client: User | None = None,
        session_type: SessionType | None = None,
        modality: str = "video",
    ) -> BookingRequest:
        return BookingRequest(
            client or self.client,
            session_type or self.session_type,
            modality,
            at(day, wall, NEW_YORK),
        )


MONDAY = date(2027, 3, 8)


@pytest.fixture
def clinic(
    time_machine: TimeMachineFixture,
    therapist_x: User,
    therapist_y: User,
    client_a: User,
    client_b: User,
    admin: User,
) -> Clinic:
    therapist, session_type = therapist_with_hours(
        therapist=therapist_x, zone=NEW_YORK, horizon_days=28
    )
    therapist_with_hours(therapist=therapist_y, zone=NEW_YORK)
    consent_version(admin)
    for client in (client_a, client_b):
        sign(client)
    time_machine.move_to(datetime(2027, 3, 1, 12, tzinfo=UTC), tick=False)
    return Clinic(therapist, session_type, client_a, therapist_y, client_b, admin)


def sign(client: User) -> None:
    from rapport.scheduling.consent import current_consent

    document = current_consent()
    assert document is not None
    request = RequestFactory().post("/consent/", REMOTE_ADDR="198.51.100.4")
    sign_consent(client, document.pk, typed_name=client.full_name, request=request)


Case = Callable[[Clinic], tuple[User, BookingRequest]]


def _past(c: Clinic) -> tuple[User, BookingRequest]:
    return c.client, c.request(date(2027, 2, 22), time(9))


def _past_by_therapist(c: Clinic) -> tuple[User, BookingRequest]:
    return c.therapist, c.request(date(2027, 3, 1), time(6, 45))


def _after_hours(c: Clinic) -> tuple[User, BookingRequest]:
    return c.client, c.request(MONDAY, time(13))


def _wrong_day(c: Clinic) -> tuple[User, BookingRequest]:
    return c.client, c.request(MONDAY + timedelta(days=1), time(9))


def _last_hour_too_long(c: Clinic) -> tuple[User, BookingRequest]:
    return c.client, c.request(MONDAY, time(11, 15))  # would end 12:15, after the window


def _off_the_grid(c: Clinic) -> tuple[User, BookingRequest]:
    return c.client, c.request(MONDAY, time(9, 7))


def _below_minimum_notice(c: Clinic) -> tuple[User, BookingRequest]:
    return c.client, c.request(date(2027, 3, 1), time(9))  # two hours from now


def _beyond_the_horizon(c: Clinic) -> tuple[User, BookingRequest]:
    return c.client, c.request(date(2027, 4, 5), time(9))


def _into_the_buffer(c: Clinic) -> tuple[User, BookingRequest]:
    direct_appointment(c.session_type, c.other_client, at(MONDAY, time(9), NEW_YORK))
    return c.client, c.request(MONDAY, time(10))  # the 09:00 session's buffer runs to 10:15


def _into_the_buffer_by_therapist(c: Clinic) -> tuple[User, BookingRequest]:
    direct_appointment(c.session_type, c.other_client, at(MONDAY, time(9), NEW_YORK))
    return c.therapist, c.request(MONDAY, time(10))


def _own_buffer_into_the_next(c: Clinic) -> tuple[User, BookingRequest]:
    direct_appointment(c.session_type, c.other_client, at(MONDAY, time(11), NEW_YORK))
    return c.client, c.request(MONDAY, time(10))  # its buffer would run to 11:15


def _client_busy_with_another_therapist(c: Clinic) -> tuple[User, BookingRequest]:
    CareRelationship.objects.create(therapist=c.other_therapist, client=c.client)
    other_type = SessionType.objects.get(therapist=c.other_therapist)
    direct_appointment(other_type, c.client, at(MONDAY, time(9, 30), NEW_YORK))
    return c.client, c.request(MONDAY, time(9))


def _same_slot_twice(c: Clinic) -> tuple[User, BookingRequest]:
    book_appointment(c.client, c.request(MONDAY, time(9)))
    return c.client, c.request(MONDAY, time(9))


def _modality_not_offered(c: Clinic) -> tuple[User, BookingRequest]:
    SessionType.objects.filter(pk=c.session_type.pk).update(allow_text=False)
    c.session_type.refresh_from_db()
    return c.client, c.request(MONDAY, time(9), modality="text")


def _made_up_modality(c: Clinic) -> tuple[User, BookingRequest]:
    return c.therapist, c.request(MONDAY, time(9), modality="carrier-pigeon")


def _inactive_session_type(c: Clinic) -> tuple[User, BookingRequest]:
    SessionType.objects.filter(pk=c.session_type.pk).update(is_active=False)
    c.session_type.refresh_from_db()
    return c.client, c.request(MONDAY, time(9))


def _not_in_care(c: Clinic) -> tuple[User, BookingRequest]:
    return c.other_client, c.request(MONDAY, time(9), client=c.other_client)


def _care_ended(c: Clinic) -> tuple[User, BookingRequest]:
    CareRelationship.objects.filter(client=c.client).update(status=CareRelationship.Status.ENDED)
    return c.client, c.request(MONDAY, time(9))


def _another_therapists_session_type(c: Clinic) -> tuple[User, BookingRequest]:
    other_type = SessionType.objects.get(therapist=c.other_therapist)
    return c.client, c.request(MONDAY, time(9), session_type=other_type)


def _consent_never_signed(c: Clinic) -> tuple[User, BookingRequest]:
    newcomer = person("newcomer@example.test", "client", "Nia Newcomer")
    CareRelationship.objects.create(therapist=c.therapist, client=newcomer)
    return newcomer, c.request(MONDAY, time(9), client=newcomer)


def _consent_outdated(c: Clinic) -> tuple[User, BookingRequest]:
    request = RequestFactory().post("/practice/consent/")
    publish_consent(c.admin, title="Telehealth consent", body="New text.", request=request)
    assert not has_current_consent(c.client)
    return c.client, c.request(MONDAY, time(9))


def _therapist_books_someone_elses_client(c: Clinic) -> tuple[User, BookingRequest]:
    other_type = SessionType.objects.get(therapist=c.other_therapist)
    return c.other_therapist, c.request(MONDAY, time(9), session_type=other_type)


def _therapist_uses_someone_elses_session_type(c: Clinic) -> tuple[User, BookingRequest]:
    return c.other_therapist, c.request(MONDAY, time(9))


def _client_books_for_another_client(c: Clinic) -> tuple[User, BookingRequest]:
    return c.other_client, c.request(MONDAY, time(9))


def _admin_books(c: Clinic) -> tuple[User, BookingRequest]:
    return c.admin, c.request(MONDAY, time(9))


NOT_OPEN = ("not_open", "not open for booking")
TAKEN = ("slot_taken", "just taken")


@pytest.mark.parametrize(
    ("case", "code", "words"),
    [
        (_past, "past", "already passed"),
        (_past_by_therapist, "past", "already passed"),
        (_after_hours, *NOT_OPEN),
        (_wrong_day, *NOT_OPEN),
        (_last_hour_too_long, *NOT_OPEN),
        (_off_the_grid, *NOT_OPEN),
        (_below_minimum_notice, *NOT_OPEN),
        (_beyond_the_horizon, *NOT_OPEN),
        (_into_the_buffer, *TAKEN),
        (_into_the_buffer_by_therapist, *TAKEN),
        (_own_buffer_into_the_next, *TAKEN),
        (_client_busy_with_another_therapist, "client_busy", "already have a session"),
        (_same_slot_twice, "client_busy", "already have a session"),
        (_modality_not_offered, "modality", "not held as text"),
        (_made_up_modality, "modality", "not held as carrier-pigeon"),
        (_inactive_session_type, "type", "no longer offered"),
        (_not_in_care, "no_care", "your own therapist"),
        (_care_ended, "no_care", "your own therapist"),
        (_another_therapists_session_type, "no_care", "your own therapist"),
        (_consent_never_signed, "consent", "sign the telehealth consent"),
        (_consent_outdated, "consent", "sign the telehealth consent"),
        (_therapist_uses_someone_elses_session_type, None, "only the client or their therapist"),
        (_therapist_books_someone_elses_client, "no_care", "your own therapist"),
        (_client_books_for_another_client, None, "only the client or their therapist"),
        (_admin_books, None, "only the client or their therapist"),
    ],
    ids=lambda value: value.__name__.strip("_") if callable(value) else None,
)
def test_bad_bookings_are_refused_with_a_clear_message_and_nothing_saved(
    clinic: Clinic, case: Case, code: str | None, words: str
) -> None:
    actor, booking = case(clinic)
    appointments_before = list(Appointment.objects.values_list("pk", flat=True))
    events_before = AuditEvent.objects.count()
    expected = SchedulingError if code else PermissionDenied

    with pytest.raises(expected) as caught:
        book_appointment(actor, booking)

    if isinstance(caught.value, SchedulingError):
        assert caught.value.code == code
        assert words in caught.value.message
    else:
        assert words in str(caught.value)
    assert list(Appointment.objects.values_list("pk", flat=True)) == appointments_before
    assert AuditEvent.objects.count() == events_before


def test_the_open_slot_used_by_the_bad_input_cases_is_bookable(clinic: Clinic) -> None:
    # The control for the cases above: the same client, type and Monday 09:00 do work.
    appointment = book_appointment(clinic.client, clinic.request(MONDAY, time(9)))
    assert appointment.starts_at == datetime(2027, 3, 8, 14, tzinfo=UTC)
    assert booked_events() == 1


def test_consent_must_be_signed_again_after_a_new_version(clinic: Clinic) -> None:
    publish = RequestFactory().post("/practice/consent/")
    v2 = publish_consent(clinic.admin, title="Telehealth consent", body="v2", request=publish)
    assert v2.version == 2
    with pytest.raises(SchedulingError, match="sign the telehealth consent"):
        book_appointment(clinic.client, clinic.request(MONDAY, time(9)))

    request = RequestFactory().post("/consent/", REMOTE_ADDR="198.51.100.4")
    with pytest.raises(SchedulingError, match="full name"):
        sign_consent(clinic.client, v2.pk, typed_name="Someone Else", request=request)
    with pytest.raises(SchedulingError, match="newer version"):
        sign_consent(clinic.client, v2.pk - 1, typed_name="Alice Client", request=request)
    signature = sign_consent(clinic.client, v2.pk, typed_name="  alice   client ", request=request)
    assert signature.typed_name == "alice client"
    assert str(signature.ip_address) == "198.51.100.4"

    assert book_appointment(clinic.client, clinic.request(MONDAY, time(9))).pk


# --- Open slots ----------------------------------------------------------------------------------


def monday_slots(clinic: Clinic, day: date = MONDAY) -> list[str]:
    return wall_times(open_slots(clinic.session_type), NEW_YORK, day)


def change(clinic: Clinic, kind: str, day: date, start: time, end: time) -> None:
    AvailabilityChange.objects.create(
        therapist=clinic.therapist,
        kind=kind,
        starts_at=at(day, start, NEW_YORK),
        ends_at=at(day, end, NEW_YORK),
    )


def test_time_off_is_subtracted(clinic: Clinic) -> None:
    change(clinic, AvailabilityChange.Kind.TIME_OFF, MONDAY, time(10), time(11))
    # A session may end as time off begins (its buffer is the therapist's own time).
    assert monday_slots(clinic) == ["09:00", "11:00"]

    change(clinic, AvailabilityChange.Kind.TIME_OFF, MONDAY, time(0), time(23))
    assert monday_slots(clinic) == []
    assert monday_slots(clinic, MONDAY + timedelta(days=7)) == NINE_TO_ELEVEN


def test_extra_hours_are_added_and_time_off_wins_over_them(clinic: Clinic) -> None:
    tuesday = MONDAY + timedelta(days=1)
    change(clinic, AvailabilityChange.Kind.EXTRA, tuesday, time(14), time(16))
    change(clinic, AvailabilityChange.Kind.EXTRA, MONDAY, time(12), time(13))
    assert monday_slots(clinic, tuesday) == ["14:00", "14:15", "14:30", "14:45", "15:00"]
    assert monday_slots(clinic) == [*NINE_TO_ELEVEN, "11:15", "11:30", "11:45", "12:00"]

    change(clinic, AvailabilityChange.Kind.TIME_OFF, tuesday, time(15), time(17))
    assert monday_slots(clinic, tuesday) == ["14:00"]


def test_existing_appointments_and_their_buffers_are_respected(clinic: Clinic) -> None:
    direct_appointment(clinic.session_type, clinic.other_client, at(MONDAY, time(9), NEW_YORK))
    # Busy 09:00-10:15 (60 min + 15 min buffer).
    assert monday_slots(clinic) == ["10:15", "10:30", "10:45", "11:00"]

    next_week = MONDAY + timedelta(days=7)
    direct_appointment(clinic.session_type, clinic.other_client, at(next_week, time(11), NEW_YORK))
    # A new session's own buffer must end by 11:00: 60 + 15 minutes before.
    assert monday_slots(clinic, next_week) == ["09:00", "09:15", "09:30", "09:45"]

    # Another kind of session with no buffer holds only its own time.
    quick = SessionType.objects.create(
        therapist=clinic.therapist, name="Check-in", minutes=30, buffer_minutes=0
    )
    week_after = next_week + timedelta(days=7)
    direct_appointment(quick, clinic.other_client, at(week_after, time(10), NEW_YORK))
    assert monday_slots(clinic, week_after) == ["10:30", "10:45", "11:00"]


def test_requested_appointments_hold_their_time_and_cancelled_ones_free_it(
    clinic: Clinic,
) -> None:
    requested = direct_appointment(
        clinic.session_type,
        clinic.other_client,
        at(MONDAY, time(9), NEW_YORK),
        status=AppointmentStatus.REQUESTED,
    )
    assert monday_slots(clinic) == ["10:15", "10:30", "10:45", "11:00"]
    Appointment.objects.filter(pk=requested.pk).update(status=AppointmentStatus.CANCELLED)
    assert monday_slots(clinic) == NINE_TO_ELEVEN

    appointment = book_appointment(clinic.client, clinic.request(MONDAY, time(10)))
    assert monday_slots(clinic) == []  # 09:00-09:30 would run into 10:00; 11:15 is too late
    cancel_appointment(clinic.client, appointment)
    assert monday_slots(clinic) == NINE_TO_ELEVEN
    again = book_appointment(clinic.therapist, clinic.request(MONDAY, time(10)))
    assert again.pk != appointment.pk


def test_minimum_notice_and_horizon(clinic: Clinic, time_machine: TimeMachineFixture) -> None:
    # Now 1 March 12:00 UTC, 28 days ahead: the last bookable Monday is 22 March.
    mondays = sorted({local(s.starts_at, NEW_YORK).date() for s in open_slots(clinic.session_type)})
    assert mondays == [date(2027, 3, 8), date(2027, 3, 15), date(2027, 3, 22)]

    # Two hours later the horizon reaches 29 March 10:00 EDT: slots that start before it count.
    time_machine.move_to(datetime(2027, 3, 1, 14, tzinfo=UTC), tick=False)
    assert monday_slots(clinic, date(2027, 3, 29)) == ["09:00", "09:15", "09:30", "09:45"]

    # Twelve hours' notice from Sunday 21:40 leaves Monday from 09:45.
    time_machine.move_to(at(MONDAY - timedelta(days=1), time(21, 40), NEW_YORK), tick=False)
    assert monday_slots(clinic) == ["09:45", "10:00", "10:15", "10:30", "10:45", "11:00"]


def test_open_slots_within_a_narrow_range(clinic: Clinic) -> None:
    nine = at(MONDAY, time(9), NEW_YORK)
    assert open_slots(clinic.session_type, start=nine, end=nine + timedelta(minutes=1)) == [
        Slot(nine.astimezone(UTC), (nine + timedelta(hours=1)).astimezone(UTC))
    ]
    assert open_slots(clinic.session_type, start=nine, end=nine) == []
    assert open_slots(clinic.session_type, start=nine + timedelta(minutes=1), end=nine) == []


def test_a_client_moves_only_into_an_open_slot(clinic: Clinic) -> None:
    appointment = book_appointment(clinic.client, clinic.request(MONDAY, time(9)))
    # Their own old time counts as free: moving by 15 minutes overlaps only themselves.
    [moved] = reschedule_appointment(clinic.client, appointment, at(MONDAY, time(9, 15), NEW_YORK))
    assert local(moved.starts_at, NEW_YORK).strftime("%H:%M") == "09:15"
    for bad in (time(13), time(9, 20)):
        with pytest.raises(SchedulingError, match="not open for booking"):
            reschedule_appointment(clinic.client, appointment, at(MONDAY, bad, NEW_YORK))
    appointment.refresh_from_db()
    assert local(appointment.starts_at, NEW_YORK).strftime("%H:%M") == "09:15"
    assert appointment.status == AppointmentStatus.CONFIRMED


def test_slot_taken_is_a_scheduling_error_with_a_clear_message() -> None:
    error = SlotTaken()
    assert isinstance(error, SchedulingError)
    assert error.code == "slot_taken"
    assert error.message.startswith("That time was just taken")
