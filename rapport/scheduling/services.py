"""Booking, changing and cancelling appointments; telehealth consent.

Every write runs in one transaction. The overlap rule is enforced twice: here (a clear message,
and the only guard on SQLite, where IMMEDIATE transactions serialize the check and the insert)
and by PostgreSQL's exclusion constraints (which catch the race between two transactions).
Emails and reminders are queued only after commit.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext as _

from rapport.accounts.models import Practice, User
from rapport.audit.services import Action, record, request_origin
from rapport.care.access import active_relationship
from rapport.lib.intervals import local_to_utc
from rapport.scheduling.availability import open_slots
from rapport.scheduling.models import (
    LIVE_STATUSES,
    Appointment,
    AppointmentSeries,
    AppointmentStatus,
    ConsentDocument,
    ConsentSignature,
    SessionType,
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
    document = current_consent()
    if document is None:
        return True  # The practice has not published a consent document.
    return ConsentSignature.objects.filter(client=client, document=document).exists()


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
    live = Appointment.objects.filter(status__in=LIVE_STATUSES).exclude(pk__in=exclude or [])
    if live.filter(
        therapist=therapist, starts_at__lt=busy_until, busy_until__gt=starts_at
    ).exists():
        raise SlotTaken()
    if live.filter(client=client, starts_at__lt=ends_at, ends_at__gt=starts_at).exists():
        raise SchedulingError(_("You already have a session at that time."), code="client_busy")


def _validate(actor: User, booking: BookingRequest, *, now: datetime) -> None:
    session_type = booking.session_type
    therapist = session_type.therapist
    client = booking.client
    if actor.pk not in (client.pk, therapist.pk):
        raise PermissionDenied("only the client or their therapist books")
    if not client.is_client or active_relationship(therapist, client) is None:
        raise SchedulingError(_("You can only book with your own therapist."), code="no_care")
    if not session_type.is_active:
        raise SchedulingError(_("This kind of session is no longer offered."), code="type")
    if booking.modality not in session_type.modalities:
        raise SchedulingError(
            _("This kind of session is not held as %(modality)s.") % {"modality": booking.modality},
            code="modality",
        )
    if booking.starts_at <= now:
        raise SchedulingError(_("That time has already passed."), code="past")
    if actor.pk == client.pk:
        if not has_current_consent(client):
            raise SchedulingError(
                _("Please read and sign the telehealth consent before booking."), code="consent"
            )
        offered = open_slots(
            session_type,
            now=now,
            start=booking.starts_at,
            end=booking.starts_at + timedelta(minutes=1),
        )
        if not offered or offered[0].starts_at != booking.starts_at:
            raise SchedulingError(
                _("That time is not open for booking. Please choose one of the times shown."),
                code="not_open",
            )


def _insert(
    actor: User, booking: BookingRequest, status: str, series: AppointmentSeries | None = None
) -> Appointment:
    session_type = booking.session_type
    ends_at = booking.starts_at + timedelta(minutes=session_type.minutes)
    busy_until = ends_at + timedelta(minutes=session_type.buffer_minutes)
    _check_overlap(session_type.therapist, booking.client, booking.starts_at, ends_at, busy_until)
    try:
        with transaction.atomic():
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
    except IntegrityError as exc:
        # PostgreSQL's exclusion constraint: another transaction took the time first.
        raise SlotTaken() from exc


def book_appointment(
    actor: User, booking: BookingRequest, *, request: HttpRequest | None = None
) -> Appointment:
    now = timezone.now()
    _validate(actor, booking, now=now)
    needs_approval = actor.pk == booking.client.pk and Practice.get().requires_booking_approval
    status = AppointmentStatus.REQUESTED if needs_approval else AppointmentStatus.CONFIRMED
    with transaction.atomic():
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
    for moment in starts:
        _validate(
            actor,
            BookingRequest(booking.client, booking.session_type, booking.modality, moment),
            now=now,
        )
    with transaction.atomic():
        series = AppointmentSeries.objects.create(
            therapist=therapist, client=booking.client, interval_weeks=interval_weeks
        )
        appointments = []
        for moment in starts:
            try:
                appointments.append(
                    _insert(
                        actor,
                        BookingRequest(
                            booking.client, booking.session_type, booking.modality, moment
                        ),
                        AppointmentStatus.CONFIRMED,
                        series,
                    )
                )
            except SchedulingError as exc:
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
        locked = Appointment.objects.select_for_update().get(pk=appointment.pk)
        if actor.pk not in (locked.client_id, locked.therapist_id):
            raise PermissionDenied("not your appointment")
        if not locked.is_live:
            raise SchedulingError(_("This session is no longer booked."), code="not_live")
        if locked.starts_at <= now:
            raise SchedulingError(_("This session has already started."), code="started")
        if scope == "following" and actor.pk != locked.therapist_id:
            raise PermissionDenied("only the therapist changes a series")
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
        locked = Appointment.objects.select_for_update().get(pk=appointment.pk)
        if actor.pk not in (locked.client_id, locked.therapist_id):
            raise PermissionDenied("not your appointment")
        if not locked.is_live or locked.starts_at <= now:
            raise SchedulingError(_("Only upcoming sessions can be moved."), code="not_live")
        if scope == "following" and actor.pk != locked.therapist_id:
            raise PermissionDenied("only the therapist changes a series")
        items = _scope(locked, scope)
        shift = new_start - locked.starts_at
        moved_ids = [i.pk for i in items]
        for item in items:
            target = item.starts_at + shift
            if actor.pk == item.client_id:
                _check_client_move(item, target, now=now)
            else:
                _validate(
                    actor,
                    BookingRequest(item.client, item.session_type, item.modality, target),
                    now=now,
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
                for item in items:
                    item.save(update_fields=["starts_at", "ends_at", "busy_until", "revision"])
        except IntegrityError as exc:
            raise SlotTaken() from exc
        for item in items:
            record(
                Action.APPOINTMENT_MOVED, actor=actor, request=request, obj=item, client=item.client
            )
            _after_commit_notify(item, "moved")
    return items


def _check_client_move(item: Appointment, target: datetime, *, now: datetime) -> None:
    """A client moves their session only into an open slot (their own old time counts as free)."""
    if target <= now:
        raise SchedulingError(_("That time has already passed."), code="past")
    sid = transaction.savepoint()
    try:
        Appointment.objects.filter(pk=item.pk).update(status=AppointmentStatus.CANCELLED)
        offered = open_slots(
            item.session_type, now=now, start=target, end=target + timedelta(minutes=1)
        )
    finally:
        transaction.savepoint_rollback(sid)
    if not offered or offered[0].starts_at != target:
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
    from rapport.scheduling import notifications

    transaction.on_commit(lambda: notifications.appointment_changed(appointment.pk, change))


def appointments_between(user: User, start: datetime, end: datetime) -> list[Appointment]:
    """A user's own appointments (as therapist or client) overlapping [start, end)."""
    return list(
        Appointment.objects.filter(Q(therapist=user) | Q(client=user))
        .filter(starts_at__lt=end, ends_at__gt=start)
        .select_related("client", "therapist", "session_type")
        .order_by("starts_at")
    )
