"""Who may read what of matching: a client their own request and the profiles of the therapists
suggested to them (or their own therapist's); a therapist the requests offered to them, before
accepting, and only as ``services.summary_of`` shows them; admins every request.

Outsiders get 404s, as everywhere (rapport.care.access). The pre-acceptance view is audited by
``access_offer`` itself: whoever reads a request before care starts leaves a trace the client
sees in "Who saw my record".
"""

from __future__ import annotations

from django.db.models import QuerySet
from django.http import Http404, HttpRequest

from rapport.accounts.models import Role, User
from rapport.audit.services import Action, record
from rapport.care.access import therapists_of
from rapport.matching.models import CareRequest, Offer, RematchRequest, TherapistProfile
from rapport.matching.services import answered_by_admin, may_answer, request_of


def access_offer(user: User, offer_id: int, *, request: HttpRequest | None = None) -> Offer:
    """A pending offer ``user`` may answer (the therapist asked, or an admin when admins
    answer), audited as a read of the client's request; otherwise 404."""
    offer = (
        Offer.objects.select_related("request__client", "therapist")
        .filter(pk=offer_id, status=Offer.Status.PENDING)
        .first()
    )
    if offer is None or not may_answer(user, offer):
        raise Http404("No such request.")
    record(
        Action.CLIENT_RECORD_VIEWED,
        actor=user,
        request=request,
        obj=offer,
        client=offer.request.client,
        purpose="care_request",
        via="offer",
    )
    return offer


def pending_offers(user: User) -> QuerySet[Offer]:
    """The offers waiting for ``user``'s answer (no client data beyond the request's id)."""
    pending = Offer.objects.filter(status=Offer.Status.PENDING).order_by("expires_at", "pk")
    if not user.is_active:
        return pending.none()
    if answered_by_admin():
        return pending if user.is_practice_admin else pending.none()
    return pending.filter(therapist=user) if user.is_therapist else pending.none()


def access_request_for_admin(
    user: User, request_id: int, *, request: HttpRequest | None = None
) -> CareRequest:
    """Any request, for an admin (audited); 404 for everyone else."""
    care_request = (
        CareRequest.objects.select_related("client").filter(pk=request_id).first()
        if user.is_active and user.is_practice_admin
        else None
    )
    if care_request is None:
        raise Http404("No such request.")
    record(
        Action.CLIENT_RECORD_VIEWED,
        actor=user,
        request=request,
        obj=care_request,
        client=care_request.client,
        purpose="care_request",
        via="practice",
    )
    return care_request


def access_rematch(user: User, rematch_id: int) -> RematchRequest:
    rematch = (
        RematchRequest.objects.select_related("client", "therapist").filter(pk=rematch_id).first()
        if user.is_active and user.is_practice_admin
        else None
    )
    if rematch is None:
        raise Http404("No such request.")
    return rematch


def open_rematches(user: User) -> QuerySet[RematchRequest]:
    rows = RematchRequest.objects.filter(handled_at__isnull=True).select_related(
        "client", "therapist"
    )
    return rows if user.is_active and user.is_practice_admin else rows.none()


def own_request(client: User) -> CareRequest | None:
    return request_of(client) if client.is_client else None


def readable_profile(user: User, therapist_id: int) -> TherapistProfile:
    """A therapist's profile as clients read it: a client only of the therapists suggested to
    them or their own; staff any active therapist's. 404 otherwise."""
    profile = (
        TherapistProfile.objects.select_related("therapist")
        .filter(
            therapist_id=therapist_id, therapist__is_active=True, therapist__role=Role.THERAPIST
        )
        .first()
    )
    if profile is None or not user.is_active:
        raise Http404("No such therapist.")
    if user.is_therapist or user.is_practice_admin:
        return profile
    if user.is_client:
        care_request = request_of(user)
        if care_request is not None and therapist_id in care_request.suggested_ids():
            return profile
        if therapists_of(user).filter(pk=therapist_id).exists():
            return profile
    raise Http404("No such therapist.")


def editable_profile(user: User, therapist_id: int) -> TherapistProfile:
    """A profile ``user`` may edit: their own, or any therapist's for an admin. 404 otherwise."""
    therapist = User.objects.filter(pk=therapist_id, role=Role.THERAPIST).first()
    if therapist is None or not (user.is_practice_admin or user.pk == therapist.pk):
        raise Http404("No such therapist.")
    # Unsaved until the first save: opening the page writes nothing.
    return TherapistProfile.objects.filter(therapist=therapist).first() or TherapistProfile(
        therapist=therapist
    )
