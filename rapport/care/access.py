"""The one permission check for client data.

Every view, API endpoint, WebSocket consumer and task that touches a client's data gets it through
these accessors, never through a bare ``Model.objects.get``. Denials are 404s for outsiders (no
hint that a client exists) and every granted read of a record is audited.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.db.models import QuerySet
from django.http import Http404, HttpRequest
from django.utils import timezone

from rapport.accounts.models import Role, User
from rapport.audit.services import Action, record
from rapport.care.models import CareRelationship, EmergencyAccess

if TYPE_CHECKING:
    from collections.abc import Iterable


class Reach:
    """Why a user may reach a client: the answer decides what they see and how it is audited."""

    SELF = "self"
    CARE = "care"
    EMERGENCY = "emergency"


def active_relationship(therapist: User, client: User) -> CareRelationship | None:
    return CareRelationship.objects.filter(
        therapist=therapist, client=client, status=CareRelationship.Status.ACTIVE
    ).first()


def active_emergency_access(admin: User, client: User) -> EmergencyAccess | None:
    return EmergencyAccess.objects.filter(
        admin=admin, client=client, expires_at__gt=timezone.now()
    ).first()


def reach(user: User, client: User) -> str | None:
    """How ``user`` may reach ``client``'s data, or None when they may not."""
    if not user.is_active or not client.is_client:
        return None
    if user.pk == client.pk:
        return Reach.SELF
    if user.is_therapist and active_relationship(user, client) is not None:
        return Reach.CARE
    if user.is_practice_admin and active_emergency_access(user, client) is not None:
        return Reach.EMERGENCY
    return None


def access_client(
    user: User, client_id: int, *, request: HttpRequest | None = None, purpose: str = "view"
) -> tuple[User, str]:
    """The client ``client_id`` if ``user`` may reach them; otherwise 404. Audits the read."""
    client = User.objects.filter(pk=client_id, role=Role.CLIENT).first()
    how = reach(user, client) if client is not None else None
    if client is None or how is None:
        raise Http404("No such client.")
    if how != Reach.SELF:
        record(
            Action.CLIENT_RECORD_VIEWED,
            actor=user,
            request=request,
            obj=client,
            client=client,
            purpose=purpose,
            via=how,
        )
    return client, how


def clients_of(therapist: User) -> QuerySet[User]:
    """The therapist's current caseload."""
    return User.objects.filter(
        role=Role.CLIENT,
        is_active=True,
        care_relationships__therapist=therapist,
        care_relationships__status=CareRelationship.Status.ACTIVE,
    ).distinct()


def therapists_of(client: User) -> QuerySet[User]:
    return User.objects.filter(
        caseload__client=client, caseload__status=CareRelationship.Status.ACTIVE
    ).distinct()


def may_reach_any(user: User, clients: Iterable[User]) -> bool:
    return any(reach(user, client) is not None for client in clients)
