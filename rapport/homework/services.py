"""Homework: assigning (one piece of homework per due day of the recurrence), the client's
drafts and submission, the therapist's comment, and what a note says about homework since the
last session. Each write runs in one transaction with its audit event; callers reached the
client through ``rapport.homework.access``.
"""

from __future__ import annotations

import json
from datetime import date, datetime, time, timedelta
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Count, Q
from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext as _

from rapport.accounts.models import User
from rapport.audit.services import Action, record
from rapport.homework import tasks
from rapport.homework.exercises import FREE_TASK, LIBRARY, Exercise, exercise_for
from rapport.homework.models import Assignment, Homework, Repeat, Status
from rapport.messaging.preferences import wall_clock, zone_of

MOST_DUE_DATES = 60  # of one recurring assignment
REMIND_AT = time(9, 0)  # on the due day, in the client's zone
TEXT_LIMIT = 5000  # characters of one answer


class HomeworkError(ValidationError):
    """A change the rules refuse, in words for the person who tried it."""


def due_dates(first_due: date, repeat: str, until: date | None) -> list[date]:
    """Every day a piece of homework falls due: ``first_due``, then each day or week up to and
    including ``until``."""
    if repeat == Repeat.NONE:
        return [first_due]
    if until is None:
        raise HomeworkError(_("Say until when the homework repeats."))
    if until < first_due:
        raise HomeworkError(_("The homework cannot repeat until a day before it is first due."))
    step = timedelta(days=1 if repeat == Repeat.DAILY else 7)
    days = []
    day = first_due
    while day <= until:
        days.append(day)
        if len(days) > MOST_DUE_DATES:
            raise HomeworkError(
                _("That makes more than %(n)d due dates. Choose an earlier end date.")
                % {"n": MOST_DUE_DATES}
            )
        day += step
    return days


def title_of(assignment: Assignment) -> str:
    exercise = exercise_for(assignment.exercise)
    if assignment.exercise == FREE_TASK or exercise is None:
        return assignment.title or _("Free task")
    return str(exercise.title)


def exercise_of(assignment: Assignment) -> Exercise:
    exercise = exercise_for(assignment.exercise)
    # An exercise removed from the library: its answers stay readable as a free task's.
    return exercise or LIBRARY[FREE_TASK]


def assign(
    therapist: User,
    client: User,
    *,
    exercise: str,
    first_due: date,
    repeat: str = Repeat.NONE,
    repeat_until: date | None = None,
    title: str = "",
    instructions: str = "",
    request: HttpRequest | None = None,
) -> Assignment:
    """Assign an exercise (or a free task) to ``client``, due on ``first_due`` and then each day
    or week until ``repeat_until``. Each due day gets its piece of homework and its reminder."""
    if exercise_for(exercise) is None:
        raise HomeworkError(_("Choose an exercise from the library, or a free task."))
    if repeat not in Repeat.values:
        raise HomeworkError(_("Choose how often the homework repeats."))
    if exercise == FREE_TASK and not title.strip():
        raise HomeworkError(_("Give the free task a title."))
    if first_due < timezone.localdate():
        raise HomeworkError(_("The homework cannot be due in the past."))
    days = due_dates(first_due, repeat, repeat_until)
    with transaction.atomic():
        assignment = Assignment.objects.create(
            client=client,
            assigned_by=therapist,
            exercise=exercise,
            title=title.strip()[:200] if exercise == FREE_TASK else "",
            instructions=instructions.strip()[:TEXT_LIMIT],
            first_due=first_due,
            repeat=repeat,
            repeat_until=repeat_until if repeat != Repeat.NONE else None,
        )
        made = Homework.objects.bulk_create(
            Homework(assignment=assignment, client=client, due_on=day) for day in days
        )
        record(
            Action.HOMEWORK_ASSIGNED,
            actor=therapist,
            request=request,
            obj=assignment,
            client=client,
            exercise=exercise,
            due_dates=len(days),
        )
        _schedule_reminders(client, made)
    return assignment


def _schedule_reminders(client: User, made: list[Homework]) -> None:
    now = timezone.now()
    zone = zone_of(client)
    for homework in made:
        remind_at = wall_clock(homework.due_on, REMIND_AT, zone)
        tasks.send_due_reminder.using(run_after=max(remind_at, now)).enqueue(homework.pk)


