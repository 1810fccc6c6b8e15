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
