"""No double booking, ever: fifty threads, each on its own database connection, race for a slot.

Runs on both databases. On SQLite the booking transaction is IMMEDIATE, so the overlap check and
the insert are serialized; on PostgreSQL the exclusion constraints refuse whatever slips between
two transactions' checks, and the service turns that refusal into the same "just taken" answer.
"""

from __future__ import annotations

import itertools
import threading
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import pytest
from django.db import IntegrityError, connection, connections, transaction
from time_machine import TimeMachineFixture

from rapport.accounts.models import User
from rapport.audit.models import AuditEvent
from rapport.audit.services import record as audit_record
from rapport.scheduling import booking as booking_rules
from rapport.scheduling.booking import BookingRequest, book_appointment
from rapport.scheduling.errors import SlotTaken
from rapport.scheduling.models import LIVE_STATUSES, Appointment, AppointmentStatus, SessionType
from tests.scheduling_data import (
    at,
    consent_version,
    direct_appointment,
    person,
    ready_client,
    therapist_with_hours,
)

pytestmark = pytest.mark.django_db(transaction=True)

THREADS = 50
NEW_YORK = "America/New_York"
MONDAY = date(2027, 3, 8)
JUST_TAKEN = "That time was just taken by another booking. Please choose another time."


@dataclass
class Attempt:
    actor: User
    booking: BookingRequest
    appointment: Appointment | None = None
    error: BaseException | None = None


@dataclass
class Caseload:
    therapist: User
    session_type: SessionType
    clients: list[User]


@pytest.fixture
def practice(time_machine: TimeMachineFixture) -> Caseload:
    """One New York therapist (Mondays 08:00-20:00, 60 min + 15 min buffer) and fifty clients in
    their care who signed the current consent. "Now" is a week before Monday 8 March 2027."""
    therapist, session_type = therapist_with_hours(zone=NEW_YORK, windows=[(0, time(8), time(20))])
    consent_version(person("admin.race@example.test", "admin", "Ada Admin"))
    clients = [
        ready_client(therapist, f"client{n:02}@example.test", name=f"Client {n:02}")
        for n in range(THREADS)
    ]
    time_machine.move_to(datetime(2027, 3, 1, 12, tzinfo=UTC))
    return Caseload(therapist, session_type, clients)


def race(attempts: list[Attempt]) -> None:
    """Run every attempt in its own thread and connection, all released at the same moment."""
    start = threading.Barrier(len(attempts))

    def attempt_booking(attempt: Attempt) -> None:
        try:
            connection.ensure_connection()  # this thread's own connection, opened beforehand
            start.wait(timeout=60)
            attempt.appointment = book_appointment(attempt.actor, attempt.booking)
        except BaseException as exc:  # any failure is examined by the test
            attempt.error = exc
        finally:
            connections.close_all()

    threads = [threading.Thread(target=attempt_booking, args=(a,)) for a in attempts]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(thread.is_alive() for thread in threads), "a booking thread hung"


def live_appointments(therapist: User) -> list[Appointment]:
    return list(Appointment.objects.filter(therapist=therapist, status__in=LIVE_STATUSES))


def test_fifty_clients_racing_for_one_slot_exactly_one_wins(practice: Caseload) -> None:
    slot = at(MONDAY, time(9), NEW_YORK)
    attempts = [
        Attempt(client, BookingRequest(client, practice.session_type, "video", slot))
        for client in practice.clients
    ]

    race(attempts)

    winners = [a for a in attempts if a.appointment is not None]
    losers = [a for a in attempts if a.appointment is None]
    assert len(winners) == 1
    # Every loser got the clear answer, and nothing else: no "database is locked", no 500.
    assert [type(a.error) for a in losers] == [SlotTaken] * (THREADS - 1)
    assert {a.error.message for a in losers if isinstance(a.error, SlotTaken)} == {JUST_TAKEN}
    [appointment] = Appointment.objects.all()
    assert appointment.pk == winners[0].appointment.pk  # type: ignore[union-attr]
    assert appointment.client == winners[0].actor
    assert appointment.starts_at == slot
    assert AuditEvent.objects.filter(action="appointment.booked").count() == 1


@pytest.mark.parametrize(
    ("who", "step"),
    [
        # Clients pick from the slots shown (the quarter-hour grid): twelve starts in 3 hours.
        pytest.param("clients", timedelta(minutes=15), id="clients-on-the-grid"),
        # A therapist may book off the grid: a start every 5 minutes over four hours.
        pytest.param("therapist", timedelta(minutes=5), id="therapist-every-5-minutes"),
    ],
)
def test_racing_for_overlapping_slots_never_double_books(
    practice: Caseload, who: str, step: timedelta
) -> None:
    first = at(MONDAY, time(9), NEW_YORK)
    attempts = []
    for n, client in enumerate(practice.clients):
        starts_at = first + step * (n % 12 if who == "clients" else n)
        actor = client if who == "clients" else practice.therapist
        attempts.append(
            Attempt(actor, BookingRequest(client, practice.session_type, "video", starts_at))
        )

    race(attempts)

    booked = live_appointments(practice.therapist)
    winners = [a for a in attempts if a.appointment is not None]
    assert len(booked) == len(winners) >= 1
    for one, other in itertools.combinations(booked, 2):
        # Buffers count as occupied time: [starts_at, busy_until) never meet.
        assert one.busy_until <= other.starts_at or other.busy_until <= one.starts_at, (one, other)
    for attempt in attempts:
        if attempt.appointment is None:
            assert isinstance(attempt.error, SlotTaken), attempt.error
            assert attempt.error.message == JUST_TAKEN
    # Every start that lost collides with one that won (the losers were not refused for nothing).
    for attempt in attempts:
        if attempt.appointment is None:
            start = attempt.booking.starts_at
            end = start + timedelta(minutes=75)
            assert any(b.starts_at < end and start < b.busy_until for b in booked)


