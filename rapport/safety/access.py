"""Who reaches a client's safety plan: their therapists in active care (to read and write), a
practice admin under emergency access (to read), and the client (their own plan, to read; they
write it only together with their therapist in a live session, which ``rapport.visits`` checks).
Reads by anyone but the client are audited through ``rapport.care.access.access_client``;
everything else is a 404, unknown and foreign alike.
"""

from __future__ import annotations

from django.http import Http404, HttpRequest

from rapport.accounts.models import User
from rapport.care.access import Reach, access_client
from rapport.safety.models import SafetyPlan, SafetyPlanVersion


def access_safety_plan(
    user: User, client_id: int, *, request: HttpRequest | None = None, write: bool = False
) -> tuple[User, str, SafetyPlan | None]:
    """The client, how ``user`` reaches them, and their plan (None before the first version).

    ``write=True``: their therapist in active care only (emergency access is for reading)."""
    client, how = access_client(user, client_id, request=request, purpose="safety_plan")
    allowed = {Reach.CARE} if write else {Reach.CARE, Reach.EMERGENCY}
    if how not in allowed:
        raise Http404("No such client.")
    return client, how, SafetyPlan.objects.filter(client=client).first()


def access_safety_version(
    user: User, client_id: int, number: int, *, request: HttpRequest | None = None
) -> tuple[User, SafetyPlanVersion]:
    """One version of a client's safety plan, for the clinical team; otherwise 404."""
    client, _how, plan = access_safety_plan(user, client_id, request=request)
    version = SafetyPlanVersion.objects.filter(plan=plan, number=number).first() if plan else None
    if version is None:
        raise Http404("No such safety plan version.")
    return client, version


def own_safety_plan(client: User) -> SafetyPlanVersion | None:
    """The client's own plan as it stands: its latest version."""
    if not (client.is_active and client.is_client):
        raise Http404("No safety plan.")
    return latest_version_of(client)


def latest_version_of(client: User) -> SafetyPlanVersion | None:
    """The latest version of ``client``'s plan, for callers that reached the client already
    (the room, the alert page)."""
    return SafetyPlanVersion.objects.filter(plan__client=client).order_by("-number").first()


def has_safety_plan(user: User) -> bool:
    """Whether ``user`` is a client with a plan (the layout's one-tap link)."""
    return bool(user.is_client) and SafetyPlanVersion.objects.filter(plan__client=user).exists()
