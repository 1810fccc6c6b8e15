"""A client's request for a therapist, from the end of their screen to a first session.

``ready_for_matching`` (called by sign-up once the intake and screen are done) runs matching:
suggestions → the client chooses (CHOOSING); nobody fits → the waitlist (WAITLISTED). The client
picks up to three therapists in order, or asks the practice to choose (PRACTICE). Each choice in
turn becomes an ``Offer`` that the therapist (or an admin, per ``Practice.offers_answered_by``)
accepts or declines within ``Practice.offer_answer_hours``; a decline or no answer passes the
request on to the next choice, then to the practice. Accepting starts the care relationship.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.http import HttpRequest
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from rapport.accounts.models import Practice, Role, User
from rapport.audit.services import Action, record
from rapport.billing.services import intake_session_types
from rapport.care.access import therapists_of
from rapport.care.models import CareRelationship, ClientProfile
from rapport.care.services import end_care_for_handover, start_care
from rapport.matching import notifications, rules
from rapport.matching.models import CareRequest, Offer, RematchRequest, TherapistProfile
from rapport.matching.screens import ScreenBand, latest_screens
from rapport.matching.tasks import rematch_waitlist
from rapport.scheduling.availability import open_slots
from rapport.scheduling.changes import cancel_for_handover
from rapport.scheduling.models import Appointment, OfferedTo, SessionType

OPEN_STATUSES = (
    CareRequest.Status.INTAKE,
    CareRequest.Status.CHOOSING,
    CareRequest.Status.OFFERED,
    CareRequest.Status.PRACTICE,
    CareRequest.Status.WAITLISTED,
)
# Where ``ready_for_matching`` may (re)run matching: not once a choice was made.
MATCHABLE = (
    CareRequest.Status.INTAKE,
    CareRequest.Status.CHOOSING,
    CareRequest.Status.WAITLISTED,
)
# A waitlisted request is matched again at least this often (the worker's sweep), and at once
# when a profile, working hours or session types change.
REMATCH_EVERY = timedelta(hours=24)


@transaction.atomic
def open_request(
    client: User,
    *,
    region: str,
    language: str,
    modalities: Sequence[str],
    time_zone: str,
    concerns: Iterable[str] = (),
    concerns_text: str = "",
    approaches: Iterable[str] = (),
    availability: Sequence[dict[str, Any]] = (),
    payment_route: str = CareRequest.Payment.SELF_PAY,
    insurer_name: str = "",
    populations: Iterable[str] = (),
) -> CareRequest:
    """The client's request, in the intake state until their intake and screen are done."""
    return CareRequest.objects.create(
        client=client,
        region=region,
        language=language,
        modalities=list(modalities),
        time_zone=time_zone,
        concerns=list(concerns),
        concerns_text=concerns_text,
        approaches=list(approaches),
        availability=list(availability),
        payment_route=payment_route,
        insurer_name=insurer_name,
        populations=list(populations),
    )


def request_of(client: User) -> CareRequest | None:
    """The client's open request, if any (the newest)."""
    return (
        CareRequest.objects.filter(client=client, status__in=OPEN_STATUSES)
        .order_by("-created_at")
        .first()
    )


def latest_request_of(client: User) -> CareRequest | None:
    """The client's newest request, open or not (the home page's card)."""
    return CareRequest.objects.filter(client=client).order_by("-created_at", "-pk").first()


def set_status(request: CareRequest, status: str) -> None:
    request.status = status
    request.status_changed_at = timezone.now()
    request.save(update_fields=["status", "status_changed_at"])


# --- Matching -----------------------------------------------------------------------------------


def wish_of(request: CareRequest) -> rules.Wish:
    return rules.Wish(
        region=request.region,
        language=request.language,
        modalities=list(request.modalities),
        time_zone=request.time_zone,
        availability=rules.read_windows(request.availability),
        concerns=list(request.concerns),
        approaches=list(request.approaches),
        populations=list(request.populations),
    )


