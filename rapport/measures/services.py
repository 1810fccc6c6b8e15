"""Giving measures and acting on the answers: instruments, assignments, the client's tasks,
submitted responses (immutable; a correction is a new response), and the alerts answers raise.

Every write runs in one transaction. Background work (reminders, alert emails, the escalation
deadline) is queued inside that same transaction: django-tasks-db keeps tasks as database rows,
so an alert and its escalation commit together or not at all, and a worker that is down or
restarting finds them when it comes back. Live events go out after commit only.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from statistics import fmean
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Exists, F, OuterRef, QuerySet
from django.http import HttpRequest
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from rapport.accounts.models import Practice, Role, User
from rapport.audit.services import Action, record
from rapport.care.access import Reach, active_relationship, reach
from rapport.care.models import CareRelationship
from rapport.core import realtime
from rapport.measures import tasks
from rapport.measures.access import may_act_on
from rapport.measures.definitions import (
    Definition,
    DefinitionError,
    Item,
    builtin_definitions,
    load_definition,
)
from rapport.measures.models import (
    AlertKind,
    Assignment,
    Instrument,
    MeasureTask,
    Response,
    SafetyAlert,
    Schedule,
    TaskStatus,
)
from rapport.measures.scoring import Score, ScoringError, score
from rapport.scheduling.models import LIVE_STATUSES, Appointment, AppointmentStatus
from rapport.visits.models import Visit

log = logging.getLogger(__name__)

# Rapport's own after-session feedback form (not a validated instrument).
FEEDBACK_KEY = "rapport-feedback"
# Imported instruments with this construct are used like the feedback form (alliance measures).
ALLIANCE_CONSTRUCT = "alliance"
# Items of the feedback form the drop rules look at.
FEEDBACK_HEARD_ITEM = "heard"
FEEDBACK_OVERALL_ITEM = "overall"
# A marked drop: this share of the scale's range below the mean of the previous responses.
FEEDBACK_DROP_SHARE = 0.25
# A single 0-4 answer must fall by half its scale (e.g. "very good" to "fair"): a one-step dip
# is ordinary variation, not an early sign of a rupture.
FEEDBACK_ITEM_DROP_SHARE = 0.5
FEEDBACK_HISTORY = 3
# "Before every session": a task appears this long before the session starts.
SESSION_WINDOW = timedelta(hours=48)
MAX_INTERVAL_DAYS = 365
ACTION_TAKEN_MAX = 2000
LICENCE_RECORD_MAX = 2000


class MeasureError(ValidationError):
    """A change the measure's state does not allow; the message is for the person."""


# --- Instruments ---------------------------------------------------------------------------------


def definition_of(instrument: Instrument) -> Definition:
    """The instrument's definition, loaded once per instance."""
    cached = instrument.__dict__.get("_definition")
    if cached is None:
        cached = load_definition(instrument.definition)
        instrument.__dict__["_definition"] = cached
    assert isinstance(cached, Definition)  # noqa: S101
    return cached


def is_feedback(definition: Definition) -> bool:
    """Session feedback: Rapport's own form, or an imported (licensed) alliance measure."""
    return definition.key == FEEDBACK_KEY or definition.construct == ALLIANCE_CONSTRUCT


def sync_builtin_instruments(using: str = "default") -> int:
    """Create or update the Instrument rows of the built-in definitions. Returns rows changed.

    Runs after every ``migrate`` (and after the test database is flushed). A built-in version
    no longer shipped stays (responses point at it) but is no longer offered.
    """
    rows = Instrument.objects.using(using)
    changed = 0
    shipped = set()
    for definition in builtin_definitions():
        shipped.add((definition.key, definition.version))
        fields: dict[str, Any] = {
            "name": definition.name,
            "short_name": definition.short_name,
            "definition": definition.to_json(),
            "builtin": True,
        }
        current = rows.filter(key=definition.key, version=definition.version).first()
        if current is None:
            rows.create(key=definition.key, version=definition.version, **fields)
            changed += 1
        elif any(getattr(current, name) != value for name, value in fields.items()):
            for name, value in fields.items():
                setattr(current, name, value)
            current.save(using=using, update_fields=list(fields))
            changed += 1
    for old in rows.filter(builtin=True, is_active=True):
        if (old.key, old.version) not in shipped:
            old.is_active = False
            old.save(using=using, update_fields=["is_active"])
            changed += 1
    return changed


