"""Booking, changing and cancelling appointments; telehealth consent.

Every write runs in one transaction. The overlap rule is enforced twice: here, with bookings of
one person taken in turn (PostgreSQL: advisory locks, ``_lock_schedules``; SQLite: IMMEDIATE
transactions, queued on a lock file, ``_booking_turn``) so the check and the insert cannot be
split by another booking and the answer is a clear message; and by PostgreSQL's exclusion
constraints, which refuse whatever gets past (migration 0002). Emails and reminders are queued
only after commit.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import zoneinfo
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import DatabaseError, connection, transaction
from django.db.models import Exists, OuterRef, Q
from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext as _

from rapport.accounts.models import Practice, User
from rapport.audit.services import Action, record, request_origin
from rapport.care.access import active_relationship
from rapport.lib.intervals import local_to_utc
from rapport.scheduling import notifications
from rapport.scheduling.availability import open_slots, working_time
from rapport.scheduling.models import (
    LIVE_STATUSES,
    Appointment,
    AppointmentSeries,
    AppointmentStatus,
    AvailabilityChange,
    ConsentDocument,
    ConsentSignature,
    SessionType,
    WeeklyWindow,
)


class SchedulingError(ValidationError):
    """A booking or change that cannot be made; the message says why, for the person."""


class SlotTaken(SchedulingError):
    def __init__(self) -> None:
        super().__init__(
            _("That time was just taken by another booking. Please choose another time."),
            code="slot_taken",
        )


# --- Consent -------------------------------------------------------------------------------------


def current_consent() -> ConsentDocument | None:
    return ConsentDocument.objects.order_by("-version").first()


def has_current_consent(client: User) -> bool:
    signed = (
        ConsentDocument.objects.order_by("-version")
        .annotate(
            signed=Exists(ConsentSignature.objects.filter(client=client, document=OuterRef("pk")))
        )
        .values_list("signed", flat=True)
        .first()
    )
    return signed is None or signed  # None: the practice has not published a consent document.


def publish_consent(admin: User, *, title: str, body: str, request: HttpRequest) -> ConsentDocument:
    if not admin.is_practice_admin:
        raise PermissionDenied("only admins publish consent documents")
    with transaction.atomic():
        latest = ConsentDocument.objects.select_for_update().order_by("-version").first()
        document = ConsentDocument.objects.create(
            version=(latest.version + 1) if latest else 1,
            title=title.strip(),
            body=body.strip(),
            published_by=admin,
        )
        record(
            Action.CONSENT_PUBLISHED,
            actor=admin,
            request=request,
            obj=document,
            version=document.version,
        )
    return document


def sign_consent(
    client: User, document_id: int, *, typed_name: str, request: HttpRequest
) -> ConsentSignature:
    document = current_consent()
    if document is None or document.pk != document_id:
        raise SchedulingError(_("A newer version of the consent was published. Please read it."))
    if not client.is_client:
        raise PermissionDenied("only clients sign consent")
    typed = " ".join(typed_name.split())
    if typed.casefold() != " ".join(client.full_name.split()).casefold():
        raise SchedulingError(
            _("Type your full name exactly as it appears on your account: %(name)s")
            % {"name": client.full_name}
        )
    ip, agent = request_origin(request)
    with transaction.atomic():
        signature, created = ConsentSignature.objects.get_or_create(
            client=client,
            document=document,
            defaults={"typed_name": typed, "ip_address": ip, "user_agent": agent},
        )
        if created:
            record(
                Action.CONSENT_SIGNED,
                actor=client,
                request=request,
                obj=signature,
                client=client,
                version=document.version,
            )
    return signature


# --- Booking -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class BookingRequest:
    client: User
    session_type: SessionType
    modality: str
    starts_at: datetime


def _check_overlap(
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


def _busy_span(session_type: SessionType, starts_at: datetime) -> tuple[datetime, datetime]:
    """When a session starting at ``starts_at`` ends, and when the buffer after it ends."""
    ends_at = starts_at + timedelta(minutes=session_type.minutes)
    return ends_at, ends_at + timedelta(minutes=session_type.buffer_minutes)


def _validate(
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
    if booking.starts_at <= now:
        raise SchedulingError(_("That time has already passed."), code="past")
    # Free first: called under the schedule lock, the loser of a race for a slot learns it from
    # this one query instead of running every slower check while the others queue.
    ends_at, busy_until = _busy_span(session_type, booking.starts_at)
    if not overlap_checked:
        _check_overlap(therapist, client, booking.starts_at, ends_at, busy_until, exclude)
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


# Namespace of the PostgreSQL advisory locks that serialize one person's bookings.
SCHEDULE_LOCK = 0x5343


def _lock_schedules(*people: User) -> None:
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
        _check_overlap(therapist, client, booking.starts_at, ends_at, busy_until)
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
    """Insert; the caller holds the schedule lock (``_lock_schedules``) and has run ``_validate``
    under it, inside its transaction. A refusal by the database aborts that whole transaction,
    so no savepoint is needed here (it would cost two round trips on the hot path)."""
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
        if not _overlap_refused(exc):
            raise
        raise SlotTaken() from exc


def _overlap_refused(exc: DatabaseError) -> bool:
    """Whether PostgreSQL refused a write for overlapping another one: the exclusion constraint
    (23P01), or the deadlock two writers that skipped ``_lock_schedules`` can meet in it (40P01)."""
    return getattr(exc.__cause__, "sqlstate", None) in {"23P01", "40P01"}


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
        _validate(actor, booking, now=now, care_checked=True, overlap_checked=True)
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
        _after_commit_notify(appointment, "booked")
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
        _lock_schedules(therapist, booking.client)
        series = AppointmentSeries.objects.create(
            therapist=therapist, client=booking.client, interval_weeks=interval_weeks
        )
        appointments = []
        for moment in starts:
            each = BookingRequest(booking.client, booking.session_type, booking.modality, moment)
            try:
                _validate(actor, each, now=now)
                appointments.append(_insert(actor, each, AppointmentStatus.CONFIRMED, series))
            except SchedulingError as exc:
                if exc.code not in {"slot_taken", "client_busy"}:
                    raise
                raise SchedulingError(
                    _("The session on %(date)s collides with another booking; nothing was booked.")
                    % {"date": timezone.localtime(moment, zone).strftime("%Y-%m-%d %H:%M")},
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
            _after_commit_notify(appointment, "booked")
    return appointments


def _scope(appointment: Appointment, scope: str) -> list[Appointment]:
    if scope == "this" or appointment.series_id is None:
        return [appointment]
    if scope != "following":
        raise SchedulingError(_("Choose this session or this and the following ones."))
    return list(
        Appointment.objects.select_for_update()
        .filter(
            series_id=appointment.series_id,
            starts_at__gte=appointment.starts_at,
            status__in=LIVE_STATUSES,
        )
        .order_by("starts_at")
    )


def _lock_for_change(actor: User, appointment: Appointment, scope: str) -> Appointment:
    """The appointment, row-locked for a change by one of its two people (a series: therapist)."""
    locked = Appointment.objects.select_for_update().get(pk=appointment.pk)
    if actor.pk not in (locked.client_id, locked.therapist_id):
        raise PermissionDenied("not your appointment")
    if scope == "following" and actor.pk != locked.therapist_id:
        raise PermissionDenied("only the therapist changes a series")
    return locked


def is_late(appointment: Appointment, at: datetime) -> bool:
    window = timedelta(hours=Practice.get().late_cancel_hours)
    return appointment.starts_at - at < window


def cancel_appointment(
    actor: User,
    appointment: Appointment,
    *,
    scope: str = "this",
    request: HttpRequest | None = None,
) -> list[Appointment]:
    now = timezone.now()
    with transaction.atomic():
        locked = _lock_for_change(actor, appointment, scope)
        if not locked.is_live:
            raise SchedulingError(_("This session is no longer booked."), code="not_live")
        if locked.starts_at <= now:
            raise SchedulingError(_("This session has already started."), code="started")
        cancelled = []
        for item in _scope(locked, scope):
            item.status = AppointmentStatus.CANCELLED
            item.cancelled_by = actor
            item.cancelled_at = now
            item.late_cancellation = is_late(item, now)
            item.revision += 1
            item.save(
                update_fields=[
                    "status",
                    "cancelled_by",
                    "cancelled_at",
                    "late_cancellation",
                    "revision",
                ]
            )
            record(
                Action.APPOINTMENT_CANCELLED,
                actor=actor,
                request=request,
                obj=item,
                client=item.client,
                late=item.late_cancellation,
            )
            _after_commit_notify(item, "cancelled")
            cancelled.append(item)
    return cancelled


def reschedule_appointment(
    actor: User,
    appointment: Appointment,
    new_start: datetime,
    *,
    scope: str = "this",
    request: HttpRequest | None = None,
) -> list[Appointment]:
    """Move one appointment (or it and the following ones of its series by the same shift)."""
    now = timezone.now()
    with transaction.atomic():
        locked = _lock_for_change(actor, appointment, scope)
        if not locked.is_live or locked.starts_at <= now:
            raise SchedulingError(_("Only upcoming sessions can be moved."), code="not_live")
        items = _scope(locked, scope)
        _lock_schedules(locked.therapist, locked.client)
        # The same wall-clock move for every item, in the therapist's zone: following sessions
        # keep their local time when the move crosses a daylight-saving change.
        zone = zoneinfo.ZoneInfo(locked.therapist.time_zone)
        shift = _wall_clock(new_start, zone) - _wall_clock(locked.starts_at, zone)
        later = new_start > locked.starts_at
        moved_ids = [i.pk for i in items]
        for item in items:
            if item.pk == locked.pk:
                target = new_start
            else:
                wall = _wall_clock(item.starts_at, zone) + shift
                target = local_to_utc(wall.date(), wall.time(), zone)
            if actor.pk == item.client_id:
                _check_client_move(item, target, now=now)
            else:
                _validate(
                    actor,
                    BookingRequest(item.client, item.session_type, item.modality, target),
                    now=now,
                    exclude=moved_ids,
                )
            length = item.ends_at - item.starts_at
            buffer = item.busy_until - item.ends_at
            _check_overlap(
                item.therapist,
                item.client,
                target,
                target + length,
                target + length + buffer,
                exclude=moved_ids,
            )
            item.starts_at, item.ends_at, item.busy_until = (
                target,
                target + length,
                target + length + buffer,
            )
            item.revision += 1
        try:
            with transaction.atomic():
                # PostgreSQL checks the exclusion constraints row by row: move the far end first,
                # so no session lands on the time of one that has yet to move.
                for item in sorted(items, key=lambda i: i.starts_at, reverse=later):
                    item.save(update_fields=["starts_at", "ends_at", "busy_until", "revision"])
        except DatabaseError as exc:
            if not _overlap_refused(exc):
                raise
            raise SlotTaken() from exc
        for item in items:
            record(
                Action.APPOINTMENT_MOVED, actor=actor, request=request, obj=item, client=item.client
            )
            _after_commit_notify(item, "moved")
    return items


def _wall_clock(moment: datetime, zone: zoneinfo.ZoneInfo) -> datetime:
    """``moment`` as a naive wall-clock time in ``zone``."""
    return moment.astimezone(zone).replace(tzinfo=None)


def _check_client_move(item: Appointment, target: datetime, *, now: datetime) -> None:
    """A client moves their session only into an open slot (their own old time counts as free)."""
    if target <= now:
        raise SchedulingError(_("That time has already passed."), code="past")
    sid = transaction.savepoint_create()
    try:
        Appointment.objects.filter(pk=item.pk).update(status=AppointmentStatus.CANCELLED)
        offered = open_slots(
            item.session_type, now=now, start=target, end=target + timedelta(minutes=1)
        )
    finally:
        transaction.savepoint_rollback(sid)
    if not offered or offered[0].starts_at != target:
        length, buffer = item.ends_at - item.starts_at, item.busy_until - item.ends_at
        _check_overlap(
            item.therapist,
            item.client,
            target,
            target + length,
            target + length + buffer,
            exclude=[item.pk],
        )
        raise SchedulingError(
            _("That time is not open for booking. Please choose one of the times shown."),
            code="not_open",
        )


def set_status(
    actor: User, appointment: Appointment, status: str, request: HttpRequest | None = None
) -> Appointment:
    """Therapist-only transitions: approve a request, decline it, record a no-show."""
    allowed: dict[str, list[str]] = {
        AppointmentStatus.CONFIRMED: [AppointmentStatus.REQUESTED],
        AppointmentStatus.CANCELLED: [AppointmentStatus.REQUESTED],
        AppointmentStatus.NO_SHOW: [AppointmentStatus.CONFIRMED],
        AppointmentStatus.COMPLETED: [AppointmentStatus.CONFIRMED, AppointmentStatus.IN_PROGRESS],
    }
    now = timezone.now()
    with transaction.atomic():
        locked = Appointment.objects.select_for_update().get(pk=appointment.pk)
        if actor.pk != locked.therapist_id:
            raise PermissionDenied("only the therapist changes the status")
        if status not in allowed or locked.status not in allowed[status]:
            raise SchedulingError(_("That change is not possible for this session."), code="status")
        if (
            status in (AppointmentStatus.NO_SHOW, AppointmentStatus.COMPLETED)
            and locked.starts_at > now
        ):
            raise SchedulingError(_("This session has not started yet."), code="not_started")
        locked.status = status
        fields = ["status", "revision"]
        if status == AppointmentStatus.CANCELLED:
            locked.cancelled_by, locked.cancelled_at = actor, now
            fields += ["cancelled_by", "cancelled_at"]
        locked.revision += 1
        locked.save(update_fields=fields)
        record(
            Action.APPOINTMENT_STATUS,
            actor=actor,
            request=request,
            obj=locked,
            client=locked.client,
            status=status,
        )
        if status in (AppointmentStatus.CONFIRMED, AppointmentStatus.CANCELLED):
            _after_commit_notify(
                locked, "booked" if status == AppointmentStatus.CONFIRMED else "cancelled"
            )
    return locked


def _after_commit_notify(appointment: Appointment, change: str) -> None:
    transaction.on_commit(lambda: notifications.appointment_changed(appointment.pk, change))


def appointments_between(user: User, start: datetime, end: datetime) -> list[Appointment]:
    """A user's own appointments (as therapist or client) overlapping [start, end)."""
    return list(
        Appointment.objects.filter(Q(therapist=user) | Q(client=user))
        .filter(starts_at__lt=end, ends_at__gt=start)
        .select_related("client", "therapist", "session_type")
        .order_by("starts_at")
    )


