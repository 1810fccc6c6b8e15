"""Who may read a client's whole record: the client, their therapists in active care, and a
practice admin under emergency access. Every read by someone else is audited (through
``rapport.care.access.access_client``)."""

from __future__ import annotations

from django.http import HttpRequest

from rapport.accounts.models import User
from rapport.care.access import access_client


def access_record(
    user: User, client_id: int, *, request: HttpRequest | None = None, purpose: str
) -> tuple[User, str]:
    """The client and how ``user`` reaches them (self, care, emergency); 404 for anyone else."""
    return access_client(user, client_id, request=request, purpose=purpose)
