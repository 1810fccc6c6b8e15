"""Who reaches a client's treatment plan: their therapists in active care (to read and write),
a practice admin under emergency access (to read), and the client (their own finalised
versions, in plain words). Reads by anyone but the client are audited through
``rapport.care.access.access_client``; everything else is a 404, unknown and foreign alike.
"""

from __future__ import annotations

from django.http import Http404, HttpRequest

from rapport.accounts.models import User
from rapport.care.access import Reach, access_client
from rapport.plans.models import Plan, PlanVersion, VersionStatus


def access_plan(
    user: User, client_id: int, *, request: HttpRequest | None = None, write: bool = False
) -> tuple[User, str, Plan | None]:
    """The client, how ``user`` reaches them, and their plan (None before the first draft).

    ``write=True``: their therapist in active care only (emergency access is for reading)."""
    client, how = access_client(user, client_id, request=request, purpose="treatment_plan")
    allowed = {Reach.CARE} if write else {Reach.CARE, Reach.EMERGENCY}
    if how not in allowed:
        raise Http404("No such client.")
    return client, how, Plan.objects.filter(client=client).first()


def access_version(
    user: User, client_id: int, number: int, *, request: HttpRequest | None = None
) -> tuple[User, PlanVersion]:
    """One version of a client's plan, for the clinical team; otherwise 404."""
    client, _how, plan = access_plan(user, client_id, request=request)
    version = PlanVersion.objects.filter(plan=plan, number=number).first() if plan else None
    if version is None:
        raise Http404("No such plan version.")
    return client, version


def own_plan(client: User) -> PlanVersion | None:
    """The client's own current plan: their latest finalised version (drafts are not theirs to
    read until their therapist finalises them)."""
    if not (client.is_active and client.is_client):
        raise Http404("No plan.")
    return (
        PlanVersion.objects.filter(plan__client=client, status=VersionStatus.FINAL)
        .order_by("-number")
        .first()
    )
