"""Changing booked appointments: cancelling (late cancellations recorded), moving one session or
it and the following ones of its series, and the therapist's status changes (approve, decline,
no-show, completed). Each change takes the row lock and the booking rules of ``booking``.
"""

from __future__ import annotations

import zoneinfo
from datetime import datetime, timedelta
from typing import Any

from django.core.exceptions import PermissionDenied
from django.db import DatabaseError, transaction
from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext as _

from rapport.accounts.models import Practice, User
from rapport.audit.services import Action, record
from rapport.lib.intervals import local_to_utc
from rapport.scheduling.availability import open_slots
from rapport.scheduling.booking import (
    BookingRequest,
    check_overlap,
    lock_schedules,
    overlap_refused,
    queue_change_emails,
    validate_booking,
)
from rapport.scheduling.errors import SchedulingError, SlotTaken
from rapport.scheduling.models import LIVE_STATUSES, Appointment, AppointmentStatus


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
        items = _scope(locked, scope)
        for item in items:
            _cancel(item, actor=actor, now=now, late=is_late(item, now), request=request)
    return items


def cancel_for_handover(
    therapist: User, client: User, *, actor: User, request: HttpRequest | None = None
) -> list[Appointment]:
    """The practice moved ``client`` from ``therapist`` to another therapist (``actor``: the
    admin who decided it): their sessions with ``therapist`` still to come are cancelled, never
    as late cancellations (nobody chose to miss them). Both people get the usual emails."""
    if not actor.is_practice_admin:
        raise PermissionDenied("only a practice admin hands a client over")
    now = timezone.now()
    with transaction.atomic():
        items = list(
            Appointment.objects.select_for_update()
            .filter(therapist=therapist, client=client, status__in=LIVE_STATUSES, starts_at__gt=now)
            .order_by("starts_at", "pk")
        )
        for item in items:
            _cancel(item, actor=actor, now=now, late=False, request=request, handover=True)
    return items


def _cancel(
    item: Appointment,
    *,
    actor: User,
    now: datetime,
    late: bool,
    request: HttpRequest | None,
    handover: bool = False,
) -> None:
    item.status = AppointmentStatus.CANCELLED
    item.cancelled_by = actor
    item.cancelled_at = now
    item.late_cancellation = late
    item.revision += 1
    item.save(
        update_fields=["status", "cancelled_by", "cancelled_at", "late_cancellation", "revision"]
    )
    detail: dict[str, Any] = {"handover": True} if handover else {}
    record(
        Action.APPOINTMENT_CANCELLED,
        actor=actor,
        request=request,
        obj=item,
        client=item.client,
        late=late,
        **detail,
    )
    queue_change_emails(item, "cancelled")


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
        lock_schedules(locked.therapist, locked.client)
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
                validate_booking(
                    actor,
                    BookingRequest(item.client, item.session_type, item.modality, target),
                    now=now,
                    exclude=moved_ids,
                )
            length = item.ends_at - item.starts_at
            buffer = item.busy_until - item.ends_at
            check_overlap(
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
            if not overlap_refused(exc):
                raise
            raise SlotTaken() from exc
        for item in items:
            record(
                Action.APPOINTMENT_MOVED, actor=actor, request=request, obj=item, client=item.client
            )
            queue_change_emails(item, "moved")
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
        check_overlap(
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
            queue_change_emails(
                locked, "booked" if status == AppointmentStatus.CONFIRMED else "cancelled"
            )
    return locked
