"""The ground floor's one table: live events on their way from a process without sockets."""

from __future__ import annotations

from django.db import models
from django.utils import timezone

from rapport.core.encryption import EncryptedTextField


class PendingEvent(models.Model):
    """A live event published by the worker or a command in the embedded configuration, where
    the in-process channel layer cannot reach the server's sockets: the server hands it on
    within a second and deletes it (``rapport.core.realtime``). With Redis nothing is stored."""

    group = models.CharField(max_length=200)
    event = models.JSONField()
    created_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"{self.event.get('type', '?')} for {self.group}"


class WorkerHeartbeat(models.Model):
    """A running ``rapport worker``, beating every few seconds. A task or an email claimed by a
    worker whose beat is older than the lease (``RAPPORT_WORKER_LEASE_SECONDS``) is taken back
    and run again (``rapport.core.worker``)."""

    worker_id = models.CharField(max_length=64, unique=True)
    pid = models.PositiveIntegerField()
    host = models.CharField(max_length=255)
    started_at = models.DateTimeField(default=timezone.now)
    beat_at = models.DateTimeField(default=timezone.now, db_index=True)

    def __str__(self) -> str:
        return f"worker {self.worker_id} (pid {self.pid} on {self.host})"


class DeliveryStatus(models.TextChoices):
    PENDING = "pending", "pending"
    SENDING = "sending", "sending"
    SENT = "sent", "sent"
    FAILED = "failed", "failed"


class EmailDelivery(models.Model):
    """One email the practice decided to send, written in the transaction of that decision.

    The unique ``key`` makes the decision once; the row is then claimed, the email sent outside
    any transaction, and the row marked sent (``rapport.core.outbox``). The message is kept
    encrypted until it is sent (it may hold an invitation link), then erased.
    """

    key = models.CharField(max_length=200, unique=True)
    kind = models.CharField(max_length=60)
    recipients = models.JSONField(default=list)
    message = models.TextField(blank=True)
    message_id = models.CharField(max_length=200)
    status = models.CharField(
        max_length=10, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING
    )
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(default=timezone.now)
    claimed_by = models.CharField(max_length=64, blank=True)
    claimed_at = models.DateTimeField(null=True, blank=True)
    last_error = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["status", "next_attempt_at"], name="delivery_due")]

    def __str__(self) -> str:
        return f"{self.kind} email {self.key} ({self.status})"


class KeyCanary(models.Model):
    """One known text encrypted with the key ring when the database was first migrated: if the
    configured keys cannot read it back, they are not the keys of this data (a restore with the
    wrong key, a key dropped before ``rapport keys rotate`` finished). ``rapport check`` reads
    it (``rapport.core.canary``); ``rapport keys rotate`` re-encrypts it like any other value."""

    id = models.PositiveSmallIntegerField(primary_key=True, default=1)
    value = EncryptedTextField()
    created_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return "key canary"
