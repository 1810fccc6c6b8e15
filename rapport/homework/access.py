"""Who reaches a client's homework: the client (their own, to fill in), their therapists in
active care (to assign, read and comment), and a practice admin under emergency access (to
read). Reads by anyone but the client are audited through ``rapport.care.access.access_client``;
everything else is a 404, unknown and foreign alike.
"""

from __future__ import annotations

from django.db.models import QuerySet
from django.http import Http404, HttpRequest

from rapport.accounts.models import User
from rapport.care.access import Reach, access_client
from rapport.homework.models import Assignment, Homework


def access_client_homework(
    user: User, client_id: int, *, request: HttpRequest | None = None, write: bool = False
) -> tuple[User, str]:
    """The client and how ``user`` reaches them, for their homework.

    ``write=True`` (assigning, commenting): their therapist in active care only."""
    client, how = access_client(user, client_id, request=request, purpose="homework")
    allowed = {Reach.CARE} if write else {Reach.CARE, Reach.EMERGENCY}
    if how not in allowed:
        raise Http404("No such client.")
    return client, how


def access_homework(
    user: User, homework_id: int, *, request: HttpRequest | None = None, write: bool = False
) -> tuple[Homework, str]:
    """One piece of homework and how ``user`` reaches its client: the client themselves, or the
    clinical team as :func:`access_client_homework`; otherwise 404."""
    homework = (
        Homework.objects.select_related("assignment", "client", "commented_by")
        .filter(pk=homework_id)
        .first()
    )
    if homework is None or not user.is_active:
        raise Http404("No such homework.")
    if user.pk == homework.client_id:
        return homework, Reach.SELF
    if user.is_client:
        raise Http404("No such homework.")
    _client, how = access_client_homework(user, homework.client_id, request=request, write=write)
    return homework, how


def access_assignment(
    user: User, client_id: int, assignment_id: int, *, request: HttpRequest | None = None
) -> Assignment:
    """One assignment of the client, to change or stop: their therapist in active care only;
    otherwise 404."""
    client, _how = access_client_homework(user, client_id, request=request, write=True)
    assignment = Assignment.objects.filter(client=client, pk=assignment_id).first()
    if assignment is None:
        raise Http404("No such homework.")
    return assignment


def own_homework(client: User) -> QuerySet[Homework]:
    """The client's own homework, soonest due first."""
    if not (client.is_active and client.is_client):
        raise Http404("No homework.")
    return Homework.objects.filter(client=client).select_related("assignment")
