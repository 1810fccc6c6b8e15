"""Giving measures: a therapist's assignments and the questionnaires (tasks) they call for.

Tasks are made when the client opens their list and by the worker (``tasks.refresh_assignment``),
so reminders go out even to clients who never sign in. Reminders and later refreshes are queued
inside the transaction that makes them necessary: django-tasks-db keeps tasks as database rows.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import Exists, OuterRef, QuerySet
from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext as _

from rapport.accounts.models import User
from rapport.audit.services import Action, record
from rapport.care.access import Reach, active_relationship, reach
from rapport.care.models import CareRelationship
from rapport.measures import tasks
from rapport.measures.errors import MeasureError
from rapport.measures.instruments import FEEDBACK_KEY
from rapport.measures.models import Assignment, Instrument, MeasureTask, Schedule, TaskStatus
from rapport.scheduling.models import LIVE_STATUSES, Appointment, AppointmentStatus

# "Before every session": a task appears this long before the session starts.
SESSION_WINDOW = timedelta(hours=48)
# A one-off questionnaire is asked to be filled in within this time of being assigned.
ONE_OFF_DUE = timedelta(days=7)
MAX_INTERVAL_DAYS = 365


def assign(
    therapist: User,
    client: User,
    instrument: Instrument,
    schedule: str,
    *,
    interval_days: int | None = None,
    request: HttpRequest | None = None,
    now: datetime | None = None,
) -> Assignment:
    """The therapist asks their client to complete ``instrument`` once or on a schedule."""
    now = now or timezone.now()
    if not therapist.is_therapist or active_relationship(therapist, client) is None:
        raise PermissionDenied("only the client's therapist assigns measures")
    if not instrument.is_active or instrument.key == FEEDBACK_KEY:
        raise MeasureError(_("This instrument cannot be assigned."), code="instrument")
    if schedule not in Schedule.values:
        raise MeasureError(_("Choose when the client is asked."), code="schedule")
    if schedule == Schedule.EVERY_N_DAYS:
        if interval_days is None or not 1 <= interval_days <= MAX_INTERVAL_DAYS:
            raise MeasureError(
                _("Give the number of days between two questionnaires (1 to %(max)d).")
                % {"max": MAX_INTERVAL_DAYS},
                code="interval",
            )
    else:
        interval_days = None
    with transaction.atomic():
        # Lock the relationship: two assignments of the same instrument at once become one.
        CareRelationship.objects.select_for_update().filter(
            therapist=therapist, client=client, status=CareRelationship.Status.ACTIVE
        ).first()
        if Assignment.objects.filter(
            client=client, instrument__key=instrument.key, is_active=True
        ).exists():
            raise MeasureError(
                _("%(name)s is already assigned to this client. End that first.")
                % {"name": instrument.short_name},
                code="duplicate",
            )
        assignment = Assignment.objects.create(
            client=client,
            therapist=therapist,
            instrument=instrument,
            schedule=schedule,
            interval_days=interval_days,
            created_at=now,
        )
        record(
            Action.MEASURE_ASSIGNED,
            actor=therapist,
            request=request,
            obj=assignment,
            client=client,
            instrument=instrument.key,
            version=instrument.version,
            schedule=schedule,
            interval_days=interval_days,
        )
        refresh_assignment(assignment.pk, now=now)
        if schedule == Schedule.BEFORE_EACH_SESSION:
            for appointment in _upcoming_sessions(assignment, now, limit=None):
                _queue_session_refresh(assignment, appointment, now)
    return assignment


def end_assignment(
    assignment: Assignment, user: User, *, request: HttpRequest | None = None
) -> Assignment:
    """Stop asking; open tasks of the assignment are cancelled. Ending twice changes nothing."""
    with transaction.atomic():
        locked = Assignment.objects.select_for_update().get(pk=assignment.pk)
        if user.pk != locked.therapist_id and reach(user, locked.client) != Reach.CARE:
            raise PermissionDenied("only the client's therapist ends an assignment")
        if not locked.is_active:
            return locked
        locked.is_active = False
        locked.ended_at = timezone.now()
        locked.save(update_fields=["is_active", "ended_at"])
        locked.tasks.filter(status=TaskStatus.OPEN).update(status=TaskStatus.CANCELLED)
        record(
            Action.MEASURE_ASSIGNMENT_ENDED,
            actor=user,
            request=request,
            obj=locked,
            client=locked.client,
            instrument=locked.instrument.key,
        )
    return locked


def refresh_assignment(assignment_id: int, now: datetime | None = None) -> list[MeasureTask]:
    """Create the tasks an assignment calls for by ``now``; returns the new ones.

    Once: one task, due a week later. Before every session: one per live appointment starting
    within the next 48 hours, due at its start. Every N days: a new one when the last is N days
    old, due when the next one comes (an older open one is then cancelled: the client is asked
    about now, not about a past fortnight). No task is ever due before it was made.
    Safe to call any number of times, from a page or from a task: the assignment row is locked.
    """
    now = now or timezone.now()
    created: list[MeasureTask] = []
    with transaction.atomic():
        assignment = (
            Assignment.objects.select_for_update(of=("self",))
            .select_related("instrument", "client", "therapist")
            .filter(pk=assignment_id, is_active=True)
            .first()
        )
        if (
            assignment is None
            or active_relationship(assignment.therapist, assignment.client) is None
        ):
            return []
        if assignment.schedule == Schedule.ONCE:
            if not assignment.tasks.exists():
                created.append(_new_task(assignment, due_at=now + ONE_OFF_DUE, now=now))
        elif assignment.schedule == Schedule.BEFORE_EACH_SESSION:
            created.extend(_session_tasks(assignment, now))
        else:
            last = assignment.tasks.order_by("-created_at", "-pk").first()
            interval = timedelta(days=assignment.interval_days or 1)
            if last is None or last.created_at + interval <= now:
                assignment.tasks.filter(status=TaskStatus.OPEN).update(status=TaskStatus.CANCELLED)
                task = _new_task(assignment, due_at=now + interval, now=now)
                created.append(task)
                tasks.refresh_assignment.using(run_after=task.created_at + interval).enqueue(
                    assignment.pk
                )
    return created


def finish_one_off(task: MeasureTask) -> None:
    """A one-off assignment ends when its questionnaire is sent, so it can be assigned again
    (in the transaction that stores the answers)."""
    Assignment.objects.filter(tasks=task, schedule=Schedule.ONCE, is_active=True).update(
        is_active=False, ended_at=task.completed_at
    )


def _new_task(
    assignment: Assignment,
    *,
    due_at: datetime,
    now: datetime,
    appointment: Appointment | None = None,
) -> MeasureTask:
    task = MeasureTask.objects.create(
        assignment=assignment,
        client=assignment.client,
        therapist=assignment.therapist,
        instrument=assignment.instrument,
        due_at=due_at,
        appointment=appointment,
        created_at=now,
    )
    tasks.send_task_reminder.enqueue(task.pk)
    return task


def _upcoming_sessions(
    assignment: Assignment, now: datetime, *, limit: timedelta | None
) -> QuerySet[Appointment]:
    rows = Appointment.objects.filter(
        client=assignment.client_id,
        therapist=assignment.therapist_id,
        status__in=LIVE_STATUSES,
        starts_at__gt=now,
    )
    if limit is not None:
        rows = rows.filter(starts_at__lte=now + limit)
    return rows.order_by("starts_at")


def _session_tasks(assignment: Assignment, now: datetime) -> list[MeasureTask]:
    created = []
    have = set(assignment.tasks.exclude(appointment=None).values_list("appointment_id", flat=True))
    for appointment in _upcoming_sessions(assignment, now, limit=SESSION_WINDOW):
        if appointment.pk not in have:
            created.append(
                _new_task(
                    assignment, due_at=appointment.starts_at, now=now, appointment=appointment
                )
            )
    # A task for a session that will not happen, or one that has passed while a newer session
    # already has its own task, is no longer the client's to do.
    stale = assignment.tasks.filter(status=TaskStatus.OPEN).exclude(appointment=None)
    newest_start = (
        stale.order_by("-appointment__starts_at").values_list("appointment__starts_at", flat=True)
    ).first()
    for task in stale.select_related("appointment"):
        session = task.appointment
        assert session is not None  # noqa: S101
        gone = session.status in (AppointmentStatus.CANCELLED, AppointmentStatus.NO_SHOW)
        superseded = session.starts_at < now and session.starts_at != newest_start
        if gone or superseded:
            task.status = TaskStatus.CANCELLED
            task.save(update_fields=["status"])
    return created


def _queue_session_refresh(assignment: Assignment, appointment: Appointment, now: datetime) -> None:
    """Come back when ``appointment`` enters the 48-hour window (at once if it already has)."""
    run_after = appointment.starts_at - SESSION_WINDOW
    task = tasks.refresh_assignment
    if run_after > now:
        task = task.using(run_after=run_after)
    task.enqueue(assignment.pk)


def appointment_saved(sender: type[Appointment], instance: Appointment, **kwargs: Any) -> None:
    """A booked or moved session gets its "before every session" task in time for a reminder.

    Connected to ``post_save`` of Appointment; the queueing runs after the booking commits.
    """
    if kwargs.get("raw") or not instance.is_live:
        return
    appointment_id = instance.pk
    transaction.on_commit(lambda: _appointment_changed(appointment_id), robust=True)


def _appointment_changed(appointment_id: int) -> None:
    appointment = Appointment.objects.filter(pk=appointment_id).first()
    now = timezone.now()
    if appointment is None or not appointment.is_live or appointment.starts_at <= now:
        return
    assignments = Assignment.objects.filter(
        client=appointment.client_id,
        therapist=appointment.therapist_id,
        schedule=Schedule.BEFORE_EACH_SESSION,
        is_active=True,
    )
    for assignment in assignments:
        _queue_session_refresh(assignment, appointment, now)


def client_assignments(client: User) -> QuerySet[Assignment]:
    """Every assignment of the client, current ones first, by any therapist."""
    return (
        Assignment.objects.filter(client=client)
        .select_related("instrument", "therapist")
        .defer("instrument__definition")
        .order_by("-is_active", "-created_at")
    )


def client_open_tasks(client: User) -> QuerySet[MeasureTask]:
    """Every questionnaire the client has still to fill in, for their therapist's page."""
    return (
        MeasureTask.objects.filter(client=client, status=TaskStatus.OPEN)
        .select_related("instrument")
        .only(
            "pk",
            "due_at",
            "instrument__short_name",
            "appointment_id",
            "visit_id",
            "unsent_risk_noticed_at",
        )
    )


def open_tasks(client: User) -> QuerySet[MeasureTask]:
    """The client's questionnaires still to fill in, from therapists who still treat them."""
    in_care = CareRelationship.objects.filter(
        therapist=OuterRef("therapist"),
        client=OuterRef("client"),
        status=CareRelationship.Status.ACTIVE,
    )
    return (
        MeasureTask.objects.filter(client=client, status=TaskStatus.OPEN)
        .filter(Exists(in_care))
        .select_related("instrument", "therapist")
        .order_by("due_at", "pk")
    )


def due_tasks(client: User, now: datetime | None = None) -> list[MeasureTask]:
    """What the client has to do now: brings every assignment up to date, then lists them."""
    now = now or timezone.now()
    assignments = Assignment.objects.filter(client=client, is_active=True)
    for assignment_id in assignments.values_list("pk", flat=True):
        refresh_assignment(assignment_id, now=now)
    return list(open_tasks(client))
