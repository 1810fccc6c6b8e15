"""Who reaches journal entries. The client reaches all of their own. Anyone else reaches only
the entries the client shared, and only through :func:`shared_entries`, after the one
permission check (``rapport.care.access.access_client``): there is no other way for code that
serves a therapist to read a journal entry. A private entry is not "hidden" from them; it is
never read.
"""

from __future__ import annotations

from django.db.models import QuerySet
from django.http import Http404, HttpRequest

from rapport.accounts.models import User
from rapport.care.access import Reach, access_client
from rapport.journal.models import JournalEntry


def own_entries(client: User) -> QuerySet[JournalEntry]:
    """All of the client's own entries, private and shared, newest first."""
    if not (client.is_active and client.is_client):
        raise Http404("No journal.")
    return JournalEntry.objects.filter(client=client)


def own_entry(client: User, entry_id: int) -> JournalEntry:
    """One of the client's own entries; anyone else's is a 404."""
    entry = own_entries(client).filter(pk=entry_id).first()
    if entry is None:
        raise Http404("No such entry.")
    return entry


def shared_of(client: User) -> QuerySet[JournalEntry]:
    """The entries ``client`` shared, for a caller that already reached the client through
    ``access_client`` (the record, the progress page): never a private one."""
    return JournalEntry.objects.filter(client=client, shared=True)


def shared_entries(
    user: User, client_id: int, *, request: HttpRequest | None = None
) -> tuple[User, str, QuerySet[JournalEntry]]:
    """The client, how ``user`` reaches them, and the entries they shared: for their therapist
    in active care or an admin under emergency access; otherwise 404."""
    client, how = access_client(user, client_id, request=request, purpose="journal")
    if how not in {Reach.CARE, Reach.EMERGENCY}:
        raise Http404("No such client.")
    return client, how, shared_of(client)