def candidates_for(
    wish: rules.Wish, now: datetime, *, exclude: Iterable[int] = ()
) -> list[rules.Candidate]:
    """Every active therapist with a profile, with the open times of their active session types
    that allow one of the client's ways to meet (the schedule's own ``open_slots``)."""
    profiles = (
        TherapistProfile.objects.filter(therapist__is_active=True, therapist__role=Role.THERAPIST)
        .exclude(therapist_id__in=list(exclude))
        .select_related("therapist")
        .defer("photo")
        .order_by("therapist_id")
    )
    types: dict[int, list[SessionType]] = {}
    for session_type in SessionType.objects.filter(
        is_active=True, therapist_id__in=[p.therapist_id for p in profiles]
    ).select_related("therapist"):
        types.setdefault(session_type.therapist_id, []).append(session_type)
    candidates = []
    for profile in profiles:
        offered = {m for t in types.get(profile.therapist_id, []) for m in t.modalities}
        modalities = [m for m in profile.modalities if m in offered]
        open_times: list[tuple[datetime, datetime]] = []
        for session_type in types.get(profile.therapist_id, []):
            if any(m in session_type.modalities and m in modalities for m in wish.modalities):
                slots = open_slots(session_type, now=now, end=now + rules.HORIZON)
                open_times.extend((s.starts_at, s.ends_at) for s in slots)
        candidates.append(
            rules.Candidate(
                therapist_id=profile.therapist_id,
                name=profile.therapist.full_name,
                regions=list(profile.licensed_regions),
                languages=list(profile.languages),
                modalities=modalities,
                accepting=profile.accepting_new_clients,
                open_times=open_times,
                specialties=list(profile.specialties),
                approaches=list(profile.approaches),
                populations=list(profile.populations),
            )
        )
    return candidates


def rank_request(
    request: CareRequest, *, now: datetime | None = None, limit: int = rules.MAX_SUGGESTIONS
) -> rules.Ranking:
    """Matching for ``request``, never suggesting a therapist already treating the client."""
    now = now or timezone.now()
    wish = wish_of(request)
    current = therapists_of(request.client).values_list("pk", flat=True)
    return rules.rank(wish, candidates_for(wish, now, exclude=current), now, limit=limit)


def run_matching(request: CareRequest, *, now: datetime | None = None) -> rules.Ranking:
    """Match ``request`` and keep what was found (suggestions with their facts, or the unmet)."""
    now = now or timezone.now()
    ranking = rank_request(request, now=now)
    request.suggestions = [
        {"therapist": v.candidate.therapist_id, "facts": v.facts} for v in ranking.suggestions
    ]
    request.unmet = ranking.unmet
    request.matched_at = now
    request.save(update_fields=["suggestions", "unmet", "matched_at"])
    return ranking


@transaction.atomic
def ready_for_matching(request: CareRequest) -> None:
    """The client's intake and screen are done: suggest therapists (or waitlist them)."""
    request = CareRequest.objects.select_for_update().get(pk=request.pk)
    if request.status not in MATCHABLE:
        return  # already with a therapist or the practice: a second call changes nothing
    ranking = run_matching(request)
    if ranking.suggestions:
        set_status(request, CareRequest.Status.CHOOSING)
    else:
        set_status(request, CareRequest.Status.WAITLISTED)


def rematch_waitlisted(
    *, now: datetime | None = None, only_due: bool = False, actor: User | None = None
) -> int:
    """Match every waitlisted request again (``only_due``: those not matched for a day); the
    clients who now have suggestions are told. Returns how many left the waitlist."""
    now = now or timezone.now()
    waiting = CareRequest.objects.filter(status=CareRequest.Status.WAITLISTED)
    if only_due:
        waiting = waiting.exclude(matched_at__gt=now - REMATCH_EVERY)
    moved = 0
    for request_id in list(waiting.values_list("pk", flat=True)):
        with transaction.atomic():
            request = (
                CareRequest.objects.select_for_update()
                .select_related("client")
                .filter(pk=request_id, status=CareRequest.Status.WAITLISTED)
                .first()
            )
            if request is None:
                continue
            if run_matching(request, now=now).suggestions:
                set_status(request, CareRequest.Status.CHOOSING)
                notifications.tell(
                    request.client, notifications.CLIENT_NEWS, f"suggested:{request.pk}"
                )
                moved += 1
    if actor is not None:
        record(Action.WAITLIST_REMATCHED, actor=actor, moved=moved)
    return moved


def nightly_rematch() -> int:
    """The worker's sweep: waitlisted requests not matched in the last day are matched again."""
    return rematch_waitlisted(only_due=True)