def assignable_instruments() -> list[Instrument]:
    """What a therapist can assign: active instruments, newest version of each, no feedback form."""
    newest: dict[str, Instrument] = {}
    rows = Instrument.objects.filter(is_active=True).exclude(key=FEEDBACK_KEY)
    for instrument in rows.order_by("key", "-imported_at", "-pk"):
        newest.setdefault(instrument.key, instrument)
    return sorted(newest.values(), key=lambda i: i.short_name.lower())


def feedback_instrument() -> Instrument | None:
    """The form a client is asked after each session (newest active version): the practice's
    chosen imported alliance measure, else Rapport's own feedback form."""
    chosen = Practice.get().after_session_instrument
    for key in ([chosen] if chosen else []) + [FEEDBACK_KEY]:
        instrument = (
            Instrument.objects.filter(key=key, is_active=True)
            .order_by("-imported_at", "-pk")
            .first()
        )
        if instrument is not None:
            return instrument
    return None


def import_instrument(
    admin: User,
    data: Mapping[str, Any],
    licence_record: str,
    *,
    request: HttpRequest | None = None,
) -> Instrument:
    """A practice admin adds an instrument the practice holds a licence for.

    Raises ``MeasureError`` listing every problem of the file.
    """
    if not admin.is_practice_admin:
        raise PermissionDenied("only practice admins import instruments")
    licence_record = licence_record.strip()
    if not licence_record:
        raise MeasureError(
            _("Record the licence: who holds it, its terms, and until when."), code="licence"
        )
    if len(licence_record) > LICENCE_RECORD_MAX:
        raise MeasureError(_("The licence record is too long."), code="licence")
    try:
        definition = load_definition(data)
    except DefinitionError as error:
        raise MeasureError(error.problems, code="definition") from error
    if Instrument.objects.filter(key=definition.key, builtin=True).exists():
        raise MeasureError(
            _("A built-in instrument already uses the key %(key)s.") % {"key": definition.key},
            code="builtin_key",
        )
    try:
        with transaction.atomic():
            instrument = Instrument.objects.create(
                key=definition.key,
                version=definition.version,
                name=definition.name,
                short_name=definition.short_name,
                definition=definition.to_json(),
                builtin=False,
                licence_record=licence_record,
                imported_by=admin,
            )
            record(
                Action.INSTRUMENT_IMPORTED,
                actor=admin,
                request=request,
                obj=instrument,
                key=definition.key,
                version=definition.version,
            )
    except IntegrityError:
        raise MeasureError(
            _("Version %(version)s of %(key)s is already imported.")
            % {"version": definition.version, "key": definition.key},
            code="duplicate",
        ) from None
    return instrument


def update_instrument(
    admin: User,
    instrument: Instrument,
    *,
    licence_record: str | None = None,
    is_active: bool | None = None,
    request: HttpRequest | None = None,
) -> Instrument:
    """Change an instrument's licence record or whether it is offered."""
    if not admin.is_practice_admin:
        raise PermissionDenied("only practice admins change instruments")
    fields = []
    if licence_record is not None:
        licence_record = licence_record.strip()
        if len(licence_record) > LICENCE_RECORD_MAX:
            raise MeasureError(_("The licence record is too long."), code="licence")
        if not licence_record and not instrument.builtin:
            raise MeasureError(
                _("An imported instrument needs its licence record."), code="licence"
            )
        instrument.licence_record = licence_record
        fields.append("licence_record")
    if is_active is not None:
        instrument.is_active = is_active
        fields.append("is_active")
    if fields:
        with transaction.atomic():
            instrument.save(update_fields=fields)
            record(
                Action.INSTRUMENT_CHANGED,
                actor=admin,
                request=request,
                obj=instrument,
                fields=fields,
                is_active=instrument.is_active,
            )
    return instrument


