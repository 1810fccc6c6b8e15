"""Journal entries: what the client writes between sessions, and the daily mood check-in (0 to
10, with optional words and tags), in one row. An entry is private unless the client shares it;
only shared entries ever reach a therapist (``rapport.journal.access``). ``MoodReminder``: the
client's daily check-in reminder, off unless they switch it on.

The words, the journal text and the tags are encrypted at rest; the mood, the time and the
shared flag stay queryable (the chart and the shared list read them).
"""

from __future__ import annotations

from datetime import time

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from rapport.core.encryption import EncryptedTextField

MOOD_MIN, MOOD_MAX = 0, 10


class JournalEntry(models.Model):
    client = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="journal_entries"
    )
    written_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)
    mood = models.PositiveSmallIntegerField(null=True, blank=True)
    mood_words = EncryptedTextField(blank=True, default="")
    tags = EncryptedTextField(blank=True, default="")  # comma separated, as the client typed
    text = EncryptedTextField(blank=True, default="")
    shared = models.BooleanField(default=False)  # private unless the client says otherwise

    class Meta:
        ordering = ["-written_at", "-pk"]
        constraints = [
            models.CheckConstraint(
                condition=Q(mood__isnull=True) | Q(mood__gte=MOOD_MIN, mood__lte=MOOD_MAX),
                name="journal_mood_0_to_10",
            )
        ]
        indexes = [models.Index(fields=["client", "shared", "written_at"])]

    def __str__(self) -> str:
        return f"journal entry {self.pk}"

    @property
    def tag_list(self) -> list[str]:
        return [tag.strip() for tag in self.tags.split(",") if tag.strip()]


class MoodReminder(models.Model):
    """The client's choice of a daily reminder to check in, at a wall-clock time in their own
    zone. Each change makes a new ``revision``: a reminder queued under an older one does
    nothing, so switching off, on again or to another time never leaves two reminders a day."""

    client = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="mood_reminder"
    )
    enabled = models.BooleanField(default=False)
    at = models.TimeField(default=time(20, 0))
    revision = models.PositiveIntegerField(default=0)
    changed_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"mood reminder of {self.client_id}"
