"""Who may read a client's whole record: the client, their therapists in active care, and a
practice admin under emergency access. Every read by someone else is audited (through
``rapport.care.access.access_client``)."""

from __future__ import annotations

from django.http import Http404, HttpRequest

from rapport.accounts.models import Role, User
from rapport.audit.services import Action, record
from rapport.care.access import access_client
from rapport.records.models import Erasure


def access_record(
    user: User, client_id: int, *, request: HttpRequest | None = None, purpose: str
) -> tuple[User, str]:
    """The client and how ``user`` reaches them (self, care, emergency); 404 for anyone else."""
    return access_client(user, client_id, request=request, purpose=purpose)


def access_client_for_erasure(
    user: User, client_id: int, *, request: HttpRequest | None = None
) -> User:
    """A client's account as a practice admin manages its erasure; 404 for an unknown id and for
    anyone but an admin. No clinical content is shown, only counts of rows by kind; each look is
    audited as a read of the record (purpose ``erasure_report``), which the client sees."""
    client = None
    if user.is_active and user.role == Role.ADMIN:
        client = User.objects.filter(pk=client_id, role=Role.CLIENT).first()
    if client is None:
        raise Http404("no such client")
    record(
        Action.CLIENT_RECORD_VIEWED,
        actor=user,
        request=request,
        obj=client,
        client=client,
        purpose="erasure_report",
        via="admin",
    )
    return client


def access_erasure(user: User, erasure_id: int) -> Erasure:
    """An erasure, for a practice admin only; 404 for anyone else and for an unknown id."""
    erasure = None
    if user.is_active and user.role == Role.ADMIN:
        erasure = Erasure.objects.select_related("client").filter(pk=erasure_id).first()
    if erasure is None:
        raise Http404("no such erasure")
    return erasure