def rematch_soon() -> None:
    """Something matching reads changed (a profile, working hours, a session type): match the
    waitlist again in the worker, after this transaction commits."""
    transaction.on_commit(lambda: rematch_waitlist.enqueue())


def schedule_changed(sender: Any, **kwargs: Any) -> None:
    """A therapist's working hours or session types changed: while anyone waits, match the
    waitlist again once the change commits."""
    if CareRequest.objects.filter(status=CareRequest.Status.WAITLISTED).exists():
        rematch_soon()


# --- The client's choice ------------------------------------------------------------------------


def choose(
    request: CareRequest,
    therapist_ids: Sequence[int],
    *,
    actor: User,
    http_request: HttpRequest | None = None,
) -> Offer:
    """The client's choice of up to three suggested therapists, in order; the first gets the
    offer. ValidationError when the request is not choosing or the choice is not a suggestion."""
    with transaction.atomic():
        request = CareRequest.objects.select_for_update().get(pk=request.pk)
        if actor.pk != request.client_id:
            raise PermissionDenied("only the client chooses")
        if request.status != CareRequest.Status.CHOOSING:
            raise ValidationError(_("This request is no longer waiting for your choice."))
        chosen = list(dict.fromkeys(therapist_ids))
        if not chosen:
            raise ValidationError(_("Choose a therapist, or ask the practice to choose for you."))
        if len(chosen) > rules.MAX_SUGGESTIONS or not set(chosen) <= set(request.suggested_ids()):
            raise ValidationError(_("Choose among the therapists suggested to you."))
        request.choices = chosen
        request.save(update_fields=["choices"])
        record(
            Action.THERAPIST_CHOSEN,
            actor=actor,
            request=http_request,
            obj=request,
            client=request.client,
            choices=chosen,
        )
        offer = send_next_offer(request)
    if offer is None:  # pragma: no cover - a fresh choice always has a first therapist
        raise ValidationError(_("Choose among the therapists suggested to you."))
    return offer


def ask_practice(
    request: CareRequest, *, actor: User, http_request: HttpRequest | None = None
) -> None:
    """The client would rather the practice chose their therapist."""
    with transaction.atomic():
        request = CareRequest.objects.select_for_update().get(pk=request.pk)
        if actor.pk != request.client_id:
            raise PermissionDenied("only the client asks")
        if request.status not in {CareRequest.Status.CHOOSING, CareRequest.Status.WAITLISTED}:
            raise ValidationError(_("This request is no longer waiting for your choice."))
        set_status(request, CareRequest.Status.PRACTICE)
        record(
            Action.THERAPIST_CHOSEN,
            actor=actor,
            request=http_request,
            obj=request,
            client=request.client,
            choices="practice",
        )
        notifications.tell_admins(notifications.WAITING, f"practice:{request.pk}")


def answered_by_admin() -> bool:
    return Practice.get().offers_answered_by == "admin"


def send_next_offer(request: CareRequest, *, now: datetime | None = None) -> Offer | None:
    """Inside the caller's transaction (``request`` locked): offer the request to the client's
    next choice not yet asked; with none left, the practice chooses. None then."""
    now = now or timezone.now()
    asked = set(request.offers.values_list("therapist_id", flat=True))
    remaining = [pk for pk in request.choices if pk not in asked]
    for rank, therapist_id in enumerate(request.choices, start=1):
        if therapist_id not in remaining:
            continue
        therapist = User.objects.filter(
            pk=therapist_id, role=Role.THERAPIST, is_active=True
        ).first()
        if therapist is None:
            continue
        return _offer(request, therapist, rank=rank, now=now)
    set_status(request, CareRequest.Status.PRACTICE)
    notifications.tell_admins(notifications.WAITING, f"practice:{request.pk}:{len(asked)}")
    return None


def _offer(request: CareRequest, therapist: User, *, rank: int, now: datetime) -> Offer:
    hours = Practice.get().offer_answer_hours
    offer = Offer.objects.create(
        request=request,
        therapist=therapist,
        rank=rank,
        expires_at=now + timedelta(hours=hours),
    )
    set_status(request, CareRequest.Status.OFFERED)
    if answered_by_admin():
        notifications.tell_admins(notifications.WAITING, f"offer:{offer.pk}")
    else:
        notifications.tell(therapist, notifications.WAITING, f"offer:{offer.pk}")
    return offer