def change_assignment(
    therapist: User,
    assignment: Assignment,
    *,
    title: str = "",
    instructions: str = "",
    repeat_until: date | None = None,
    request: HttpRequest | None = None,
) -> Assignment:
    """Change what the client reads (a free task's title, the instructions) and, for repeating
    homework, the last day it is due. A later end adds the new due days (from today on, each
    with its reminder); an earlier one removes the pieces after it that the client has not
    started. What the client started or handed in is never removed."""
    today = timezone.localdate()
    with transaction.atomic():
        locked = Assignment.objects.select_for_update().get(pk=assignment.pk)
        if locked.stopped_at is not None:
            raise HomeworkError(_("This homework was stopped, so it cannot change."))
        if locked.exercise == FREE_TASK and not title.strip():
            raise HomeworkError(_("Give the free task a title."))
        fields = ["instructions", "changed_at"]
        if locked.exercise == FREE_TASK:
            locked.title = title.strip()[:200]
            fields.append("title")
        locked.instructions = instructions.strip()[:TEXT_LIMIT]
        added = removed = 0
        if locked.repeat != Repeat.NONE and repeat_until != locked.repeat_until:
            if repeat_until is None:
                raise HomeworkError(_("Say until when the homework repeats."))
            if repeat_until < today:  # that would only hide what was missed: stop it instead
                raise HomeworkError(_("Choose today or a later day, or stop the homework instead."))
            days = set(due_dates(locked.first_due, locked.repeat, repeat_until))
            existing = set(locked.homework.values_list("due_on", flat=True))
            removed, _kinds = locked.homework.filter(
                due_on__gt=repeat_until, status=Status.ASSIGNED
            ).delete()
            made = Homework.objects.bulk_create(
                Homework(assignment=locked, client=locked.client, due_on=day)
                for day in sorted(days - existing)
                if day >= today
            )
            added = len(made)
            _schedule_reminders(locked.client, made)
            locked.repeat_until = repeat_until
            fields.append("repeat_until")
        locked.changed_at = timezone.now()
        locked.save(update_fields=fields)
        record(
            Action.HOMEWORK_CHANGED,
            actor=therapist,
            request=request,
            obj=locked,
            client=locked.client,
            added=added,
            removed=removed,
        )
    return locked


def stop_assignment(
    therapist: User, assignment: Assignment, *, request: HttpRequest | None = None
) -> int:
    """Stop homework: the pieces due today or later that the client has not started go (their
    reminders find nothing to send); drafts can still be handed in, and what was due before
    stays in the record. Returns how many pieces went."""
    with transaction.atomic():
        locked = Assignment.objects.select_for_update().get(pk=assignment.pk)
        if locked.stopped_at is not None:
            raise HomeworkError(_("This homework was already stopped."))
        removed, _kinds = locked.homework.filter(
            due_on__gte=timezone.localdate(), status=Status.ASSIGNED
        ).delete()
        locked.stopped_at = timezone.now()
        locked.save(update_fields=["stopped_at"])
        record(
            Action.HOMEWORK_STOPPED,
            actor=therapist,
            request=request,
            obj=locked,
            client=locked.client,
            removed=removed,
        )
    return removed


def assignments_of(client: User) -> list[Assignment]:
    """The client's assignments for the clinical team, the latest first."""
    return list(Assignment.objects.filter(client=client).order_by("-created_at", "-pk"))


def answers_of(homework: Homework) -> dict[str, Any]:
    """The client's answers: ``{"fields": {key: text}, "rows": [{key: text}, ...]}``."""
    data: dict[str, Any] = json.loads(homework.answers) if homework.answers else {}
    return {"fields": data.get("fields", {}), "rows": data.get("rows", [])}


