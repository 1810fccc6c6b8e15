"""The append-only, hash-chained audit trail."""

from __future__ import annotations

from datetime import UTC
from typing import Any

from django.conf import settings
from django.db import models


class AuditEvent(models.Model):
    """One thing that happened: who did what to which record of which client, from where.

    Never holds message, note or answer contents: only identifiers and the kind of action.
    """

    sequence = models.PositiveBigIntegerField(unique=True)
    occurred_at = models.DateTimeField(db_index=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    actor_label = models.CharField(max_length=254, blank=True)
    action = models.CharField(max_length=64, db_index=True)
    object_type = models.CharField(max_length=64, blank=True)
    object_id = models.CharField(max_length=64, blank=True)
    client = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="audit_events_about",
    )
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=300, blank=True)
    detail = models.JSONField(default=dict, blank=True)
    previous_hash = models.CharField(max_length=64)
    hash = models.CharField(max_length=64)
    # Set when an erasure removed what identified a person in this event (docs/security.md,
    # "Erasure and the audit chain"): the hash still links the chain; the seal, an HMAC under
    # the chain key over the hash and the content as it now stands, vouches for what is left.
    redacted_at = models.DateTimeField(null=True, blank=True)
    redaction_seal = models.CharField(max_length=64, blank=True)

    class Meta:
        ordering = ["-sequence"]
        indexes = [models.Index(fields=["client", "-sequence"]), models.Index(fields=["actor"])]

    def __str__(self) -> str:
        return f"#{self.sequence} {self.action}"

    def chain_content(self) -> dict[str, Any]:
        return {
            "sequence": self.sequence,
            "occurred_at": self.occurred_at.astimezone(UTC).isoformat(),
            "actor": self.actor_id,
            "actor_label": self.actor_label,
            "action": self.action,
            "object_type": self.object_type,
            "object_id": self.object_id,
            "client": self.client_id,
            "ip": self.ip_address,
            "user_agent": self.user_agent,
            "detail": self.detail,
        }

    def sealed_content(self) -> dict[str, Any]:
        """What a redaction seal covers: the content as it stands, and when it was redacted."""
        redacted_at = self.redacted_at.astimezone(UTC).isoformat() if self.redacted_at else None
        return {**self.chain_content(), "redacted_at": redacted_at}


class ChainHead(models.Model):
    """Single row naming the newest event; locking it serializes appends on every database."""

    id = models.PositiveSmallIntegerField(primary_key=True, default=1)
    sequence = models.PositiveBigIntegerField(default=0)
    hash = models.CharField(max_length=64, default="0" * 64)

    def __str__(self) -> str:
        return f"head #{self.sequence}"