def practice_chooses(
    request: CareRequest,
    therapist: User,
    *,
    actor: User,
    http_request: HttpRequest | None = None,
) -> Offer:
    """An admin puts the request to ``therapist`` (any pending offer is withdrawn). When admins
    answer offers, the admin's choice is the acceptance: care starts at once."""
    if not actor.is_practice_admin:
        raise PermissionDenied("only admins choose for the practice")
    if not therapist.is_therapist or not therapist.is_active:
        raise ValidationError(_("Choose an active therapist."))
    with transaction.atomic():
        request = CareRequest.objects.select_for_update().get(pk=request.pk)
        if request.status not in OPEN_STATUSES or request.status == CareRequest.Status.INTAKE:
            raise ValidationError(_("This request is not waiting for a therapist."))
        request.offers.filter(status=Offer.Status.PENDING).update(
            status=Offer.Status.WITHDRAWN, answered_at=timezone.now(), answered_by=actor
        )
        offer = _offer(request, therapist, rank=0, now=timezone.now())
        record(
            Action.THERAPIST_CHOSEN,
            actor=actor,
            request=http_request,
            obj=request,
            client=request.client,
            choices=[therapist.pk],
        )
        if answered_by_admin():
            accept(offer, actor=actor, http_request=http_request)
    return offer


# --- Answering ----------------------------------------------------------------------------------


def may_answer(user: User, offer: Offer) -> bool:
    """The therapist asked answers, or an admin when the practice says admins answer."""
    if not user.is_active:
        return False
    if answered_by_admin():
        return user.is_practice_admin
    return user.pk == offer.therapist_id


def _locked_pending(offer: Offer, actor: User) -> Offer:
    offer = Offer.objects.select_for_update().select_related("request").get(pk=offer.pk)
    if not may_answer(actor, offer):
        raise PermissionDenied("not this person's offer to answer")
    if offer.status != Offer.Status.PENDING:
        raise ValidationError(_("This request was already answered or has passed on."))
    return offer


def accept(
    offer: Offer, *, actor: User, http_request: HttpRequest | None = None
) -> CareRelationship:
    """Accept: the care relationship starts, the request is matched, the client is told."""
    with transaction.atomic():
        offer = _locked_pending(offer, actor)
        request = (
            CareRequest.objects.select_for_update()
            .select_related("client")
            .get(pk=offer.request_id)
        )
        relationship = start_care(
            offer.therapist, request.client, actor=actor, request=http_request
        )
        offer.status = Offer.Status.ACCEPTED
        offer.answered_at = timezone.now()
        offer.answered_by = actor
        offer.save(update_fields=["status", "answered_at", "answered_by"])
        request.choices = [offer.therapist_id]
        request.save(update_fields=["choices"])
        set_status(request, CareRequest.Status.MATCHED)
        _hand_over(request, to=offer.therapist, http_request=http_request)
        record(
            Action.OFFER_ANSWERED,
            actor=actor,
            request=http_request,
            obj=offer,
            client=request.client,
            answer="accepted",
        )
        notifications.tell(request.client, notifications.CLIENT_NEWS, f"accepted:{offer.pk}")
    return relationship


def _hand_over(request: CareRequest, *, to: User, http_request: HttpRequest | None) -> None:
    """A request opened by a re-match with a handover: care with the therapist the client
    asked to leave ends now that ``to`` has accepted, and their sessions still to come are
    cancelled, in the name of the admin who chose the handover."""
    rematch = (
        RematchRequest.objects.filter(care_request=request, hand_over=True)
        .select_related("therapist", "handled_by", "client")
        .first()
    )
    if rematch is None or rematch.handled_by is None or rematch.therapist_id == to.pk:
        return
    decided_by, left = rematch.handled_by, rematch.therapist
    ended = end_care_for_handover(left, rematch.client, decided_by=decided_by, request=http_request)
    if ended is not None:
        cancel_for_handover(left, rematch.client, actor=decided_by, request=http_request)


