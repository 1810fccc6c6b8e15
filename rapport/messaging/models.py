"""One private conversation per care relationship: messages between sessions and live-session chat.

Message bodies, earlier versions and attachment names are encrypted at rest (attachment files are
encrypted on disk, see ``rapport.messaging.attachments``). A message carries the id its sender's
browser gave it, so a retried send is stored once, and a per-conversation sequence number
(``seq``, given under a lock on the conversation row) so "everything after N" never skips a row
that committed late.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.utils import timezone

from rapport.care.models import CareRelationship
from rapport.core.encryption import EncryptedTextField


class Conversation(models.Model):
    uid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    relationship = models.OneToOneField(
        CareRelationship, on_delete=models.PROTECT, related_name="conversation"
    )
    created_at = models.DateTimeField(default=timezone.now)
    # The newest message's sequence number and time (0 / None before the first message).
    last_seq = models.PositiveBigIntegerField(default=0)
    # Not indexed: an inbox sorts its own few conversations; every message updates this column.
    last_message_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"conversation {self.uid}"


class Participant(models.Model):
    """One of the two people in a conversation: how far they have read and been emailed."""

    conversation = models.ForeignKey(
        Conversation, on_delete=models.CASCADE, related_name="participants"
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="conversations"
    )
    last_read_seq = models.PositiveBigIntegerField(default=0)
    # Messages from the other person after last_read_seq (kept here so badges cost one query).
    unread = models.PositiveIntegerField(default=0)
    read_at = models.DateTimeField(null=True, blank=True)
    # Unread-message email: the newest message already covered by one, and when the next is due.
    notified_seq = models.PositiveBigIntegerField(default=0)
    notice_due_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["conversation", "user"], name="one_participant_row")
        ]

    def __str__(self) -> str:
        return f"participant {self.user_id} in {self.conversation_id}"


class Attachment(models.Model):
    """An uploaded file, encrypted on disk; it belongs to the message it was sent with."""

    uid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    conversation = models.ForeignKey(
        Conversation, on_delete=models.PROTECT, related_name="attachments"
    )
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    name = EncryptedTextField()
    content_type = models.CharField(max_length=100)  # from the content, never from the name
    size = models.PositiveBigIntegerField()
    # The random file name under RAPPORT_DATA_DIR/attachments (no client data in it).
    stored_as = models.CharField(max_length=64, unique=True)
    sha256 = models.CharField(max_length=64)  # of the plaintext, for integrity checks
    created_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"attachment {self.uid}"


class Message(models.Model):
    # Every message is written hundreds of times a second under load, and every index is written
    # with it: the foreign keys are covered by the two unique constraints (their first columns),
    # and the attachment and visit columns, empty for most messages, are indexed only where set.
    conversation = models.ForeignKey(
        Conversation, on_delete=models.PROTECT, related_name="messages", db_index=False
    )
    seq = models.PositiveBigIntegerField()
    sender = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", db_index=False
    )
    # The id the sender's browser made: a retried send with the same id is stored once.
    client_uid = models.UUIDField()
    body = EncryptedTextField(blank=True)
    # At most one message per attachment (the constraint below).
    attachment = models.ForeignKey(
        Attachment,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="message",
        db_index=False,
    )
    # Set for chat typed during a live session.
    visit = models.ForeignKey(
        "visits.Visit",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="messages",
        db_index=False,
    )
    created_at = models.DateTimeField(default=timezone.now)
    edited_at = models.DateTimeField(null=True, blank=True)
    # A retracted message shows as a tombstone; its text stays in the record.
    retracted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["conversation", "seq"]
        constraints = [
            models.UniqueConstraint(fields=["sender", "client_uid"], name="message_stored_once"),
            models.UniqueConstraint(fields=["conversation", "seq"], name="message_seq_unique"),
            models.UniqueConstraint(
                fields=["attachment"],
                condition=models.Q(attachment__isnull=False),
                name="message_attachment_once",
            ),
        ]
        indexes = [
            models.Index(
                fields=["visit"],
                condition=models.Q(visit__isnull=False),
                name="message_visit_chat",
            ),
        ]

    def __str__(self) -> str:
        return f"message {self.conversation_id}#{self.seq}"


class Revision(models.Model):
    """The text a message had before a correction or a retraction (the record keeps it)."""

    class Kind(models.TextChoices):
        EDITED = "edited", "corrected"
        RETRACTED = "retracted", "retracted"

    message = models.ForeignKey(Message, on_delete=models.PROTECT, related_name="revisions")
    kind = models.CharField(max_length=12, choices=Kind.choices)
    body = EncryptedTextField(blank=True)
    replaced_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["message", "replaced_at", "pk"]

    def __str__(self) -> str:
        return f"revision of {self.message_id}"


class MessagingSettings(models.Model):
    """A person's messaging preferences; for therapists also when clients may expect a reply."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="messaging_settings"
    )
    email_when_unread = models.BooleanField(default=True)
    email_delay_minutes = models.PositiveSmallIntegerField(default=10)
    # No email between these local times (in the user's time zone); both empty = no quiet hours.
    quiet_from = models.TimeField(null=True, blank=True)
    quiet_until = models.TimeField(null=True, blank=True)
    # Therapists: within how many hours a client may expect a reply.
    response_hours = models.PositiveSmallIntegerField(default=48)

    def __str__(self) -> str:
        return f"messaging settings of {self.user_id}"


class OfficeHours(models.Model):
    """A weekly window in which a therapist reads messages, in the therapist's time zone."""

    therapist = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="office_hours"
    )
    weekday = models.PositiveSmallIntegerField()  # 0 = Monday, as in datetime.weekday()
    starts = models.TimeField()
    ends = models.TimeField()

    class Meta:
        ordering = ["therapist", "weekday", "starts"]
        constraints = [
            models.CheckConstraint(condition=models.Q(weekday__lte=6), name="office_hours_weekday"),
            models.CheckConstraint(
                condition=models.Q(ends__gt=models.F("starts")), name="office_hours_order"
            ),
        ]

    def __str__(self) -> str:
        return f"office hours {self.therapist_id} {self.weekday}"
