"""Safety plans: one plan per client, kept as numbered versions that never change.

Each version holds the six steps of the Stanley-Brown Safety Planning Intervention (Stanley &
Brown, 2008; updated 2021) in Rapport's own words, plus "the one thing most important to me and
worth living for". Saving the plan appends a version; nothing is edited in place, so every
version the client ever had stays readable. A review ("we went through the plan") is its own
row, tied to the version that was reviewed.

Everything the client and therapist wrote is encrypted at rest. The list steps hold one item
per line; the two contact steps hold a JSON list of ``{"name", "phone"}``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import models
from django.utils import timezone

from rapport.core.encryption import EncryptedTextField


class ImmutableError(RuntimeError):
    pass


class SafetyPlan(models.Model):
    client = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="safety_plan"
    )
    created_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"safety plan {self.pk}"


@dataclass(frozen=True)
class Contact:
    name: str
    phone: str

    @property
    def tel(self) -> str:
        """The number as a ``tel:`` URI wants it: a leading + and digits only."""
        digits = "".join(c for c in self.phone if c.isdigit())
        return ("+" if self.phone.strip().startswith("+") else "") + digits


# The steps in order: (field, kind). "lines": one item per line; "contacts": name + phone.
STEPS: tuple[tuple[str, str], ...] = (
    ("warning_signs", "lines"),
    ("coping_strategies", "lines"),
    ("distractions", "lines"),
    ("people_to_ask", "contacts"),
    ("professionals", "contacts"),
    ("environment", "lines"),
)


class SafetyPlanVersion(models.Model):
    plan = models.ForeignKey(SafetyPlan, on_delete=models.PROTECT, related_name="versions")
    number = models.PositiveIntegerField()
    warning_signs = EncryptedTextField(blank=True, default="")
    coping_strategies = EncryptedTextField(blank=True, default="")
    distractions = EncryptedTextField(blank=True, default="")  # people and social settings
    people_to_ask = EncryptedTextField(blank=True, default="[]")
    professionals = EncryptedTextField(blank=True, default="[]")
    environment = EncryptedTextField(blank=True, default="")  # making the environment safe
    reason_for_living = EncryptedTextField(blank=True, default="")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    # Written together in this live session (the visit's uuid), or blank.
    written_in_visit = models.UUIDField(null=True, blank=True)

    class Meta:
        ordering = ["plan", "number"]
        constraints = [
            models.UniqueConstraint(fields=["plan", "number"], name="one_safety_version_number")
        ]

    def __str__(self) -> str:
        return f"safety plan {self.plan_id} v{self.number}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if self.pk is not None and not kwargs.get("force_insert"):
            raise ImmutableError("a safety plan version never changes; save a new one")
        super().save(*args, **kwargs)

    def lines(self, field: str) -> list[str]:
        return [line for line in str(getattr(self, field)).splitlines() if line.strip()]

    def contacts(self, field: str) -> list[Contact]:
        return [Contact(c["name"], c["phone"]) for c in json.loads(getattr(self, field) or "[]")]

    # What the pages show, step by step.
    @property
    def warning_signs_list(self) -> list[str]:
        return self.lines("warning_signs")

    @property
    def coping_strategies_list(self) -> list[str]:
        return self.lines("coping_strategies")

    @property
    def distractions_list(self) -> list[str]:
        return self.lines("distractions")

    @property
    def people_to_ask_list(self) -> list[Contact]:
        return self.contacts("people_to_ask")

    @property
    def professionals_list(self) -> list[Contact]:
        return self.contacts("professionals")

    @property
    def environment_list(self) -> list[str]:
        return self.lines("environment")

    def content(self) -> dict[str, Any]:
        """The version as plain JSON: list steps as lists, contacts as name/phone pairs."""
        found: dict[str, Any] = {}
        for field, kind in STEPS:
            if kind == "lines":
                found[field] = self.lines(field)
            else:
                found[field] = [{"name": c.name, "phone": c.phone} for c in self.contacts(field)]
        found["reason_for_living"] = self.reason_for_living
        return found


class SafetyPlanReview(models.Model):
    """The therapist went through a version of the plan (after a crisis, or periodically)."""

    version = models.ForeignKey(SafetyPlanVersion, on_delete=models.PROTECT, related_name="reviews")
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    reviewed_at = models.DateTimeField(default=timezone.now)
    # The safety alert whose acknowledgement recorded this review (a measures SafetyAlert's
    # id; not a foreign key: measures sits above this app).
    alert_id = models.PositiveBigIntegerField(null=True, blank=True)

    class Meta:
        ordering = ["-reviewed_at"]

    def __str__(self) -> str:
        return f"review of safety plan version {self.version_id}"
