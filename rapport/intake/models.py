"""Intake: versioned form definitions, the intake sent to a client (with their saved draft), and
the submitted answers, which never change (a correction is a new submission linked to the old).

Answers and drafts are JSON in encrypted fields; who, which form and when stay queryable.
"""

from __future__ import annotations

import json
from typing import Any

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from rapport.core.encryption import EncryptedTextField


class IntakeForm(models.Model):
    """One version of one intake form's definition (built in, or added by the practice)."""

    key = models.SlugField(max_length=40)
    version = models.CharField(max_length=20)
    name = models.CharField(max_length=200)
    definition = models.JSONField()
    builtin = models.BooleanField(default=False)
    # The form sent when care starts; at most one.
    is_default = models.BooleanField(default=False)
    added_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    added_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["key", "-added_at"]
        constraints = [
            models.UniqueConstraint(fields=["key", "version"], name="one_intake_form_version"),
            models.UniqueConstraint(
                fields=["is_default"], condition=Q(is_default=True), name="one_default_intake"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} v{self.version}"


class ImmutableError(RuntimeError):
    pass


class Intake(models.Model):
    """An intake form sent to a client: open (maybe with a saved draft) until submitted."""

    client = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="intakes"
    )
    form = models.ForeignKey(IntakeForm, on_delete=models.PROTECT, related_name="+")
    sent_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    sent_at = models.DateTimeField(default=timezone.now)
    draft = EncryptedTextField(blank=True, default="")  # JSON {field key: value}
    draft_saved_at = models.DateTimeField(null=True, blank=True)
    submitted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-sent_at", "-pk"]

    def __str__(self) -> str:
        return f"intake {self.pk}: {self.form_id}"

    def draft_answers(self) -> dict[str, Any]:
        return json.loads(self.draft) if self.draft else {}


class IntakeSubmission(models.Model):
    """Answers as submitted. Never updated: a correction is a new row with ``corrects`` set."""

    intake = models.ForeignKey(Intake, on_delete=models.PROTECT, related_name="submissions")
    client = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="intake_submissions"
    )
    form = models.ForeignKey(IntakeForm, on_delete=models.PROTECT, related_name="submissions")
    answers = EncryptedTextField()  # JSON {field key: value, "<key>__follow_up": text}
    submitted_at = models.DateTimeField(default=timezone.now, db_index=True)
    submitted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    corrects = models.OneToOneField(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="correction"
    )

    # The language the form was shown in (its own English, or one of its translations).
    language = models.CharField(max_length=10, default="en")

    class Meta:
        ordering = ["submitted_at", "pk"]

    def __str__(self) -> str:
        return f"intake submission {self.pk}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if self.pk is not None:
            raise ImmutableError("a submitted intake is never changed; submit a correction")
        super().save(*args, **kwargs)

    def answer_values(self) -> dict[str, Any]:
        values: dict[str, Any] = json.loads(self.answers)
        return values
