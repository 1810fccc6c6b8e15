"""Writing journal entries and mood check-ins, and sharing them; the client's daily check-in
reminder. Only the client writes their journal. Sharing and unsharing are audited (with no words
from the entry); writing a private entry is not, since the trail is read by others
(docs/security.md, "The private journal"). A change of the reminder is audited as other
preference changes are (which fields changed, nothing else). Nothing here publishes a real-time
event: no socket ever carries a journal entry.
"""

from __future__ import annotations

from datetime import time

from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext as _

from rapport.accounts.models import User
from rapport.audit.services import Action, record
from rapport.journal import notifications
from rapport.journal.models import MOOD_MAX, MOOD_MIN, JournalEntry, MoodReminder
from rapport.messaging.preferences import zone_of

TEXT_LIMIT = 20_000
TAGS_LIMIT = 300


class JournalError(ValidationError):
    """An entry the rules refuse, in words for the client."""


def _clean(mood: int | None, mood_words: str, tags: str, text: str) -> tuple[str, str, str]:
    if mood is not None and not MOOD_MIN <= mood <= MOOD_MAX:
        raise JournalError(
            _("Choose a mood from %(low)d to %(high)d.") % {"low": MOOD_MIN, "high": MOOD_MAX}
        )
    words, text = mood_words.strip(), text.strip()
    tag_text = ", ".join(t.strip() for t in tags.split(",") if t.strip())
    if mood is None and not (words or text):
        raise JournalError(_("Choose a mood or write something first."))
    if len(text) > TEXT_LIMIT or len(words) > TEXT_LIMIT or len(tag_text) > TAGS_LIMIT:
        raise JournalError(_("That is longer than an entry can hold. Split it in two."))
    return words, tag_text, text


def _audit_sharing(client: User, entry: JournalEntry, request: HttpRequest | None) -> None:
    action = Action.JOURNAL_ENTRY_SHARED if entry.shared else Action.JOURNAL_ENTRY_UNSHARED
    record(action, actor=client, request=request, obj=entry, client=client)


def write_entry(
    client: User,
    *,
    mood: int | None,
    mood_words: str = "",
    tags: str = "",
    text: str = "",
    shared: bool = False,
    request: HttpRequest | None = None,
) -> JournalEntry:
    """A new entry of the client's: private unless ``shared``."""
    if not client.is_client:
        raise JournalError(_("Only clients keep a journal."))
    words, tag_text, body = _clean(mood, mood_words, tags, text)
    with transaction.atomic():
        entry = JournalEntry.objects.create(
            client=client, mood=mood, mood_words=words, tags=tag_text, text=body, shared=shared
        )
        if shared:
            _audit_sharing(client, entry, request)
    return entry


def change_entry(
    client: User,
    entry: JournalEntry,
    *,
    mood: int | None,
    mood_words: str = "",
    tags: str = "",
    text: str = "",
    shared: bool = False,
    request: HttpRequest | None = None,
) -> JournalEntry:
    """The client changes their entry, or who may see it."""
    if entry.client_id != client.pk:
        raise JournalError(_("This is not your entry."))
    words, tag_text, body = _clean(mood, mood_words, tags, text)
    with transaction.atomic():
        locked = JournalEntry.objects.select_for_update().get(pk=entry.pk)
        sharing_changed = locked.shared != shared
        locked.mood, locked.mood_words, locked.tags, locked.text = mood, words, tag_text, body
        locked.shared, locked.updated_at = shared, timezone.now()
        locked.save(update_fields=["mood", "mood_words", "tags", "text", "shared", "updated_at"])
        if sharing_changed:
            _audit_sharing(client, locked, request)
    return locked


def reminder_of(client: User) -> MoodReminder:
    """The client's reminder choice; switched off (and not saved) until they make one."""
    return MoodReminder.objects.filter(client=client).first() or MoodReminder(client=client)


def set_reminder(
    client: User, *, enabled: bool, at: time | None, request: HttpRequest | None = None
) -> list[str]:
    """Switch the daily check-in reminder on or off, at ``at`` on the client's own clock. The
    first reminder is the next ``at`` still ahead. Returns the fields that changed (audited)."""
    if not (client.is_active and client.is_client):
        raise JournalError(_("Only clients keep a journal."))
    if enabled and at is None:
        raise JournalError(_("Choose the time of day for the reminder."))
    with transaction.atomic():
        reminder, _created = MoodReminder.objects.select_for_update().get_or_create(client=client)
        when = at if at is not None else reminder.at
        values = {"enabled": enabled, "at": when}
        changed = sorted(name for name, value in values.items() if getattr(reminder, name) != value)
        if not changed:
            return []
        reminder.enabled, reminder.at = enabled, when
        reminder.revision += 1  # a reminder queued before this change now does nothing
        reminder.changed_at = timezone.now()
        reminder.save(update_fields=["enabled", "at", "revision", "changed_at"])
        record(
            Action.JOURNAL_REMINDER_CHANGED,
            actor=client,
            request=request,
            obj=reminder,
            fields=changed,
        )
        if enabled:
            zone = zone_of(client)
            notifications.queue(
                reminder, notifications.next_day(reminder.at, zone, timezone.now()), zone
            )
    return changed
