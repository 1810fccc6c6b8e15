"""Treatment plans: one plan per client, kept as numbered versions. A draft version is edited;
finalising it makes it immutable, and the next change starts a new draft copied from it. The
client signs a finalised version (typed name), and the signature belongs to that version.

The plan's words (problems, goals, the client's own words, interventions, frequency) are
encrypted at rest; dates, modality and a goal's measure target stay plain because the review
reminder and the progress computation read them.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from rapport.core.encryption import EncryptedTextField


class ImmutableError(RuntimeError):
    pass


class Modality(models.TextChoices):
    VIDEO = "video", _("Video")
    AUDIO = "audio", _("Audio only")
    TEXT = "text", _("Text")
    IN_PERSON = "in_person", _("In person")


class Comparison(models.TextChoices):
    BELOW = "lt", _("below")
    AT_OR_BELOW = "lte", _("at or below")
    ABOVE = "gt", _("above")
    AT_OR_ABOVE = "gte", _("at or above")


class Plan(models.Model):
    client = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="treatment_plan"
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"plan {self.pk}"


class VersionStatus(models.TextChoices):
    DRAFT = "draft", _("Draft")
    FINAL = "final", _("Finalised")


class PlanVersion(models.Model):
    plan = models.ForeignKey(Plan, on_delete=models.PROTECT, related_name="versions")
    number = models.PositiveIntegerField()
    status = models.CharField(
        max_length=10, choices=VersionStatus.choices, default=VersionStatus.DRAFT
    )
    starts_on = models.DateField(default=timezone.localdate)
    review_on = models.DateField()
    modality = models.CharField(max_length=10, choices=Modality.choices, default=Modality.VIDEO)
    frequency = EncryptedTextField(blank=True, default="")  # "Weekly, 50 minutes"
    summary = EncryptedTextField(blank=True, default="")  # for the client, in plain words
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    finalised_at = models.DateTimeField(null=True, blank=True)
    # The content-free "review due" email for this version went out.
    review_reminded_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["plan", "number"]
        constraints = [
            models.UniqueConstraint(fields=["plan", "number"], name="one_plan_version_number"),
            models.UniqueConstraint(
                fields=["plan"], condition=Q(status="draft"), name="one_draft_per_plan"
            ),
            models.CheckConstraint(
                condition=Q(status="draft", finalised_at__isnull=True)
                | Q(status="final", finalised_at__isnull=False),
                name="finalised_version_has_time",
            ),
        ]

    def __str__(self) -> str:
        return f"plan {self.plan_id} v{self.number} ({self.status})"

    def save(self, *args: Any, **kwargs: Any) -> None:
        fields = kwargs.get("update_fields")
        if self.pk is not None and fields != ["review_reminded_at"]:
            stored = PlanVersion.objects.filter(pk=self.pk).values_list("status", flat=True).first()
            if stored == VersionStatus.FINAL:
                raise ImmutableError("a finalised plan version never changes; start a new one")
        super().save(*args, **kwargs)

    @property
    def is_draft(self) -> bool:
        return self.status == VersionStatus.DRAFT


class _DraftOnly(models.Model):
    """A part of a version: written only while its version is a draft."""

    version = models.ForeignKey(PlanVersion, on_delete=models.PROTECT, related_name="+")
    position = models.PositiveSmallIntegerField(default=0)

    class Meta:
        abstract = True

    def save(self, *args: Any, **kwargs: Any) -> None:
        status = PlanVersion.objects.filter(pk=self.version_id).values_list("status", flat=True)
        if status.first() == VersionStatus.FINAL:
            raise ImmutableError("a finalised plan version never changes; start a new one")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> Any:
        if not self.version.is_draft:
            raise ImmutableError("a finalised plan version never changes; start a new one")
        return super().delete(*args, **kwargs)


class Goal(_DraftOnly):
    """A measurable goal (or objective) under the problem it addresses, optionally tied to a
    measure: "PHQ-9 below 10, sustained over two scores"."""

    version = models.ForeignKey(PlanVersion, on_delete=models.PROTECT, related_name="goals")
    problem = EncryptedTextField()
    description = EncryptedTextField()  # in clinical words
    client_words = EncryptedTextField(blank=True, default="")  # what the client reads
    target_on = models.DateField(null=True, blank=True)
    instrument_key = models.CharField(max_length=40, blank=True, default="")
    comparison = models.CharField(max_length=3, choices=Comparison.choices, blank=True)
    threshold = models.IntegerField(null=True, blank=True)
    sustained_over = models.PositiveSmallIntegerField(default=1)

    class Meta:
        ordering = ["version", "position", "pk"]
        constraints = [
            models.CheckConstraint(
                condition=Q(instrument_key="")
                | (Q(threshold__isnull=False) & ~Q(comparison="") & Q(sustained_over__gte=1)),
                name="measure_goal_has_target",
            )
        ]

    def __str__(self) -> str:
        return f"goal {self.pk}"

    @property
    def has_measure(self) -> bool:
        return bool(self.instrument_key)


class Intervention(_DraftOnly):
    version = models.ForeignKey(PlanVersion, on_delete=models.PROTECT, related_name="interventions")
    goal = models.ForeignKey(
        Goal, null=True, blank=True, on_delete=models.PROTECT, related_name="interventions"
    )
    what = EncryptedTextField()
    who = EncryptedTextField(blank=True, default="")
    frequency = EncryptedTextField(blank=True, default="")
    modality = models.CharField(max_length=10, choices=Modality.choices, default=Modality.VIDEO)

    class Meta:
        ordering = ["version", "position", "pk"]

    def __str__(self) -> str:
        return f"intervention {self.pk}"


class PlanSignature(models.Model):
    """The client's signature of one finalised version (their typed name)."""

    version = models.ForeignKey(PlanVersion, on_delete=models.PROTECT, related_name="signatures")
    client = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    typed_name = models.CharField(max_length=150)
    signed_at = models.DateTimeField(default=timezone.now)
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=300, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["version", "client"], name="one_plan_signature_per_version"
            )
        ]

    def __str__(self) -> str:
        return f"signature of {self.version_id}"