# --- Assignments and tasks -----------------------------------------------------------------------


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

    Once: one task. Before every session: one per live appointment starting within the next
    48 hours, due at its start. Every N days: a new one when the last is N days old (an older
    open one is then cancelled: the client is asked about now, not about a past fortnight).
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
                created.append(_new_task(assignment, due_at=now, now=now))
        elif assignment.schedule == Schedule.BEFORE_EACH_SESSION:
            created.extend(_session_tasks(assignment, now))
        else:
            last = assignment.tasks.order_by("-created_at", "-pk").first()
            interval = timedelta(days=assignment.interval_days or 1)
            if last is None or last.created_at + interval <= now:
                assignment.tasks.filter(status=TaskStatus.OPEN).update(status=TaskStatus.CANCELLED)
                task = _new_task(assignment, due_at=now, now=now)
                created.append(task)
                tasks.refresh_assignment.using(run_after=task.created_at + interval).enqueue(
                    assignment.pk
                )
    return created


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


def visit_ended(sender: Any, visit_id: int, **kwargs: Any) -> None:
    """``rapport.visits.signals.visit_ended``: ask the client for feedback on the session."""
    session_ended(visit_id)


def session_ended(visit_id: int) -> MeasureTask | None:
    """After a session, ask the client for feedback on it (once per visit).

    Called after the visit's end commits. A visit the client was never admitted to was no
    session, and gets no feedback form.
    """
    visit: Visit | None = (
        Visit.objects.select_related("client", "therapist").filter(pk=visit_id).first()
    )
    if visit is None or not visit.is_ended or visit.started_at is None:
        return None
    instrument = feedback_instrument()
    if instrument is None:
        return None
    try:
        with transaction.atomic():
            task = MeasureTask.objects.create(
                client=visit.client,
                therapist=visit.therapist,
                instrument=instrument,
                due_at=visit.ended_at or timezone.now(),
                appointment=visit.appointment,
                visit=visit,
            )
            tasks.send_task_reminder.enqueue(task.pk)
    except IntegrityError:
        return None  # already asked about this visit
    return task


# --- Reading ------------------------------------------------------------------------------------


def effective_responses(client: User) -> QuerySet[Response]:
    """The client's responses, each corrected one replaced by its correction."""
    corrected = Response.objects.filter(corrects=OuterRef("pk"))
    return (
        Response.objects.filter(client=client)
        .exclude(Exists(corrected))
        .select_related("instrument")
        .order_by("submitted_at", "pk")
    )


def result_of(response: Response) -> Score:
    return Score.from_json(response.result_data())


def open_alerts(therapist: User) -> QuerySet[SafetyAlert]:
    return (
        SafetyAlert.objects.filter(therapist=therapist, acknowledged_at=None)
        .select_related("client", "response__instrument")
        .order_by("opened_at", "pk")
    )


def escalated_alerts() -> QuerySet[SafetyAlert]:
    """What the practice admins see: every alert that escalated, open ones first."""
    return (
        SafetyAlert.objects.exclude(escalated_at=None)
        .select_related("therapist", "client", "acknowledged_by")
        .order_by(F("acknowledged_at").desc(nulls_first=True), "-escalated_at")
    )


# --- Answering -----------------------------------------------------------------------------------


