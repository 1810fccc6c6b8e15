"""Erasures: a client's record destroyed when its retention period has passed or the client
asked, after a second admin's approval or a hold the client is told about."""

from __future__ import annotations

from datetime import datetime

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class Erasure(models.Model):
    """One request to erase one client's record, and what it came to. Kept after the erasure,
    naming the client only by the pseudonymous account left behind."""

    class Reason(models.TextChoices):
        RETENTION = "retention", _("The retention period has passed")
        CLIENT_REQUEST = "client_request", _("The client asked, and the law allows it")

    class Status(models.TextChoices):
        AWAITING_APPROVAL = "awaiting", _("Waiting for a second admin's approval")
        ON_HOLD = "on_hold", _("On hold: the client has been told")
        DONE = "done", _("Erased")
        CANCELLED = "cancelled", _("Cancelled")

    OPEN = (Status.AWAITING_APPROVAL, Status.ON_HOLD)

    client = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    reason = models.CharField(max_length=16, choices=Reason.choices)
    status = models.CharField(max_length=10, choices=Status.choices)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    requested_at = models.DateTimeField(default=timezone.now)
    # A practice with one admin: the erasure waits until then, and the client is told.
    hold_until = models.DateTimeField(null=True, blank=True)
    client_told_at = models.DateTimeField(null=True, blank=True)
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    approved_at = models.DateTimeField(null=True, blank=True)
    cancelled_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    cancelled_at = models.DateTimeField(null=True, blank=True)
    done_at = models.DateTimeField(null=True, blank=True)
    # What the erasure removed, by kind ({"Message": 12, ...}): counts only, no content.
    report = models.JSONField(default=dict, blank=True)
    # Random names of encrypted files still to overwrite and remove after the commit.
    files_to_shred = models.JSONField(default=list, blank=True)

    class Meta:
        ordering = ["-requested_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["client"],
                condition=Q(status__in=["awaiting", "on_hold"]),
                name="one_open_erasure_per_client",
            )
        ]

    def __str__(self) -> str:
        return f"erasure {self.pk} ({self.status})"

    @property
    def is_open(self) -> bool:
        return self.status in self.OPEN

    def hold_passed(self, now: datetime | None = None) -> bool:
        return self.hold_until is not None and self.hold_until <= (now or timezone.now())