def test_a_race_lost_inside_the_insert_is_still_just_taken(
    practice: Caseload, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The first booking has inserted but not committed when the second one runs.

    PostgreSQL: let the second booking skip the schedule lock and find its checks clear (as if
    they ran before the first insert): its insert meets the exclusion constraint, which refuses
    it (23P01) once the first commits, and the client hears "just taken". SQLite: the second
    booking cannot even begin until the first commits (IMMEDIATE), so its check refuses it.
    """
    on_postgresql = connection.vendor == "postgresql"
    first_inserted, second_started = threading.Event(), threading.Event()
    real_check = booking_rules.check_overlap

    def check(*args: Any, **kwargs: Any) -> None:
        if on_postgresql and threading.current_thread().name == "second":
            return  # ran before the first booking was written: nothing to see
        real_check(*args, **kwargs)

    def record(*args: Any, **kwargs: Any) -> Any:
        if threading.current_thread().name == "first":  # inserted, not yet committed
            first_inserted.set()
            assert second_started.wait(timeout=30)
        return audit_record(*args, **kwargs)

    real_lock_and_check = booking_rules._lock_and_check_overlap

    def lock_and_check(booking: BookingRequest) -> None:
        if on_postgresql and threading.current_thread().name == "second":
            return  # skipped the lock, and its check ran before the first booking was written
        real_lock_and_check(booking)

    monkeypatch.setattr(booking_rules, "check_overlap", check)
    monkeypatch.setattr(booking_rules, "_lock_and_check_overlap", lock_and_check)
    monkeypatch.setattr(booking_rules, "record", record)
    slot = at(MONDAY, time(9), NEW_YORK)
    first, second = (
        Attempt(practice.therapist, BookingRequest(client, practice.session_type, "audio", slot))
        for client in practice.clients[:2]
    )

    def book(attempt: Attempt, started: threading.Event | None = None) -> None:
        try:
            if started is not None:
                started.set()
            attempt.appointment = book_appointment(attempt.actor, attempt.booking)
        except BaseException as exc:  # any failure is examined by the test
            attempt.error = exc
        finally:
            connections.close_all()

    threads = [
        threading.Thread(target=book, args=(first,), name="first"),
        threading.Thread(target=book, args=(second, second_started), name="second"),
    ]
    threads[0].start()
    assert first_inserted.wait(timeout=30)
    threads[1].start()
    for thread in threads:
        thread.join(timeout=60)

    assert first.error is None
    assert first.appointment is not None
    assert isinstance(second.error, SlotTaken), second.error
    assert second.error.message == JUST_TAKEN
    if on_postgresql:
        assert isinstance(second.error.__cause__, IntegrityError)
        assert getattr(second.error.__cause__.__cause__, "sqlstate", None) == "23P01"
    else:
        assert second.error.__cause__ is None  # refused by the serialized check
    assert [a.pk for a in live_appointments(practice.therapist)] == [first.appointment.pk]


def test_the_database_itself_refuses_an_overlap(practice: Caseload) -> None:
    """PostgreSQL refuses overlapping rows written straight to the table, bypassing the service;
    SQLite has no exclusion constraints, so there the service's check is what refuses."""
    therapist, session_type = practice.therapist, practice.session_type
    first, second, third = practice.clients[:3]
    nine = at(MONDAY, time(9), NEW_YORK)
    book_appointment(first, BookingRequest(first, session_type, "video", nine))
    into_buffer = nine + timedelta(minutes=70)  # the 09:00 session's buffer runs to 10:15

    if connection.vendor == "postgresql":
        for client, starts_at in ((second, into_buffer), (second, nine), (first, nine)):
            with pytest.raises(IntegrityError), transaction.atomic():
                direct_appointment(session_type, client, starts_at)
        # The client's own rule: the same client with another therapist at the same time.
        _elsewhere, other_type = therapist_with_hours("elsewhere@example.test", zone=NEW_YORK)
        with pytest.raises(IntegrityError), transaction.atomic():
            direct_appointment(other_type, first, nine + timedelta(minutes=30))
        # Only live appointments hold time, and an update that revives an overlap is refused.
        cancelled = direct_appointment(
            session_type, second, into_buffer, status=AppointmentStatus.CANCELLED
        )
        with pytest.raises(IntegrityError), transaction.atomic():
            Appointment.objects.filter(pk=cancelled.pk).update(status=AppointmentStatus.CONFIRMED)
    else:
        assert connection.vendor == "sqlite"
        for actor, client, starts_at in (
            (second, second, nine),
            (therapist, second, into_buffer),
            (therapist, third, nine + timedelta(minutes=30)),
        ):
            with pytest.raises(SlotTaken):
                book_appointment(actor, BookingRequest(client, session_type, "video", starts_at))
        direct_appointment(session_type, second, into_buffer, status=AppointmentStatus.CANCELLED)

    after_buffer = nine + timedelta(minutes=75)
    assert book_appointment(third, BookingRequest(third, session_type, "video", after_buffer)).pk
    starts = sorted(a.starts_at for a in live_appointments(therapist))
    assert starts == [nine, after_buffer]
