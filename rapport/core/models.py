"""The ground floor's one table: live events on their way from a process without sockets."""

from __future__ import annotations

from django.db import models
from django.utils import timezone


class PendingEvent(models.Model):
    """A live event published by the worker or a command in the embedded configuration, where
    the in-process channel layer cannot reach the server's sockets: the server hands it on
    within a second and deletes it (``rapport.core.realtime``). With Redis nothing is stored."""

    group = models.CharField(max_length=200)
    event = models.JSONField()
    created_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"{self.event.get('type', '?')} for {self.group}"