def save_answers(
    client: User,
    homework: Homework,
    answers: dict[str, Any],
    *,
    submit: bool,
    request: HttpRequest | None = None,
) -> Homework:
    """Keep the client's answers as a draft, or hand the homework in (``submit``). Handed-in
    homework does not change: the therapist reads what was handed in."""
    if homework.client_id != client.pk:
        raise HomeworkError(_("This is not your homework."))
    with transaction.atomic():
        locked = Homework.objects.select_for_update().get(pk=homework.pk)
        if locked.status == Status.SUBMITTED:
            raise HomeworkError(_("You already handed this in, so it cannot change."))
        now = timezone.now()
        locked.answers = json.dumps(answers, ensure_ascii=False)
        locked.saved_at = now
        fields = ["answers", "saved_at", "status"]
        if submit:
            locked.status, locked.submitted_at = Status.SUBMITTED, now
            fields.append("submitted_at")
            record(
                Action.HOMEWORK_SUBMITTED,
                actor=client,
                request=request,
                obj=locked,
                client=client,
            )
        else:
            locked.status = Status.DRAFT
        locked.save(update_fields=fields)
    return locked


def add_comment(
    therapist: User, homework: Homework, text: str, *, request: HttpRequest | None = None
) -> Homework:
    """The therapist's comment on handed-in homework (a later comment replaces it)."""
    words = text.strip()
    if not words:
        raise HomeworkError(_("Write a comment first."))
    if len(words) > TEXT_LIMIT:
        raise HomeworkError(_("Keep the comment under %(n)d characters.") % {"n": TEXT_LIMIT})
    with transaction.atomic():
        locked = Homework.objects.select_for_update().get(pk=homework.pk)
        if locked.status != Status.SUBMITTED:
            raise HomeworkError(_("Comment once the client has handed the homework in."))
        locked.comment, locked.commented_at, locked.commented_by = words, timezone.now(), therapist
        locked.save(update_fields=["comment", "commented_at", "commented_by"])
        record(
            Action.HOMEWORK_COMMENTED,
            actor=therapist,
            request=request,
            obj=locked,
            client=locked.client,
        )
    return locked


def homework_of(client: User) -> list[Homework]:
    """All of a client's homework for the clinical team, the latest due first."""
    return list(
        Homework.objects.filter(client=client)
        .select_related("assignment")
        .order_by("-due_on", "-pk")
    )


def due_between(client: User, *, after: date | None, until: date) -> list[Homework]:
    """The client's homework due after ``after`` (every earlier day when None) and on or
    before ``until``, soonest first."""
    rows = Homework.objects.filter(client=client, due_on__lte=until).select_related("assignment")
    if after is not None:
        rows = rows.filter(due_on__gt=after)
    return list(rows.order_by("due_on", "pk"))


def since_last_session(client: User, *, last_session: datetime | None, until: date) -> str:
    """What a new note starts with about homework: "Homework since the last session: Sleep
    diary (due 3 Dec): done; ...", or "" when none was due."""
    after = timezone.localdate(last_session) if last_session is not None else None
    due = due_between(client, after=after, until=until)
    if not due:
        return ""
    parts = [
        _("%(title)s (due %(day)s): %(status)s")
        % {
            "title": title_of(h.assignment),
            "day": h.due_on.isoformat(),
            "status": _("done") if h.is_done else _("not done"),
        }
        for h in due
    ]
    return _("Homework since the last session: %(list)s.") % {"list": "; ".join(parts)}


def readable_answers(homework: Homework) -> dict[str, Any]:
    """The answers with their labels, for reading: ``fields`` as (label, text) pairs, ``rows``
    under ``columns``."""
    exercise = exercise_of(homework.assignment)
    saved = answers_of(homework)
    fields = [
        (str(spec.label), saved["fields"][spec.key])
        for spec in exercise.fields
        if saved["fields"].get(spec.key)
    ]
    columns = [str(spec.label) for spec in exercise.rows]
    rows = [[row.get(spec.key, "") for spec in exercise.rows] for row in saved["rows"]]
    return {"fields": fields, "columns": columns, "rows": rows}


def recent_completion(client: User, *, days: int = 28) -> tuple[int, int]:
    """(done, due): the client's homework due in the last ``days`` days up to today, and how
    much of it was handed in (one query)."""
    today = timezone.localdate()
    counts = Homework.objects.filter(
        client=client, due_on__lte=today, due_on__gt=today - timedelta(days=days)
    ).aggregate(due=Count("pk"), done=Count("pk", filter=Q(status=Status.SUBMITTED)))
    return counts["done"], counts["due"]
