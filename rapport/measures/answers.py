"""Answering: the client's draft, the submitted response (immutable, encrypted), and corrections
(a new response pointing at the one it replaces). Submitting raises the alerts the answers call
for, in the same transaction.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext as _

from rapport.accounts.models import Practice, User
from rapport.audit.services import Action, record
from rapport.care.access import Reach, reach
from rapport.measures.alerts import raise_alert
from rapport.measures.assignments import finish_one_off
from rapport.measures.definitions import SOURCE_LANGUAGE, Definition
from rapport.measures.errors import MeasureError
from rapport.measures.feedback import feedback_drop
from rapport.measures.instruments import definition_of, is_feedback
from rapport.measures.models import AlertKind, Instrument, MeasureTask, Response, TaskStatus
from rapport.measures.scoring import Score, ScoringError, score


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
    """Keep what the client has answered so far (encrypted), to resume later.

    A saved draft is looked at by the worker after the practice's limit (``draft_check_at``), so
    that a risk answer left unsent reaches the therapist (``alerts.notice_unsent_risk``). The
    clock starts again when a risk answer first appears in the draft.
    """
    definition = definition_of(task.instrument)
    clean = _clean_answers(definition, answers)
    with transaction.atomic():
        locked = _lock_open_task(task, client)
        had_risk = risk_answered(definition, locked.draft_answers())
        locked.draft = json.dumps({k: v for k, v in clean.items() if v is not None})
        fields = ["draft"]
        if not locked.unsent_risk_noticed_at:
            new_risk = risk_answered(definition, clean) and not had_risk
            if new_risk or locked.draft_check_at is None:
                minutes = Practice.get().unsent_risk_minutes
                locked.draft_check_at = timezone.now() + timedelta(minutes=minutes)
                fields.append("draft_check_at")
        locked.save(update_fields=fields)
    task.draft = locked.draft
    return task


def risk_answered(definition: Definition, answers: Mapping[str, Any]) -> bool:
    """Whether (partial) answers hold a risk item at or above its threshold."""
    return score(definition, answers, allow_incomplete=True).risk_positive


def submit(
    task: MeasureTask,
    client: User,
    answers: Mapping[str, Any],
    *,
    request: HttpRequest | None = None,
    now: datetime | None = None,
    language: str = SOURCE_LANGUAGE,
) -> Response:
    """Score and store the client's answers; raise the alerts they call for.

    ``now`` stamps a response sent in the past (the demo's history); pages never pass it.
    ``language`` is the language the items were shown in (``Definition.language_for``).

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
            submitted_by=client,
            submitted_at=now or timezone.now(),
            language=definition.language_for(language),
        )
        locked.status = TaskStatus.DONE
        locked.completed_at = response.submitted_at
        locked.draft = ""
        locked.save(update_fields=["status", "completed_at", "draft"])
        finish_one_off(locked)
        record(
            Action.MEASURE_SUBMITTED,
            actor=client,
            request=request,
            obj=response,
            client=client,
            instrument=definition.key,
            version=definition.version,
            task=locked.pk,
            language=response.language,
        )
        _act_on(response, locked.therapist, definition, result)
    task.status, task.completed_at, task.draft = locked.status, locked.completed_at, ""
    return response


def submit_unassigned(
    client: User,
    instrument: Instrument,
    answers: Mapping[str, Any],
    *,
    request: HttpRequest | None = None,
    language: str = SOURCE_LANGUAGE,
) -> Response:
    """Score and store answers no therapist asked for: a new client's screen at sign-up
    (``rapport.signup``). Stored and audited like any response, so the progress charts show it;
    no alert is raised here: with no therapist yet, the caller decides who hears of a risk
    answer. Answers that do not fit the instrument raise ``ScoringError``."""
    definition = definition_of(instrument)
    clean = _clean_answers(definition, answers)
    result = score(definition, clean)
    with transaction.atomic():
        response = Response.objects.create(
            client=client,
            instrument=instrument,
            answers=json.dumps(clean),
            result=json.dumps(result.to_json()),
            submitted_by=client,
            language=definition.language_for(language),
        )
        record(
            Action.MEASURE_SUBMITTED,
            actor=client,
            request=request,
            obj=response,
            client=client,
            instrument=definition.key,
            version=definition.version,
            language=response.language,
        )
    return response


def correct(
    response: Response,
    user: User,
    answers: Mapping[str, Any],
    *,
    request: HttpRequest | None = None,
    language: str = SOURCE_LANGUAGE,
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
            submitted_by=user,
            corrects=original,
            language=definition.language_for(language),
        )
        record(
            Action.MEASURE_CORRECTED,
            actor=user,
            request=request,
            obj=correction,
            client=original.client,
            corrects=original.pk,
            instrument=definition.key,
        )
        if therapist is not None:
            already_open = any(
                alert.kind == AlertKind.RISK_ITEM
                for alert in original.alerts.filter(acknowledged_at=None).only("pk", "kind")
            )
            if result.risk_positive and not already_open:
                raise_alert(correction, therapist, AlertKind.RISK_ITEM)
    return correction


def _therapist_for(response: Response, user: User) -> User | None:
    if response.task is not None:
        return response.task.therapist
    if user.is_therapist:
        return user
    return None


def _act_on(response: Response, therapist: User, definition: Definition, result: Score) -> None:
    if result.risk_positive:
        raise_alert(response, therapist, AlertKind.RISK_ITEM)
    if is_feedback(definition):
        feedback_drop(response, therapist)
