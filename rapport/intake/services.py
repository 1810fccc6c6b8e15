"""Intake writes, each in one transaction: sending a form, saving a draft, submitting once,
correcting a submission. A risk answer raises a safety alert for each of the client's
therapists in the transaction that stores the answers.
"""

from __future__ import annotations

import json
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from rapport.accounts.models import User
from rapport.audit.services import Action, record
from rapport.care.access import therapists_of
from rapport.intake import answers as a
from rapport.intake import tasks
from rapport.intake.catalogue import default_form, definition_of
from rapport.intake.models import Intake, IntakeForm, IntakeSubmission
from rapport.measures.alerts import raise_alert_for
from rapport.measures.models import AlertKind


class IntakeProblems(ValidationError):
    """The answers cannot be sent: ``problems`` by form field name."""

    def __init__(self, problems: dict[str, str]) -> None:
        super().__init__(list(problems.values()))
        self.problems = problems


def send_intake(client: User, form: IntakeForm, *, sent_by: User | None) -> Intake:
    """Send ``form`` to ``client`` (a content-free email after commit)."""
    if not client.is_client:
        raise ValidationError(_("Intake forms go to clients."))
    with transaction.atomic():
        intake = Intake.objects.create(client=client, form=form, sent_by=sent_by)
        record(
            Action.INTAKE_SENT,
            actor=sent_by,
            actor_label="" if sent_by else "rapport",
            obj=intake,
            client=client,
            form=form.key,
            version=form.version,
        )
        tasks.send_intake_notice.enqueue(intake.pk)
    return intake


def ensure_intake(client_id: int, *, sent_by_id: int | None) -> Intake | None:
    """Send the practice's default form unless the client already has an intake of it."""
    form = default_form()
    client = User.objects.filter(pk=client_id, is_active=True).first()
    if form is None or client is None or not client.is_client:
        return None
    if Intake.objects.filter(client=client, form__key=form.key).exists():
        return None
    sent_by = User.objects.filter(pk=sent_by_id).first() if sent_by_id else None
    return send_intake(client, form, sent_by=sent_by)


def save_draft(intake: Intake, user: User, answers: dict[str, Any]) -> Intake:
    """Keep what was typed so far (encrypted), without checking it."""
    with transaction.atomic():
        locked = Intake.objects.select_for_update().get(pk=intake.pk)
        if locked.client_id != user.pk:
            raise PermissionDenied("only the client fills in their intake")
        if locked.submitted_at is not None:
            raise ValidationError(_("This form has already been sent."), code="done")
        locked.draft, locked.draft_saved_at = json.dumps(answers), timezone.now()
        locked.save(update_fields=["draft", "draft_saved_at"])
    intake.draft, intake.draft_saved_at = locked.draft, locked.draft_saved_at
    return intake


def submit(
    intake: Intake, user: User, answers: dict[str, Any], *, language: str = "en"
) -> IntakeSubmission:
    """Send the answers, once. ``IntakeProblems`` when something required is missing.
    ``language``: the language the form was shown in (``FormDefinition.language_for``)."""
    definition = definition_of(intake.form)
    definition = definition.in_language(definition.language_for(language))
    problems = a.problems_in(definition, answers)
    if problems:
        raise IntakeProblems(problems)
    with transaction.atomic():
        locked = Intake.objects.select_for_update().select_related("client").get(pk=intake.pk)
        if locked.client_id != user.pk:
            raise PermissionDenied("only the client fills in their intake")
        if locked.submitted_at is not None:
            raise ValidationError(_("This form has already been sent."), code="done")
        now = timezone.now()
        submission = _store(locked, user, definition, answers, now, corrects=None)
        locked.submitted_at, locked.draft = now, ""
        locked.save(update_fields=["submitted_at", "draft"])
        record(Action.INTAKE_SUBMITTED, actor=user, obj=submission, client=locked.client)
    return submission


def correct(
    original: IntakeSubmission, user: User, answers: dict[str, Any], *, language: str = "en"
) -> IntakeSubmission:
    """A new submission replacing ``original`` (kept). By the client or their therapist; the
    caller reached ``original`` through the access check."""
    definition = definition_of(original.form)
    definition = definition.in_language(definition.language_for(language))
    problems = a.problems_in(definition, answers)
    if problems:
        raise IntakeProblems(problems)
    with transaction.atomic():
        latest = IntakeSubmission.objects.select_for_update().get(pk=original.pk)
        if IntakeSubmission.objects.filter(corrects=latest).exists():
            raise ValidationError(_("This version has already been corrected."), code="done")
        intake = Intake.objects.select_related("client", "form").get(pk=latest.intake_id)
        submission = _store(intake, user, definition, answers, timezone.now(), corrects=latest)
        record(
            Action.INTAKE_CORRECTED,
            actor=user,
            obj=submission,
            client=intake.client,
            corrects=latest.pk,
        )
    return submission


def _store(
    intake: Intake,
    user: User,
    definition: Any,
    answers: dict[str, Any],
    now: Any,
    *,
    corrects: IntakeSubmission | None,
) -> IntakeSubmission:
    stored = a.signed(definition, answers, timezone.localdate(now))
    submission = IntakeSubmission.objects.create(
        intake=intake,
        client=intake.client,
        form=intake.form,
        answers=json.dumps(stored),
        submitted_at=now,
        submitted_by=user,
        corrects=corrects,
        language=definition.language,
    )
    if a.risk_answers(definition, stored):
        url = reverse("intake_detail", kwargs={"submission_id": submission.pk})
        for therapist in therapists_of(intake.client).filter(is_active=True):
            raise_alert_for(
                client=intake.client,
                therapist=therapist,
                kind=AlertKind.RISK_ITEM,
                actor=user,
                source="intake",
                label=definition.name,
                url=url,
            )
    return submission