def _clean_answers(definition: Definition, answers: Mapping[str, Any]) -> dict[str, int | None]:
    """Every item of the definition, with its answer or None (``ScoringError`` for an unknown
    item or a value that is not one of the item's answers)."""
    unknown = sorted(set(answers) - {item.key for item in definition.items})
    if unknown:
        raise ScoringError(f"{definition.short_name} has no item {', '.join(unknown)}.")
    clean: dict[str, int | None] = {}
    for item in definition.items:
        value = answers.get(item.key)
        if value is not None and (
            isinstance(value, bool) or not isinstance(value, int) or item.option(value) is None
        ):
            raise ScoringError(
                f"{definition.short_name} item {item.key}: {value!r} is not one of its answers."
            )
        clean[item.key] = value
    return clean


def _lock_open_task(task: MeasureTask, client: User) -> MeasureTask:
    """The task row, locked, if it is ``client``'s and still open (inside a transaction)."""
    locked = (
        MeasureTask.objects.select_for_update(of=("self",))
        .select_related("instrument", "therapist")
        .get(pk=task.pk)
    )
    if locked.client_id != client.pk:
        raise PermissionDenied("a task is filled in by its client")
    if locked.status != TaskStatus.OPEN:
        raise MeasureError(_("This questionnaire has already been sent."), code="closed")
    return locked


def save_draft(task: MeasureTask, client: User, answers: Mapping[str, Any]) -> MeasureTask:
    """Keep what the client has answered so far (encrypted), to resume later."""
    definition = definition_of(task.instrument)
    clean = _clean_answers(definition, answers)
    with transaction.atomic():
        locked = _lock_open_task(task, client)
        locked.draft = json.dumps({k: v for k, v in clean.items() if v is not None})
        locked.save(update_fields=["draft"])
    task.draft = locked.draft
    return task


def submit(
    task: MeasureTask,
    client: User,
    answers: Mapping[str, Any],
    *,
    request: HttpRequest | None = None,
) -> Response:
    """Score and store the client's answers; raise the alerts they call for.

    A positive risk item opens a SafetyAlert in the same transaction as the response, and the
    email to the therapist and the escalation deadline are queued in it too. Answers that do not
    fit the instrument raise ``ScoringError``; a task already sent raises ``MeasureError``.
    """
    definition = definition_of(task.instrument)
    clean = _clean_answers(definition, answers)
    result = score(definition, clean)
    with transaction.atomic():
        locked = _lock_open_task(task, client)
        response = Response.objects.create(
            task=locked,
            client=client,
            instrument=locked.instrument,
            answers=json.dumps(clean),
            result=json.dumps(result.to_json()),
            risk_positive=result.risk_positive,
            submitted_by=client,
        )
        locked.status = TaskStatus.DONE
        locked.completed_at = response.submitted_at
        locked.draft = ""
        locked.save(update_fields=["status", "completed_at", "draft"])
        record(
            Action.MEASURE_SUBMITTED,
            actor=client,
            request=request,
            obj=response,
            client=client,
            instrument=definition.key,
            version=definition.version,
            task=locked.pk,
            risk_positive=result.risk_positive,
        )
        _act_on(response, locked.therapist, definition, result)
    task.status, task.completed_at, task.draft = locked.status, locked.completed_at, ""
    return response


def correct(
    response: Response,
    user: User,
    answers: Mapping[str, Any],
    *,
    request: HttpRequest | None = None,
) -> Response:
    """A new response that replaces ``response`` (which stays, unchanged).

    The client corrects their own answers, or their therapist enters the corrected ones. An
    alert raised by the original stays open until acknowledged, whatever the correction says.
    """
    definition = definition_of(response.instrument)
    clean = _clean_answers(definition, answers)
    result = score(definition, clean)
    with transaction.atomic():
        original = (
            Response.objects.select_for_update(of=("self",))
            .select_related("client", "instrument", "task__therapist")
            .get(pk=response.pk)
        )
        how = reach(user, original.client)
        if how not in (Reach.SELF, Reach.CARE):
            raise PermissionDenied("only the client or their therapist corrects a response")
        if original.corrections.exists():
            raise MeasureError(
                _("This response has already been corrected; correct the newest one."),
                code="corrected",
            )
        therapist = _therapist_for(original, user)
        correction = Response.objects.create(
            task=original.task,
            client=original.client,
            instrument=original.instrument,
            answers=json.dumps(clean),
            result=json.dumps(result.to_json()),
            risk_positive=result.risk_positive,
            submitted_by=user,
            corrects=original,
        )
        record(
            Action.MEASURE_CORRECTED,
            actor=user,
            request=request,
            obj=correction,
            client=original.client,
            corrects=original.pk,
            instrument=definition.key,
            risk_positive=result.risk_positive,
        )
        if therapist is not None:
            already_open = original.alerts.filter(
                kind=AlertKind.RISK_ITEM, acknowledged_at=None
            ).exists()
            if result.risk_positive and not already_open:
                _raise_alert(correction, therapist, AlertKind.RISK_ITEM)
    return correction


