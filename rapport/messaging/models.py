"""One private conversation per care relationship: messages between sessions and live-session chat.

Message bodies are encrypted at rest. A message carries the id its sender's browser gave it, so a
retried send is stored once.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone

from rapport.care.models import CareRelationship
from rapport.core.encryption import EncryptedTextField


class Conversation(models.Model):
    relationship = models.OneToOneField(
        CareRelationship, on_delete=models.PROTECT, related_name="conversation"
    )
    created_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"conversation {self.pk}"


class Message(models.Model):
    conversation = models.ForeignKey(
        Conversation, on_delete=models.PROTECT, related_name="messages"
    )
    sender = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    # The id the sender's browser made: a retried send with the same id is stored once.
    client_uid = models.UUIDField()
    body = EncryptedTextField()
    # Set for chat typed during a live session.
    visit = models.ForeignKey(
        "visits.Visit", null=True, blank=True, on_delete=models.PROTECT, related_name="messages"
    )
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["created_at", "pk"]
        constraints = [
            models.UniqueConstraint(fields=["sender", "client_uid"], name="message_stored_once")
        ]

    def __str__(self) -> str:
        return f"message {self.pk}"