def decline(
    offer: Offer, *, actor: User, reason: str = "", http_request: HttpRequest | None = None
) -> Offer | None:
    """Decline (the reason stays with the practice): the request passes to the client's next
    choice, or to the practice. Returns the next offer, if any."""
    with transaction.atomic():
        offer = _locked_pending(offer, actor)
        request = CareRequest.objects.select_for_update().get(pk=offer.request_id)
        offer.status = Offer.Status.DECLINED
        offer.answered_at = timezone.now()
        offer.answered_by = actor
        offer.decline_reason = reason.strip()
        offer.save(update_fields=["status", "answered_at", "answered_by", "decline_reason"])
        record(
            Action.OFFER_ANSWERED,
            actor=actor,
            request=http_request,
            obj=offer,
            client=request.client,
            answer="declined",
        )
        return send_next_offer(request)


def expire_overdue(now: datetime | None = None) -> int:
    """The worker's sweep: offers past their answer limit expire and the request passes on."""
    now = now or timezone.now()
    expired = 0
    for offer_id in list(
        Offer.objects.filter(status=Offer.Status.PENDING, expires_at__lte=now).values_list(
            "pk", flat=True
        )
    ):
        with transaction.atomic():
            offer = (
                Offer.objects.select_for_update()
                .filter(pk=offer_id, status=Offer.Status.PENDING, expires_at__lte=now)
                .first()
            )
            if offer is None:
                continue
            request = CareRequest.objects.select_for_update().get(pk=offer.request_id)
            offer.status = Offer.Status.EXPIRED
            offer.answered_at = now
            offer.save(update_fields=["status", "answered_at"])
            send_next_offer(request, now=now)
            expired += 1
    return expired


# --- What a therapist may read before accepting -------------------------------------------------


@dataclass(frozen=True)
class RequestSummary:
    """Everything a therapist sees of a client before accepting, and nothing more."""

    first_name: str
    concerns: list[str]
    concerns_text: str
    screens: list[ScreenBand]
    risk: bool
    modalities: list[str]
    language: str
    availability: list[dict[str, Any]]
    time_zone: str
    approaches: list[str]
    payment_route: str
    insurer_name: str
    region: str


def first_name_of(client: User) -> str:
    """The name the client asked to be called, else the first word of their name."""
    preferred = (
        ClientProfile.objects.filter(client=client).values_list("preferred_name", flat=True).first()
        or ""
    )
    return preferred.strip() or (client.full_name.split() or [""])[0]


def summary_of(request: CareRequest) -> RequestSummary:
    screens, risk = latest_screens(request.client)
    return RequestSummary(
        first_name=first_name_of(request.client),
        concerns=list(request.concerns),
        concerns_text=request.concerns_text,
        screens=screens,
        risk=risk,
        modalities=list(request.modalities),
        language=request.language,
        availability=list(request.availability),
        time_zone=request.time_zone,
        approaches=list(request.approaches),
        payment_route=request.payment_route,
        insurer_name=request.insurer_name,
        region=request.region,
    )


# --- Re-matching --------------------------------------------------------------------------------


def ask_for_rematch(
    client: User, *, reason: str = "", http_request: HttpRequest | None = None
) -> RematchRequest:
    """A client in care asks the practice for a different therapist. Only admins are told: the
    current therapist hears nothing until the practice acts."""
    therapist = therapists_of(client).order_by("pk").first()
    if therapist is None:
        raise ValidationError(_("You are not working with a therapist yet."))
    with transaction.atomic():
        if RematchRequest.objects.filter(client=client, handled_at__isnull=True).exists():
            raise ValidationError(_("Your request is already with the practice."))
        rematch = RematchRequest.objects.create(
            client=client, therapist=therapist, reason=reason.strip()
        )
        record(Action.REMATCH_REQUESTED, actor=client, request=http_request, obj=rematch)
        notifications.tell_admins(notifications.WAITING, f"rematch:{rematch.pk}")
    return rematch


