"""Who reaches a client's diagnoses: their therapists in active care (to read and to record),
a practice admin under emergency access (to read). Every read by anyone but the client is audited
through ``rapport.care.access.access_client``.

Clients do not open a diagnoses page: their diagnoses reach them in their record export (their
right of access), and a diagnosis is talked through with the therapist rather than met as a code
on a screen. Everything else answers 404, unknown and someone else's alike.
"""

from __future__ import annotations

from django.http import Http404, HttpRequest

from rapport.accounts.models import User
from rapport.care.access import Reach, access_client
from rapport.diagnoses.models import Diagnosis


def access_diagnoses(
    user: User, client_id: int, *, request: HttpRequest | None = None, write: bool = False
) -> tuple[User, str]:
    """The client and how ``user`` reaches them, for their diagnoses; otherwise 404.

    ``write=True``: their therapist in active care only (emergency access is for reading)."""
    client, how = access_client(user, client_id, request=request, purpose="diagnoses")
    allowed = {Reach.CARE} if write else {Reach.CARE, Reach.EMERGENCY}
    if how not in allowed:
        raise Http404("No such client.")
    return client, how


def access_diagnosis(
    user: User, client_id: int, diagnosis_id: int, *, request: HttpRequest | None = None
) -> Diagnosis:
    """One diagnosis of a client in ``user``'s care, to change it; otherwise 404."""
    client, _how = access_diagnoses(user, client_id, request=request, write=True)
    diagnosis = Diagnosis.objects.filter(pk=diagnosis_id, client=client).first()
    if diagnosis is None:
        raise Http404("No such diagnosis.")
    return diagnosis