def _therapist_for(response: Response, user: User) -> User | None:
    if response.task is not None:
        return response.task.therapist
    if user.is_therapist:
        return user
    return None


def _act_on(response: Response, therapist: User, definition: Definition, result: Score) -> None:
    if result.risk_positive:
        _raise_alert(response, therapist, AlertKind.RISK_ITEM)
    if is_feedback(definition):
        feedback_drop(response, therapist)


# --- Risk wording --------------------------------------------------------------------------------


@dataclass(frozen=True)
class RiskAnswer:
    key: str
    text: str
    answer: str | None  # the option's label, None when unanswered
    positive: bool


@dataclass(frozen=True)
class RiskSummary:
    """What a response says about risk, in words that never read as "no risk"."""

    has_risk_items: bool
    positive: bool
    answers: tuple[RiskAnswer, ...]
    wording: str


def _risk_answer(item: Item, value: int | None) -> RiskAnswer:
    option = item.option(value) if value is not None else None
    threshold = item.risk_at_or_above
    positive = value is not None and threshold is not None and value >= threshold
    return RiskAnswer(item.key, item.text, option.label if option else None, positive)


def risk_summary(response: Response) -> RiskSummary:
    """The risk items of a response and how to describe them.

    A risk item answered below its threshold is reported as "not endorsed", with the reminder
    that this does not rule out risk (PHQ-9 item 9 alone misses about a third of people at
    risk). Rapport never describes any answer as "no risk".
    """
    definition = definition_of(response.instrument)
    values = response.answer_values()
    answers = tuple(_risk_answer(item, values.get(item.key)) for item in definition.risk_items)
    if not answers:
        wording = _("This questionnaire does not ask about risk; it says nothing about risk.")
        return RiskSummary(False, False, (), wording)
    positive = [a for a in answers if a.positive]
    if positive:
        wording = _("Risk answer given: %(answers)s. Follow up with the client today.") % {
            "answers": "; ".join(_answer_words(a) for a in positive)
        }
    elif any(a.answer is None for a in answers):
        wording = _("The risk question was not answered: risk is unknown. Ask directly.")
    else:
        wording = _("Risk question not endorsed (%(answers)s) — this does not rule out risk.") % {
            "answers": "; ".join(_answer_words(a) for a in answers)
        }
    return RiskSummary(True, bool(positive), answers, wording)


def _answer_words(answer: RiskAnswer) -> str:
    return _("item %(key)s “%(answer)s”") % {"key": answer.key, "answer": answer.answer}


# --- Alerts --------------------------------------------------------------------------------------


def escalation_deadline(alert: SafetyAlert, practice: Practice | None = None) -> datetime:
    minutes = (practice or Practice.get()).alert_escalation_minutes
    return alert.opened_at + timedelta(minutes=minutes)


