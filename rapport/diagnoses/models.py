"""Diagnoses: ICD-10-CM codes recorded for a client, and the practice's list of codes it uses most.

A diagnosis is never deleted: a mistake is marked "entered in error", a resolved diagnosis keeps
its dates, and every change is a row of ``DiagnosisChange`` besides its audit event. The code and
its ICD description stay plain (they are what billing and the lists query); the therapist's notes
are encrypted.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from rapport.core.encryption import EncryptedTextField


class Rank(models.TextChoices):
    PRIMARY = "primary", _("Primary")
    SECONDARY = "secondary", _("Secondary")


class Status(models.TextChoices):
    ACTIVE = "active", _("Active")
    RESOLVED = "resolved", _("Resolved")
    ENTERED_IN_ERROR = "error", _("Entered in error")


class Diagnosis(models.Model):
    client = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="diagnoses"
    )
    code = models.CharField(max_length=10)  # with its dot, as ICD-10-CM prints it: "F41.1"
    description = models.CharField(max_length=300)  # the ICD description when it was recorded
    rank = models.CharField(max_length=10, choices=Rank.choices, default=Rank.SECONDARY)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.ACTIVE)
    onset = models.DateField(null=True, blank=True)
    resolved_on = models.DateField(null=True, blank=True)
    notes = EncryptedTextField(blank=True, default="")
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    recorded_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["client", "rank", "-recorded_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["client"],
                condition=Q(rank="primary", status="active"),
                name="one_active_primary_diagnosis",
            ),
            models.CheckConstraint(
                condition=Q(resolved_on__isnull=True)
                | Q(onset__isnull=True)
                | Q(resolved_on__gte=models.F("onset")),
                name="diagnosis_resolved_after_onset",
            ),
            models.CheckConstraint(
                condition=~Q(status="resolved") | Q(resolved_on__isnull=False),
                name="resolved_diagnosis_has_date",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.code} ({self.get_status_display()})"


class DiagnosisChange(models.Model):
    """One change to a diagnosis (recorded, resolved, rank changed, entered in error)."""

    class Kind(models.TextChoices):
        RECORDED = "recorded", _("Recorded")
        RESOLVED = "resolved", _("Resolved")
        RANK = "rank", _("Rank changed")
        ERROR = "error", _("Marked entered in error")

    diagnosis = models.ForeignKey(Diagnosis, on_delete=models.PROTECT, related_name="changes")
    kind = models.CharField(max_length=10, choices=Kind.choices)
    rank = models.CharField(max_length=10, choices=Rank.choices)  # the rank after the change
    changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    changed_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["changed_at", "pk"]

    def __str__(self) -> str:
        return f"{self.diagnosis_id}: {self.kind}"


class FrequentCode(models.Model):
    """A code the practice uses often: listed first in the search. Empty means the shipped list."""

    code = models.CharField(max_length=10, unique=True)
    position = models.PositiveSmallIntegerField()

    class Meta:
        ordering = ["position"]

    def __str__(self) -> str:
        return self.code
