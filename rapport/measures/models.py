"""Measurement-based care: instruments as versioned data, what a client is asked, what they
answered, and the safety alerts their answers raise.

Answers and scores are encrypted at rest; a submitted response never changes (a correction is a
new response pointing at the one it corrects). Definitions follow the format in
``rapport/measures/instruments/README.md`` and are validated by
``definition_files.load_definition``.
"""

from __future__ import annotations

import json
from typing import Any

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from rapport.core.encryption import EncryptedTextField
from rapport.scheduling.models import Appointment


class Instrument(models.Model):
    """One version of one instrument's definition (built in, or imported under a licence)."""

    key = models.SlugField(max_length=40)
    version = models.CharField(max_length=20)
    name = models.CharField(max_length=200)
    short_name = models.CharField(max_length=40)
    definition = models.JSONField()
    builtin = models.BooleanField(default=False)
    is_active = models.BooleanField(default=True)
    # For imported instruments: the practice's record of its licence (who holds it, terms, until).
    licence_record = models.TextField(blank=True, max_length=2000)
    imported_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    imported_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["short_name", "-imported_at"]
        constraints = [
            models.UniqueConstraint(fields=["key", "version"], name="one_instrument_version")
        ]

    def __str__(self) -> str:
        return f"{self.short_name} v{self.version}"


class Schedule(models.TextChoices):
    ONCE = "once", _("Once")
    BEFORE_EACH_SESSION = "session", _("Before every session")
    EVERY_N_DAYS = "interval", _("Every few days")


class Assignment(models.Model):
    """A therapist asks a client to complete an instrument, once or on a schedule."""

    client = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="measure_assignments"
    )
    therapist = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    instrument = models.ForeignKey(Instrument, on_delete=models.PROTECT, related_name="+")
    schedule = models.CharField(max_length=10, choices=Schedule.choices)
    interval_days = models.PositiveSmallIntegerField(null=True, blank=True)
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(default=timezone.now)
    ended_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(
                condition=~Q(schedule="interval") | Q(interval_days__gte=1),
                name="interval_needs_days",
            )
        ]

    def __str__(self) -> str:
        return f"{self.instrument} for {self.client} ({self.schedule})"


class TaskStatus(models.TextChoices):
    OPEN = "open", _("To do")
    DONE = "done", _("Done")
    CANCELLED = "cancelled", _("Cancelled")