# --- Availability --------------------------------------------------------------------------------
# Changing availability never touches a booking: appointments that end up outside working time
# are listed by ``availability_conflicts`` for the therapist to resolve.


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


def clients_with_current_consent(client_ids: list[int]) -> set[int]:
    """Which of ``client_ids`` signed the current consent (all of them when none is published)."""
    document = current_consent()
    if document is None:
        return set(client_ids)
    return set(
        ConsentSignature.objects.filter(document=document, client_id__in=client_ids).values_list(
            "client_id", flat=True
        )
    )


def appointments_on(user: User, day: date) -> list[Appointment]:
    """A user's appointments that start on ``day`` in their own time zone."""
    try:
        zone = zone_of(user)
    except SchedulingError:
        zone = zoneinfo.ZoneInfo("UTC")
    start = local_to_utc(day, time(0), zone)
    end = local_to_utc(day + timedelta(days=1), time(0), zone)
    return [a for a in appointments_between(user, start, end) if a.starts_at >= start]


def upcoming_sessions(
    client: User, *, limit: int, therapist: User | None = None
) -> list[Appointment]:
    """The client's next booked sessions (not yet over; with ``therapist`` only if given)."""
    sessions = Appointment.objects.filter(
        client=client, status__in=LIVE_STATUSES, ends_at__gt=timezone.now()
    )
    if therapist is not None:
        sessions = sessions.filter(therapist=therapist)
    return list(sessions.select_related("therapist", "session_type").order_by("starts_at")[:limit])