def _raise_alert(response: Response, therapist: User, kind: str) -> SafetyAlert:
    """Open an alert, in the caller's transaction, with its email and (for risk) escalation."""
    alert = SafetyAlert.objects.create(
        kind=kind, response=response, client=response.client, therapist=therapist
    )
    record(
        Action.ALERT_RAISED,
        actor=response.submitted_by,
        obj=alert,
        client=response.client,
        kind=kind,
        response=response.pk,
        therapist=therapist.pk,
    )
    tasks.send_alert_email.enqueue(alert.pk)
    if kind == AlertKind.RISK_ITEM:
        tasks.escalate_alert.using(run_after=escalation_deadline(alert)).enqueue(alert.pk)
    realtime.publish_to_user(therapist.pk, _alert_event(alert))
    return alert


def alert_title(alert: SafetyAlert) -> str:
    if alert.kind == AlertKind.FEEDBACK_DROP:
        return _("Drop in session feedback")
    return _("Risk answer")


def _alert_event(alert: SafetyAlert) -> dict[str, Any]:
    """What the therapist's open pages show of a new alert, at once (``alert.safety``)."""
    return {
        "type": "alert.safety",
        "alert": alert.pk,
        "kind": alert.kind,
        "title": alert_title(alert),
        "client_name": alert.client.full_name,
        "url": reverse("alert_detail", kwargs={"alert_id": alert.pk}),
    }


