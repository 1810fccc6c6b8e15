"""Permission-checked access to visits: only the two people of the care relationship, while it
is active and both accounts are, ever.

Admins are never participants, emergency access included; everyone else gets a 404. Pages and
the room's socket use the same accessors, so a relationship that ended (or a person who was
deactivated) closes both at once.
"""

from __future__ import annotations

import uuid

from django.http import Http404, HttpRequest

from rapport.accounts.models import Role, User
from rapport.audit.services import Action, record
from rapport.care.access import Reach, clients_of, in_active_care
from rapport.visits.models import SafetyCheckIn, Visit, VisitStatus
from rapport.visits.services import CLIENT, THERAPIST, current_checkin, open_visits, role_in


def access_visit(user: User, visit_uid: uuid.UUID) -> tuple[Visit, str]:
    """The visit and ``user``'s role in it ("therapist" / "client"); otherwise 404."""
    visit = (
        Visit.objects.select_related("therapist", "client", "appointment__session_type")
        .filter(uid=visit_uid)
        .first()
    )
    role = role_in(visit, user) if visit is not None and user.is_active else None
    if visit is None or role is None or not in_care(visit):
        raise Http404("No such session.")
    return visit, role


def open_visits_of(user: User) -> list[tuple[Visit, str]]:
    """``user``'s sessions that are not over, with their role in each: a client's with the
    therapists who treat them now, a therapist's with their current clients; nobody else has
    any."""
    if not user.is_active:
        return []
    if user.role == Role.CLIENT:
        return [(visit, CLIENT) for visit in open_visits(user)]
    if user.role == Role.THERAPIST:
        visits = (
            Visit.objects.filter(therapist=user, client__in=clients_of(user))
            .exclude(status=VisitStatus.ENDED)
            .select_related("client", "therapist")
            .order_by("-created_at", "-pk")
        )
        return [(visit, THERAPIST) for visit in visits]
    return []


def in_care(visit: Visit) -> bool:
    """The visit's two people are still in active care, with active accounts."""
    return in_active_care(visit.therapist, visit.client)


def access_checkin(
    user: User, visit: Visit, role: str, *, request: HttpRequest | None = None
) -> SafetyCheckIn | None:
    """The client's safety check-in for the therapist of a visit they reached through
    ``access_visit`` (None for the client, or before the check-in). Audited as a read of the
    client's record: where they are, their call-back number and emergency contact."""
    if role != THERAPIST:
        return None
    checkin = current_checkin(visit)
    if checkin is not None:
        record(
            Action.CLIENT_RECORD_VIEWED,
            actor=user,
            request=request,
            obj=checkin,
            client=visit.client,
            purpose="checkin",
            via=Reach.CARE,
        )
    return checkin
