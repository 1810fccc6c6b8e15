"""Homework: what the therapist assigned (an exercise from the library or a free task, with a
first due date and an optional recurrence) and each piece of homework due on one day, which the
client drafts, submits and the therapist comments on.

The therapist's own words (a free task's title and instructions), the client's answers and the
therapist's comment are encrypted at rest; the exercise key, dates and status stay queryable
because reminders, the record and the note prefill read them.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from rapport.core.encryption import EncryptedTextField


class Repeat(models.TextChoices):
    NONE = "none", _("Once")
    DAILY = "daily", _("Every day")
    WEEKLY = "weekly", _("Every week")


class Assignment(models.Model):
    client = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="homework_assignments"
    )
    assigned_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    exercise = models.CharField(max_length=40)  # a key of ``rapport.homework.exercises``
    title = EncryptedTextField(blank=True, default="")  # a free task's title
    instructions = EncryptedTextField(blank=True, default="")  # the therapist's own words
    first_due = models.DateField()
    repeat = models.CharField(max_length=10, choices=Repeat.choices, default=Repeat.NONE)
    repeat_until = models.DateField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    changed_at = models.DateTimeField(null=True, blank=True)  # last changed by the therapist
    # Stopped by the therapist: its pieces not yet started are gone, the rest are kept.
    stopped_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.CheckConstraint(
                condition=Q(repeat="none", repeat_until__isnull=True)
                | (~Q(repeat="none") & Q(repeat_until__gte=models.F("first_due"))),
                name="homework_repeat_has_end",
            )
        ]

    def __str__(self) -> str:
        return f"homework assignment {self.pk}"


class Status(models.TextChoices):
    ASSIGNED = "assigned", _("To do")
    DRAFT = "draft", _("Started")
    SUBMITTED = "submitted", _("Done")


class Homework(models.Model):
    """One piece of homework due on one day (a recurring assignment has one per day or week)."""

    assignment = models.ForeignKey(Assignment, on_delete=models.PROTECT, related_name="homework")
    client = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="homework"
    )
    due_on = models.DateField()
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.ASSIGNED)
    answers = EncryptedTextField(blank=True, default="")  # JSON: {"fields": {}, "rows": [{}]}
    saved_at = models.DateTimeField(null=True, blank=True)
    submitted_at = models.DateTimeField(null=True, blank=True)
    comment = EncryptedTextField(blank=True, default="")
    commented_at = models.DateTimeField(null=True, blank=True)
    commented_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )

    class Meta:
        ordering = ["due_on", "pk"]
        constraints = [
            models.UniqueConstraint(fields=["assignment", "due_on"], name="one_homework_a_day"),
            models.CheckConstraint(
                condition=Q(status="submitted", submitted_at__isnull=False)
                | (~Q(status="submitted") & Q(submitted_at__isnull=True)),
                name="submitted_homework_has_time",
            ),
        ]
        indexes = [models.Index(fields=["client", "due_on"])]

    def __str__(self) -> str:
        return f"homework {self.pk} due {self.due_on}"

    @property
    def is_done(self) -> bool:
        return self.status == Status.SUBMITTED