def acknowledge(
    alert: SafetyAlert,
    user: User,
    action_taken: str,
    *,
    request: HttpRequest | None = None,
) -> SafetyAlert:
    """Close an alert with the action taken (required; stored encrypted; the act audited)."""
    text = action_taken.strip()
    if not text:
        raise MeasureError(_("Write down the action you took."), code="required")
    if len(text) > ACTION_TAKEN_MAX:
        raise MeasureError(
            _("Keep the action taken under %(max)d characters.") % {"max": ACTION_TAKEN_MAX},
            code="too_long",
        )
    now = timezone.now()
    with transaction.atomic():
        locked = (
            SafetyAlert.objects.select_for_update(of=("self",))
            .select_related("client")
            .get(pk=alert.pk)
        )
        if not may_act_on(user, locked):
            raise PermissionDenied("not allowed to acknowledge this alert")
        if locked.acknowledged_at is not None:
            raise MeasureError(_("This alert has already been acknowledged."), code="done")
        locked.acknowledged_at, locked.acknowledged_by, locked.action_taken = now, user, text
        locked.save(update_fields=["acknowledged_at", "acknowledged_by", "action_taken"])
        record(
            Action.ALERT_ACKNOWLEDGED,
            actor=user,
            request=request,
            obj=locked,
            client=locked.client,
            kind=locked.kind,
            minutes_open=int((now - locked.opened_at).total_seconds() // 60),
            after_escalation=locked.escalated_at is not None,
        )
        recipients = {locked.therapist_id, user.pk}
        if locked.escalated_at is not None:
            recipients.update(_admins().values_list("pk", flat=True))
        for user_id in sorted(recipients):
            realtime.publish_to_user(user_id, {"type": "alert.acknowledged", "alert": locked.pk})
    alert.acknowledged_at, alert.acknowledged_by, alert.action_taken = now, user, text
    return alert


def _admins() -> QuerySet[User]:
    return User.objects.filter(role=Role.ADMIN, is_active=True)


def escalate(alert_id: int, now: datetime | None = None) -> bool:
    """Hand an unacknowledged risk alert to every active practice admin. True if it escalated.

    Runs in the task worker at the deadline. Does nothing for an acknowledged or already
    escalated alert, so running it twice (a restarted worker) is harmless.
    """
    now = now or timezone.now()
    with transaction.atomic():
        alert = (
            SafetyAlert.objects.select_for_update(of=("self",))
            .select_related("client", "therapist")
            .filter(pk=alert_id)
            .first()
        )
        if alert is None or alert.kind != AlertKind.RISK_ITEM:
            return False
        if alert.acknowledged_at is not None or alert.escalated_at is not None:
            return False
        practice = Practice.get()
        deadline = escalation_deadline(alert, practice)
        if now < deadline:
            # The practice gave therapists longer after this alert was raised: come back then.
            tasks.escalate_alert.using(run_after=deadline).enqueue(alert.pk)
            return False
        alert.escalated_at = now
        alert.save(update_fields=["escalated_at"])
        admins = list(_admins())
        record(
            Action.ALERT_ESCALATED,
            obj=alert,
            client=alert.client,
            actor_label="rapport",
            therapist=alert.therapist_id,
            minutes=practice.alert_escalation_minutes,
            admins=[admin.pk for admin in admins],
        )
        if not admins:
            log.error("safety alert %s escalated, but the practice has no active admin", alert.pk)
        for admin in admins:
            tasks.send_escalation_email.enqueue(alert.pk, admin.pk)
        event = {
            "type": "alert.escalated",
            "alert": alert.pk,
            "therapist_name": alert.therapist.full_name,
            "url": reverse("escalated_alerts"),
        }
        for admin in admins:
            realtime.publish_to_user(admin.pk, event)
    return True


def escalate_overdue(now: datetime | None = None) -> int:
    """Escalate every open risk alert past its deadline (a sweep behind the queued tasks)."""
    now = now or timezone.now()
    minutes = Practice.get().alert_escalation_minutes
    overdue = SafetyAlert.objects.filter(
        kind=AlertKind.RISK_ITEM,
        acknowledged_at=None,
        escalated_at=None,
        opened_at__lte=now - timedelta(minutes=minutes),
    )
    return sum(escalate(alert_id, now) for alert_id in overdue.values_list("pk", flat=True))


# --- Feedback on the relationship ----------------------------------------------------------------


def feedback_drop_reasons(response: Response) -> list[str]:
    """Why this feedback response marks a drop (empty when it does not).

    A drop: the total, or the "overall" answer, falls by at least a quarter of its scale below
    the mean of the previous (up to three) responses; or "heard and understood" is at the bottom.
    """
    definition = definition_of(response.instrument)
    values = response.answer_values()
    reasons: list[str] = []
    worse = 1 if definition.higher_is_worse else -1

    heard = _item_or_none(definition, FEEDBACK_HEARD_ITEM)
    if heard is not None and values.get(heard.key) is not None:
        bottom = heard.max_value if definition.higher_is_worse else heard.min_value
        if values[heard.key] == bottom:
            reasons.append(_("felt heard and understood: the lowest answer"))

    previous = list(
        effective_responses(response.client)
        .filter(instrument__key=definition.key, submitted_at__lte=response.submitted_at)
        .exclude(pk=response.pk)
        .order_by("-submitted_at", "-pk")[:FEEDBACK_HISTORY]
    )
    if not previous:
        return reasons
    total = result_of(response).total
    earlier = [t for t in (result_of(r).total for r in previous) if t is not None]
    span = definition.range_max - definition.range_min
    if (
        total is not None
        and earlier
        and worse * (total - fmean(earlier)) >= FEEDBACK_DROP_SHARE * span
    ):
        reasons.append(_("total well below the previous sessions"))
    overall = _item_or_none(definition, FEEDBACK_OVERALL_ITEM)
    if overall is not None and values.get(overall.key) is not None:
        before: list[int] = [
            value for r in previous if (value := r.answer_values().get(overall.key)) is not None
        ]
        item_span = overall.max_value - overall.min_value
        if before and worse * (values[overall.key] - fmean(before)) >= (
            FEEDBACK_ITEM_DROP_SHARE * item_span
        ):
            reasons.append(_("overall rating well below the previous sessions"))
    return reasons


def _item_or_none(definition: Definition, key: str) -> Item | None:
    try:
        return definition.item(key)
    except KeyError:
        return None


def feedback_drop(response: Response, therapist: User) -> SafetyAlert | None:
    """Raise a feedback alert (in-app and email, no escalation) on a marked drop."""
    if not feedback_drop_reasons(response):
        return None
    return _raise_alert(response, therapist, AlertKind.FEEDBACK_DROP)
