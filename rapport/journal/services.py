"""Writing journal entries and mood check-ins, and sharing them. Only the client writes their
journal. Sharing and unsharing are audited (with no words from the entry); writing a private
entry is not, since the trail is read by others (docs/security.md, "The private journal").
Nothing here publishes a real-time event: no socket ever carries a journal entry.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext as _

from rapport.accounts.models import User
from rapport.audit.services import Action, record
from rapport.journal.models import MOOD_MAX, MOOD_MIN, JournalEntry

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