def handle_rematch(
    rematch: RematchRequest,
    *,
    actor: User,
    hand_over: bool = True,
    http_request: HttpRequest | None = None,
) -> CareRequest | None:
    """The practice acts on a re-match request: a new request, like the client's last one,
    goes through matching (the current therapist is never suggested). With ``hand_over``, care
    with the current therapist ends when a new therapist accepts (``accept``); without it, both
    go on until someone ends one (a handover with an overlap is a clinical choice)."""
    if not actor.is_practice_admin:
        raise PermissionDenied("only admins handle re-match requests")
    with transaction.atomic():
        rematch = RematchRequest.objects.select_for_update().get(pk=rematch.pk)
        if rematch.handled_at is not None:
            raise ValidationError(_("This request was already handled."))
        last = latest_request_of(rematch.client)
        new: CareRequest | None = None
        if last is not None and last.status not in OPEN_STATUSES:
            new = open_request(
                rematch.client,
                region=last.region,
                language=last.language,
                modalities=last.modalities,
                time_zone=last.time_zone,
                concerns=last.concerns,
                concerns_text=last.concerns_text,
                approaches=last.approaches,
                availability=last.availability,
                payment_route=last.payment_route,
                insurer_name=last.insurer_name,
                populations=last.populations,
            )
            ready_for_matching(new)
            notifications.tell(rematch.client, notifications.CLIENT_NEWS, f"rematch:{rematch.pk}")
        rematch.handled_at = timezone.now()
        rematch.handled_by = actor
        rematch.care_request = new
        rematch.hand_over = hand_over
        rematch.save(update_fields=["handled_at", "handled_by", "care_request", "hand_over"])
        record(
            Action.REMATCH_HANDLED,
            actor=actor,
            request=http_request,
            obj=rematch,
            client=rematch.client,
            hand_over=hand_over,
        )
    return new


# --- Therapist profiles -------------------------------------------------------------------------


def profile_of(therapist: User) -> TherapistProfile:
    profile, _created = TherapistProfile.objects.get_or_create(therapist=therapist)
    return profile


def save_profile(
    profile: TherapistProfile,
    *,
    actor: User,
    photo: bytes | None = None,
    remove_photo: bool = False,
    http_request: HttpRequest | None = None,
) -> None:
    """Save an edited profile (and its re-encoded photo), then match the waitlist again."""
    if not (actor.is_practice_admin or actor.pk == profile.therapist_id):
        raise PermissionDenied("a therapist edits their own profile")
    with transaction.atomic():
        if photo is not None:
            profile.photo = photo
        elif remove_photo:
            profile.photo = None
        profile.save()
        record(
            Action.THERAPIST_PROFILE_CHANGED,
            actor=actor,
            request=http_request,
            obj=profile,
            therapist=profile.therapist_id,
        )
        rematch_soon()


# --- The first session --------------------------------------------------------------------------


def first_session_type(therapist: User) -> SessionType | None:
    """The therapist's intake session type (billed as a diagnostic evaluation, 90791), offered
    for the first session; None when they keep none a new client may book."""
    return intake_session_types(therapist).exclude(offered_to=OfferedTo.RETURNING).first()


def waitlist_groups() -> list[tuple[int, list[str]]]:
    """The waitlist grouped by what nobody offered — the unmet constraints with the client's
    value for each ("speaks Spanish", "is licensed in Texas") — largest group first."""
    groups: dict[tuple[str, ...], int] = {}
    for request in CareRequest.objects.filter(status=CareRequest.Status.WAITLISTED).order_by(
        "created_at", "pk"
    ):
        words = tuple(rules.unmet_words(request.unmet, wish_of(request)))
        groups[words] = groups.get(words, 0) + 1
    return sorted(((count, list(words)) for words, count in groups.items()), key=lambda g: -g[0])


@dataclass(frozen=True)
class Card:
    """The client home page's card: where their request stands and what to do next."""

    status: str
    therapist: User | None
    book_url: str
    may_rematch: bool


def card_for(client: User) -> Card | None:
    latest = latest_request_of(client)
    current = list(therapists_of(client))
    asked = RematchRequest.objects.filter(client=client, handled_at__isnull=True).exists()
    settled = latest is None or latest.status in {
        CareRequest.Status.MATCHED,
        CareRequest.Status.CLOSED,
    }
    may_rematch = bool(current) and not asked and settled
    status = latest.status if latest is not None else ""
    if status == CareRequest.Status.CLOSED:
        status = ""
    therapist = None
    book_url = ""
    if latest is not None and status == CareRequest.Status.MATCHED and latest.choices:
        therapist = next((t for t in current if t.pk == latest.choices[0]), None)
        if (
            therapist is not None
            and not Appointment.objects.filter(client=client, therapist=therapist).exists()
        ):
            intake = first_session_type(therapist)
            book_url = reverse("book") + (f"?type={intake.pk}" if intake is not None else "")
    if not status and not may_rematch:
        return None
    return Card(status, therapist, book_url, may_rematch)
