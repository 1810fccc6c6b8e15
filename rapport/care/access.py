"""The one permission check for client data.

Every view, API endpoint, WebSocket consumer and task that touches a client's data gets it through
these accessors, never through a bare ``Model.objects.get``. Denials are 404s for outsiders (no
hint that a client exists) and every granted read of a record is audited.
"""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import Http404, HttpRequest
from django.utils import timezone

from rapport.accounts.models import Role, User
from rapport.audit.services import Action, record
from rapport.care.models import CareRelationship, ClientProfile, EmergencyAccess


class Reach:
    """Why a user may reach a client: the answer decides what they see and how it is audited."""

    SELF = "self"
    CARE = "care"
    EMERGENCY = "emergency"


def active_relationship(therapist: User, client: User) -> CareRelationship | None:
    return CareRelationship.objects.filter(
        therapist=therapist, client=client, status=CareRelationship.Status.ACTIVE
    ).first()


def in_active_care(therapist: User, client: User) -> bool:
    """Both accounts are active and the two are in an active care relationship: the rule for
    everything the two of them share (sessions, appointments, messages, alerts), on pages and
    sockets alike. Unknown, foreign and ended all get the same answer from the callers."""
    return (
        therapist.is_active
        and client.is_active
        and active_relationship(therapist, client) is not None
    )


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
    if user.is_therapist and in_active_care(user, client):
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


def profile_of(client: User) -> ClientProfile:
    """The record of a client the caller reached through ``access_client`` (made on first use)."""
    profile, _created = ClientProfile.objects.get_or_create(client=client)
    return profile


def relationships_of(client: User) -> QuerySet[CareRelationship]:
    """Every care relationship, past and present, of a client the caller reached through
    ``access_client``."""
    return CareRelationship.objects.filter(client=client).select_related("therapist")


def access_relationship(
    user: User, relationship_id: int, *, lock: bool = False
) -> CareRelationship:
    """A care relationship for a practice admin or its therapist; otherwise 404 (unknown and
    someone else's alike). ``lock=True`` (in a transaction) locks its row."""
    rows = CareRelationship.objects.select_related("client", "therapist")
    if lock:
        rows = rows.select_for_update(of=("self",))
    relationship = rows.filter(pk=relationship_id).first()
    if (
        relationship is None
        or not user.is_active
        or not (user.is_practice_admin or relationship.therapist_id == user.pk)
    ):
        raise Http404("No such care relationship.")
    return relationship


def all_relationships(user: User) -> QuerySet[CareRelationship]:
    """Every care relationship of the practice, newest first, for an active practice admin."""
    if not (user.is_active and user.is_practice_admin):
        raise PermissionDenied("the practice's relationships are for admins")
    return CareRelationship.objects.select_related("therapist", "client", "ended_by")