class MeasureTask(models.Model):
    """One time a client is asked to fill in an instrument; holds the saved draft."""

    assignment = models.ForeignKey(
        Assignment, null=True, blank=True, on_delete=models.PROTECT, related_name="tasks"
    )
    client = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="measure_tasks"
    )
    therapist = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    instrument = models.ForeignKey(Instrument, on_delete=models.PROTECT, related_name="+")
    due_at = models.DateTimeField(default=timezone.now)
    appointment = models.ForeignKey(
        Appointment, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    # After-session feedback is tied to the visit it is about.
    visit = models.ForeignKey(
        "visits.Visit", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    status = models.CharField(max_length=10, choices=TaskStatus.choices, default=TaskStatus.OPEN)
    draft = EncryptedTextField(blank=True, default="")  # JSON {item key: value}: save and resume
    # When the worker looks at a saved draft for a risk answer left unsent (any draft gets one,
    # so this column says nothing about risk), and when the therapist was told (encrypted).
    draft_check_at = models.DateTimeField(null=True, blank=True, db_index=True)
    unsent_risk_noticed_at = EncryptedTextField(blank=True, default="")
    created_at = models.DateTimeField(default=timezone.now)
    reminded_at = models.DateTimeField(null=True, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["due_at", "pk"]
        constraints = [
            # One task per assignment and appointment ("before every session").
            models.UniqueConstraint(
                fields=["assignment", "appointment"],
                condition=Q(appointment__isnull=False),
                name="one_task_per_assignment_and_session",
            ),
            models.UniqueConstraint(
                fields=["instrument", "visit"],
                condition=Q(visit__isnull=False),
                name="one_feedback_per_visit",
            ),
        ]

    def __str__(self) -> str:
        return f"task {self.pk}: {self.instrument}"

    def draft_answers(self) -> dict[str, Any]:
        return json.loads(self.draft) if self.draft else {}


class ImmutableError(RuntimeError):
    pass


class Response(models.Model):
    """A submitted questionnaire: answers and the score as the instrument defines it.

    Never updated: a correction is a new response with ``corrects`` set.
    """

    task = models.ForeignKey(
        MeasureTask, null=True, blank=True, on_delete=models.PROTECT, related_name="responses"
    )
    client = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="measure_responses"
    )
    instrument = models.ForeignKey(Instrument, on_delete=models.PROTECT, related_name="responses")
    answers = EncryptedTextField()  # JSON {item key: value or null}
    result = EncryptedTextField()  # JSON of scoring.Score: total, band, subscales, risk items…
    submitted_at = models.DateTimeField(default=timezone.now, db_index=True)
    submitted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    corrects = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="corrections"
    )
    # The language the items were shown in: the instrument's own (en) or one of its validated
    # translations. Values and scores are the same in every language.
    language = models.CharField(max_length=10, default="en")

    class Meta:
        ordering = ["submitted_at", "pk"]
        indexes = [models.Index(fields=["client", "instrument", "submitted_at"])]

    def __str__(self) -> str:
        return f"response {self.pk}: {self.instrument_id}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if self.pk is not None:
            raise ImmutableError("a submitted response is never changed; submit a correction")
        super().save(*args, **kwargs)

    def answer_values(self) -> dict[str, Any]:
        values: dict[str, Any] = json.loads(self.answers)
        return values

    def result_data(self) -> dict[str, Any]:
        data: dict[str, Any] = json.loads(self.result)
        return data

    @property
    def risk_positive(self) -> bool:
        """A risk item answered at or above its threshold: a clinical fact, so it lives in the
        encrypted result, not in a column of its own."""
        return bool(self.result_data()["risk_items"])


class AlertKind(models.TextChoices):
    RISK_ITEM = "risk", _("Risk answer")
    FEEDBACK_DROP = "feedback", _("Drop in session feedback")


class SafetyAlert(models.Model):
    """Raised by an answer; open until the therapist records the action taken.

    What the alert is about (its kind) and what was done are encrypted; who, when and its state
    (open, acknowledged, escalated) stay plain because the lists and the escalation sweep query
    them.
    """

    kind = EncryptedTextField(choices=AlertKind.choices, default=AlertKind.RISK_ITEM)
    # Raised by a measure's response, or by something above measures (an intake form) that
    # describes itself here without measures importing it: its name, label and page.
    response = models.ForeignKey(
        Response, null=True, blank=True, on_delete=models.PROTECT, related_name="alerts"
    )
    source = models.CharField(max_length=20, blank=True, default="")
    source_label = models.CharField(max_length=200, blank=True, default="")
    source_url = models.CharField(max_length=300, blank=True, default="")
    client = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    therapist = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="safety_alerts"
    )
    opened_at = models.DateTimeField(default=timezone.now, db_index=True)
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    acknowledged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    action_taken = EncryptedTextField(blank=True, default="")
    escalated_at = models.DateTimeField(null=True, blank=True)
    # The practice had no active admin at the deadline: it went to every therapist instead.
    escalated_to_therapists = models.BooleanField(default=False)

    class Meta:
        ordering = ["-opened_at"]
        constraints = [
            models.CheckConstraint(
                condition=Q(response__isnull=False) | ~Q(source=""),
                name="alert_has_a_response_or_a_source",
            )
        ]

    def __str__(self) -> str:
        return f"alert {self.pk} ({self.kind})"

    @property
    def is_open(self) -> bool:
        return self.acknowledged_at is None
