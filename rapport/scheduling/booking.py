"""Booking appointments, one or a series, under the overlap rule.

Every write runs in one transaction. The overlap rule is enforced twice: here, with bookings of
one person taken in turn (PostgreSQL: advisory locks, ``lock_schedules``; SQLite: IMMEDIATE
transactions, queued on a lock file, ``_booking_turn``) so the check and the insert cannot be
split by another booking and the answer is a clear message; and by PostgreSQL's exclusion
constraints, which refuse whatever gets past (migration 0002). Emails and reminders are queued
in the same transaction, and decided when the worker runs them, after commit.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.core.exceptions import PermissionDenied
from django.db import DatabaseError, connection, transaction
from django.db.models import Q, QuerySet
from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext as _

from rapport.accounts.models import Practice, User
from rapport.audit.services import Action, record
from rapport.care.access import active_relationship, therapists_of
from rapport.core.clock import day_and_time
from rapport.lib.intervals import local_to_utc
from rapport.scheduling import notifications
from rapport.scheduling.availability import open_slots
from rapport.scheduling.consent import has_current_consent
from rapport.scheduling.errors import SchedulingError, SlotTaken
from rapport.scheduling.models import (
    LIVE_STATUSES,
    TAKEN_STATUSES,
    Appointment,
    AppointmentSeries,
    AppointmentStatus,
    OfferedTo,
    SessionType,
)

# Namespace of the PostgreSQL advisory locks that serialize one person's bookings.
SCHEDULE_LOCK = 0x5343


@dataclass(frozen=True)
class BookingRequest:
    client: User
    session_type: SessionType
    modality: str
    starts_at: datetime


def check_overlap(
    therapist: User,
    client: User,
    starts_at: datetime,
    ends_at: datetime,
    busy_until: datetime,
    exclude: list[int] | None = None,
) -> None:
    clashes = list(
        Appointment.objects.filter(status__in=LIVE_STATUSES)
        .exclude(pk__in=exclude or [])
        .filter(
            Q(client=client, starts_at__lt=ends_at, ends_at__gt=starts_at)
            | Q(therapist=therapist, starts_at__lt=busy_until, busy_until__gt=starts_at)
        )
        .values_list("client_id", "starts_at", "ends_at")
    )
    # The client's own clash first: a double-submitted form should say so, not "just taken".
    if any(c == client.pk and s < ends_at and e > starts_at for c, s, e in clashes):
        raise SchedulingError(_("You already have a session at that time."), code="client_busy")
    if clashes:
        raise SlotTaken()


def bookable_types(client: User) -> QuerySet[SessionType]:
    """The kinds of session ``client`` may book themselves: those their therapists offer, less
    the ones for new clients with a therapist they have had a session with (``OfferedTo``) and
    the ones for returning clients with a therapist they have not."""
    taken = Appointment.objects.filter(client=client, status__in=TAKEN_STATUSES).values("therapist")
    return SessionType.objects.filter(therapist__in=therapists_of(client), is_active=True).filter(
        Q(offered_to=OfferedTo.ALL)
        | (Q(offered_to=OfferedTo.NEW) & ~Q(therapist__in=taken))
        | Q(offered_to=OfferedTo.RETURNING, therapist__in=taken)
    )


def _check_offered(session_type: SessionType, client: User) -> None:
    """A client books a kind for new clients only before their first session with its
    therapist, and one for returning clients only after it."""
    if session_type.offered_to == OfferedTo.ALL:
        return
    returning = Appointment.objects.filter(
        client=client, therapist=session_type.therapist, status__in=TAKEN_STATUSES
    ).exists()
    if returning and session_type.offered_to == OfferedTo.NEW:
        raise SchedulingError(
            _("This kind of session is for a first session. Please choose another kind."),
            code="offered_to",
        )
    if not returning and session_type.offered_to == OfferedTo.RETURNING:
        raise SchedulingError(
            _(
                "This kind of session follows a first session. Please book your first "
                "session first."
            ),
            code="offered_to",
        )


def _busy_span(session_type: SessionType, starts_at: datetime) -> tuple[datetime, datetime]:
    """When a session starting at ``starts_at`` ends, and when the buffer after it ends."""
    ends_at = starts_at + timedelta(minutes=session_type.minutes)
    return ends_at, ends_at + timedelta(minutes=session_type.buffer_minutes)


def validate_booking(
    actor: User,
    booking: BookingRequest,
    *,
    now: datetime,
    exclude: list[int] | None = None,
    care_checked: bool = False,
    overlap_checked: bool = False,
) -> None:
    session_type = booking.session_type
    therapist = session_type.therapist
    client = booking.client
    if actor.pk not in (client.pk, therapist.pk):
        raise PermissionDenied("only the client or their therapist books")
    if not client.is_client:
        raise SchedulingError(_("You can only book with your own therapist."), code="no_care")
    # Care comes before any answer that depends on the therapist's diary, so nobody outside the
    # relationship can probe it; the caller may have checked it already, outside the lock.
    if not care_checked:
        _check_care(therapist, client)
    if not session_type.is_active:
        raise SchedulingError(_("This kind of session is no longer offered."), code="type")
    if booking.modality not in session_type.modalities:
        raise SchedulingError(
            _("This kind of session is not held as %(modality)s.") % {"modality": booking.modality},
            code="modality",
        )
    if actor.pk == client.pk:
        _check_offered(session_type, client)
    if booking.starts_at <= now:
        raise SchedulingError(_("That time has already passed."), code="past")
    # Free first: called under the schedule lock, the loser of a race for a slot learns it from
    # this one query instead of running every slower check while the others queue.
    ends_at, busy_until = _busy_span(session_type, booking.starts_at)
    if not overlap_checked:
        check_overlap(therapist, client, booking.starts_at, ends_at, busy_until, exclude)
    if actor.pk == client.pk:
        _check_consent(client)
        offered = open_slots(
            session_type,
            now=now,
            start=booking.starts_at,
            end=booking.starts_at + timedelta(minutes=1),
            # The overlap check just ran under the schedule lock; only working time is left.
            ignore_busy=overlap_checked,
        )
        if not offered or offered[0].starts_at != booking.starts_at:
            raise SchedulingError(
                _("That time is not open for booking. Please choose one of the times shown."),
                code="not_open",
            )


def _check_consent(client: User) -> None:
    if not has_current_consent(client):
        raise SchedulingError(
            _("Please read and sign the telehealth consent before booking."), code="consent"
        )


def _check_care(therapist: User, client: User) -> None:
    if not client.is_client or active_relationship(therapist, client) is None:
        raise SchedulingError(_("You can only book with your own therapist."), code="no_care")


def lock_schedules(*people: User) -> None:
    """Hold each person's schedule until commit (PostgreSQL; always in the same order).

    Without it, two transactions can both pass the overlap check, both insert, and then wait on
    each other inside the exclusion constraint: a deadlock PostgreSQL breaks only after a second.
    SQLite needs nothing: its IMMEDIATE transactions already run one at a time.
    """
    if connection.vendor != "postgresql":
        return
    keys = sorted({person.pk % 2**31 for person in people})
    # One statement; PostgreSQL evaluates the select list left to right, so in key order.
    locks = ", ".join(["pg_advisory_xact_lock(%s, %s)"] * len(keys))
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {locks}", [n for key in keys for n in (SCHEDULE_LOCK, key)])


def _lock_and_check_overlap(booking: BookingRequest) -> None:
    """Take the schedule locks, then check for a clash: one round trip on PostgreSQL (function
    from migration 0003), the lock-free check on SQLite (its transaction already runs alone)."""
    therapist, client = booking.session_type.therapist, booking.client
    ends_at, busy_until = _busy_span(booking.session_type, booking.starts_at)
    if connection.vendor != "postgresql":
        check_overlap(therapist, client, booking.starts_at, ends_at, busy_until)
        return
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT rapport_lock_and_find_clash(%s, %s, %s, %s, %s, %s)",
            [SCHEDULE_LOCK, therapist.pk, client.pk, booking.starts_at, ends_at, busy_until],
        )
        clash = cursor.fetchone()[0]
    if clash == "client":
        raise SchedulingError(_("You already have a session at that time."), code="client_busy")
    if clash == "therapist":
        raise SlotTaken()


@contextlib.contextmanager
def _booking_turn() -> Iterator[None]:
    """SQLite: one booking transaction at a time, across processes, queued by the kernel.

    SQLite's write lock alone would serialize them too, but its waiters poll with sleeps that
    grow to 100 ms, so fifty clients racing for one slot would wait seconds for their answer.
    Waiting on a lock file next to the database, each wakes the moment the one before is done.
    Not taken inside an outer transaction: that one already holds SQLite's write lock.
    """
    if connection.vendor != "sqlite" or connection.in_atomic_block:
        yield
        return
    connection.ensure_connection()
    if connection.is_in_memory_db():  # type: ignore[attr-defined]
        yield
        return
    lock = os.open(f"{connection.settings_dict['NAME']}.bookings", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield
    finally:
        os.close(lock)  # releases the lock


def _insert(
    actor: User, booking: BookingRequest, status: str, series: AppointmentSeries | None = None
) -> Appointment:
    """Insert; the caller holds the schedule lock (``lock_schedules``) and has run
    ``validate_booking`` under it, inside its transaction. A refusal by the database aborts that
    whole transaction, so no savepoint is needed here (it would cost two round trips on the hot
    path)."""
    session_type = booking.session_type
    ends_at, busy_until = _busy_span(session_type, booking.starts_at)
    try:
        return Appointment.objects.create(
            therapist=session_type.therapist,
            client=booking.client,
            session_type=session_type,
            modality=booking.modality,
            starts_at=booking.starts_at,
            ends_at=ends_at,
            busy_until=busy_until,
            status=status,
            series=series,
            booked_by=actor,
        )
    except DatabaseError as exc:
        # PostgreSQL's exclusion constraint: another transaction took the time first.
        if not overlap_refused(exc):
            raise
        raise SlotTaken() from exc


def overlap_refused(exc: DatabaseError) -> bool:
    """Whether PostgreSQL refused a write for overlapping another one: the exclusion constraint
    (23P01), or the deadlock two writers that skipped ``lock_schedules`` can meet in it (40P01)."""
    return getattr(exc.__cause__, "sqlstate", None) in {"23P01", "40P01"}


def duplicate_of(booking: BookingRequest) -> Appointment | None:
    """The live appointment this booking would repeat (a form sent twice), if any."""
    return Appointment.objects.filter(
        therapist=booking.session_type.therapist,
        client=booking.client,
        starts_at=booking.starts_at,
        status__in=LIVE_STATUSES,
    ).first()


def book_appointment(
    actor: User, booking: BookingRequest, *, request: HttpRequest | None = None
) -> Appointment:
    now = timezone.now()
    # Validated in turn, under the schedule lock: when many race for one slot, the losers queue
    # and each gives up after one call (lock + overlap check) instead of validating in full.
    # Care is checked before queueing for the lock (nobody outside the relationship learns
    # anything about the diary); the rest only by whoever gets past the overlap check, so the
    # work of fifty racing requests stays small.
    _check_care(booking.session_type.therapist, booking.client)
    with _booking_turn(), transaction.atomic():
        _lock_and_check_overlap(booking)
        validate_booking(actor, booking, now=now, care_checked=True, overlap_checked=True)
        needs_approval = actor.pk == booking.client.pk and Practice.get().requires_booking_approval
        status = AppointmentStatus.REQUESTED if needs_approval else AppointmentStatus.CONFIRMED
        appointment = _insert(actor, booking, status)
        record(
            Action.APPOINTMENT_BOOKED,
            actor=actor,
            request=request,
            obj=appointment,
            client=booking.client,
            status=status,
        )
        queue_change_emails(appointment, "booked")
    return appointment


def book_series(
    actor: User,
    booking: BookingRequest,
    *,
    interval_weeks: int,
    count: int | None = None,
    until: datetime | None = None,
    request: HttpRequest | None = None,
) -> list[Appointment]:
    """A therapist books a recurring series: every occurrence or none.

    Occurrences keep the first one's wall-clock time in the therapist's zone, across DST.
    """
    import zoneinfo

    therapist = booking.session_type.therapist
    if actor.pk != therapist.pk:
        raise PermissionDenied("only the therapist books a series")
    if interval_weeks not in (1, 2, 3, 4):
        raise SchedulingError(_("Repeat every 1 to 4 weeks."), code="interval")
    if (count is None) == (until is None):
        raise SchedulingError(_("Give either a number of sessions or an end date."), code="end")
    if count is not None and not 2 <= count <= 52:
        raise SchedulingError(_("A series has 2 to 52 sessions."), code="count")
    zone = zoneinfo.ZoneInfo(therapist.time_zone)
    first_local = booking.starts_at.astimezone(zone)
    starts: list[datetime] = []
    occurrence = 0
    while True:
        day = first_local.date() + timedelta(weeks=interval_weeks * occurrence)
        moment = local_to_utc(day, first_local.time().replace(tzinfo=None), zone)
        if count is not None and occurrence >= count:
            break
        if until is not None and moment > until:
            break
        if occurrence >= 52:
            break
        starts.append(moment)
        occurrence += 1
    if len(starts) < 2:
        raise SchedulingError(_("A series has at least two sessions."), code="count")
    now = timezone.now()
    with _booking_turn(), transaction.atomic():
        lock_schedules(therapist, booking.client)
        series = AppointmentSeries.objects.create(
            therapist=therapist, client=booking.client, interval_weeks=interval_weeks
        )
        appointments = []
        for moment in starts:
            each = BookingRequest(booking.client, booking.session_type, booking.modality, moment)
            try:
                validate_booking(actor, each, now=now)
                appointments.append(_insert(actor, each, AppointmentStatus.CONFIRMED, series))
            except SchedulingError as exc:
                if exc.code not in {"slot_taken", "client_busy"}:
                    raise
                raise SchedulingError(
                    _("The session on %(date)s collides with another booking; nothing was booked.")
                    % {
                        "date": day_and_time(
                            timezone.localtime(moment, zone), "j M Y", convert=False
                        )
                    },
                    code="series_conflict",
                ) from exc
        record(
            Action.APPOINTMENT_BOOKED,
            actor=actor,
            request=request,
            obj=series,
            client=booking.client,
            occurrences=len(appointments),
        )
        for appointment in appointments:
            queue_change_emails(appointment, "booked")
    return appointments


def queue_change_emails(appointment: Appointment, change: str) -> None:
    """Queue the change's emails and reminders in the change's transaction: they commit with it
    (a process that dies right after the commit cannot lose them) and are decided when the
    worker runs them, after the commit (``rapport.scheduling.notifications``)."""
    notifications.appointment_changed(appointment.pk, change)
