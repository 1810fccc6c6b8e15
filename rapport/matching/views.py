"""Pages of matching: therapist profiles, the client's suggestions and choice, the offers a
therapist (or admin) answers, the practice's waitlist and requests, asking for a re-match."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from rapport.accounts.decorators import role_required
from rapport.accounts.models import Role, User
from rapport.matching import rules, services
from rapport.matching.access import (
    access_offer,
    access_rematch,
    access_request_for_admin,
    editable_profile,
    open_rematches,
    own_request,
    pending_offers,
    readable_profile,
)
from rapport.matching.forms import (
    ChoiceForm,
    DeclineForm,
    PracticeChoiceForm,
    RematchForm,
    TherapistProfileForm,
)
from rapport.matching.models import CareRequest
from rapport.matching.vocab import APPROACHES, CONCERNS, POPULATIONS, label, region_name
from rapport.scheduling.models import Modality, Weekday


def _user(request: HttpRequest) -> User:
    user: User = request.user  # type: ignore[assignment]
    return user


def _profile_words(profile: object) -> dict[str, list[str]]:
    """A profile's keys as words in the reader's language."""
    return {
        "approaches": [label(APPROACHES, k) for k in getattr(profile, "approaches", [])],
        "specialties": [label(CONCERNS, k) for k in getattr(profile, "specialties", [])],
        "populations": [label(POPULATIONS, k) for k in getattr(profile, "populations", [])],
        "languages": [rules.language_name(k) for k in getattr(profile, "languages", [])],
        "modalities": [label(Modality.choices, k) for k in getattr(profile, "modalities", [])],
        "regions": [region_name(k) for k in getattr(profile, "licensed_regions", [])],
    }


@role_required(Role.THERAPIST, Role.ADMIN)
@require_http_methods(["GET", "POST"])
def edit_profile(request: HttpRequest, therapist_id: int) -> HttpResponse:
    user = _user(request)
    profile = editable_profile(user, therapist_id)
    form = TherapistProfileForm(request.POST or None, request.FILES or None, instance=profile)
    if request.method == "POST" and form.is_valid():
        services.save_profile(
            form.save(commit=False),
            actor=user,
            photo=form.photo_bytes,
            remove_photo=form.cleaned_data["remove_photo"],
            http_request=request,
        )
        messages.success(request, _("Profile saved."))
        return redirect("edit_therapist_profile", therapist_id=therapist_id)
    return render(
        request,
        "matching/profile_edit.html",
        {"form": form, "profile": profile, "therapist": profile.therapist},
    )


@login_required
@require_http_methods(["GET"])
def therapist_profile(request: HttpRequest, therapist_id: int) -> HttpResponse:
    profile = readable_profile(_user(request), therapist_id)
    return render(
        request,
        "matching/profile.html",
        {"profile": profile, "words": _profile_words(profile), "has_photo": bool(profile.photo)},
    )


@login_required
@require_http_methods(["GET"])
def therapist_photo(request: HttpRequest, therapist_id: int) -> HttpResponse:
    profile = readable_profile(_user(request), therapist_id)
    if not profile.photo:
        raise Http404("No photo.")
    response = HttpResponse(bytes(profile.photo), content_type="image/jpeg")
    response["Cache-Control"] = "private, max-age=300"
    response["Content-Disposition"] = "inline"
    return response


def _suggestions(care_request: CareRequest) -> list[dict[str, object]]:
    therapists = {
        t.pk: t
        for t in User.objects.filter(pk__in=care_request.suggested_ids()).select_related(
            "therapist_profile"
        )
    }
    shown = []
    for row in care_request.suggestions:
        therapist = therapists.get(int(row["therapist"]))
        if therapist is None:
            continue
        profile = therapist.therapist_profile
        shown.append(
            {
                "therapist": therapist,
                "profile": profile,
                "has_photo": profile.photo is not None,
                "reasons": rules.explain(row["facts"]),
            }
        )
    return shown


@role_required(Role.CLIENT)
@require_http_methods(["GET", "POST"])
def my_request(request: HttpRequest) -> HttpResponse:
    user = _user(request)
    care_request = own_request(user)
    if care_request is None:
        return render(request, "matching/my_request.html", {"care_request": None})
    suggestions = _suggestions(care_request)
    form = ChoiceForm(
        request.POST if request.method == "POST" else None,
        therapists=[s["therapist"] for s in suggestions],  # type: ignore[misc]
    )
    if request.method == "POST":
        try:
            if request.POST.get("action") == "practice":
                services.ask_practice(care_request, actor=user, http_request=request)
                messages.success(request, _("The practice will choose a therapist for you."))
                return redirect("my_care_request")
            if form.is_valid():
                services.choose(care_request, form.chosen(), actor=user, http_request=request)
                messages.success(
                    request, _("Your choice was sent. We will let you know of the answer.")
                )
                return redirect("my_care_request")
        except ValidationError as exc:
            form.add_error(None, exc)
    wish = services.wish_of(care_request)
    return render(
        request,
        "matching/my_request.html",
        {
            "care_request": care_request,
            "suggestions": suggestions,
            "form": form,
            "unmet": rules.unmet_words(care_request.unmet, wish),
            "hints": rules.widening_hints(care_request.unmet),
        },
    )


@role_required(Role.THERAPIST, Role.ADMIN)
@require_http_methods(["GET"])
def offers(request: HttpRequest) -> HttpResponse:
    return render(request, "matching/offers.html", {"offers": list(pending_offers(_user(request)))})


def _summary_words(summary: services.RequestSummary) -> dict[str, object]:
    return {
        "concerns": [label(CONCERNS, k) for k in summary.concerns],
        "approaches": [label(APPROACHES, k) for k in summary.approaches],
        "modalities": [label(Modality.choices, k) for k in summary.modalities],
        "language": rules.language_name(summary.language),
        "region": region_name(summary.region),
        "availability": [
            (str(Weekday(w.weekday).label), w.start, w.end)
            for w in rules.read_windows(summary.availability)
        ],
        "payment": label(CareRequest.Payment.choices, summary.payment_route),
    }


@role_required(Role.THERAPIST, Role.ADMIN)
@require_http_methods(["GET", "POST"])
def offer_detail(request: HttpRequest, offer_id: int) -> HttpResponse:
    """The pre-acceptance view: only what the request shows (audited by ``access_offer``)."""
    user = _user(request)
    offer = access_offer(user, offer_id, request=request)
    if request.method == "POST":
        try:
            relationship = services.accept(offer, actor=user, http_request=request)
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
            return redirect("care_offers")
        messages.success(request, _("Accepted. The client can now book a first session."))
        if user.pk == relationship.therapist_id:
            return redirect("client_record", client_id=relationship.client_id)
        return redirect("care_offers")
    summary = services.summary_of(offer.request)
    return render(
        request,
        "matching/offer.html",
        {
            "offer": offer,
            "summary": summary,
            "words": _summary_words(summary),
            "decline_form": DeclineForm(),
        },
    )


@role_required(Role.THERAPIST, Role.ADMIN)
@require_http_methods(["POST"])
def decline_offer(request: HttpRequest, offer_id: int) -> HttpResponse:
    user = _user(request)
    offer = access_offer(user, offer_id, request=request)
    form = DeclineForm(request.POST)
    if not form.is_valid():
        messages.error(request, " ".join(str(e) for errors in form.errors.values() for e in errors))
        return redirect("care_offer", offer_id=offer.pk)
    try:
        services.decline(
            offer, actor=user, reason=form.cleaned_data["reason"], http_request=request
        )
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, _("Declined. The request passes to the client's next choice."))
    return redirect("care_offers")


@role_required(Role.ADMIN)
@require_http_methods(["GET", "POST"])
def care_requests(request: HttpRequest) -> HttpResponse:
    """The practice's view: requests to choose for, the waitlist by unmet need, re-matches."""
    user = _user(request)
    if request.method == "POST":
        moved = services.rematch_waitlisted(actor=user)
        messages.success(
            request,
            _("Matched the waitlist again: %(count)d now have suggestions.") % {"count": moved},
        )
        return redirect("care_requests")
    open_requests = CareRequest.objects.filter(
        status__in=[
            CareRequest.Status.PRACTICE,
            CareRequest.Status.OFFERED,
            CareRequest.Status.CHOOSING,
            CareRequest.Status.WAITLISTED,
        ]
    ).order_by("status_changed_at", "pk")
    return render(
        request,
        "matching/care_requests.html",
        {
            "groups": services.waitlist_groups(),
            "requests": list(open_requests),
            "rematches": list(open_rematches(user)),
            "therapists": list(
                User.objects.filter(role=Role.THERAPIST, is_active=True).order_by("full_name")
            ),
        },
    )


@role_required(Role.ADMIN)
@require_http_methods(["GET", "POST"])
def care_request_detail(request: HttpRequest, request_id: int) -> HttpResponse:
    user = _user(request)
    care_request = access_request_for_admin(user, request_id, request=request)
    ranking = services.rank_request(care_request, limit=10)
    ranked = [
        (v.candidate.therapist_id, v.candidate.name, rules.explain(v.facts))
        for v in ranking.suggestions
    ]
    people = {t.pk: t for t in User.objects.filter(role=Role.THERAPIST, is_active=True)}
    listed = [(people[pk], name) for pk, name, _reasons in ranked if pk in people]
    listed += [
        (t, t.full_name + " " + _("(does not fit every need)"))
        for t in sorted(people.values(), key=lambda t: (t.full_name, t.pk))
        if t.pk not in {pk for pk, _n, _r in ranked}
    ]
    form = PracticeChoiceForm(request.POST or None, therapists=listed)
    if request.method == "POST" and form.is_valid():
        try:
            services.practice_chooses(
                care_request, form.therapist(), actor=user, http_request=request
            )
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            messages.success(request, _("The request was put to the therapist you chose."))
            return redirect("care_requests")
    summary = services.summary_of(care_request)
    return render(
        request,
        "matching/care_request.html",
        {
            "care_request": care_request,
            "summary": summary,
            "words": _summary_words(summary),
            "ranked": ranked,
            "unmet": rules.unmet_words(ranking.unmet, services.wish_of(care_request)),
            "offers": list(care_request.offers.select_related("therapist")),
            "form": form,
        },
    )


@role_required(Role.CLIENT)
@require_http_methods(["GET", "POST"])
def ask_rematch(request: HttpRequest) -> HttpResponse:
    user = _user(request)
    form = RematchForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.ask_for_rematch(user, reason=form.cleaned_data["reason"], http_request=request)
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            messages.success(
                request, _("Your request was sent to the practice. They will contact you.")
            )
            return redirect("home")
    return render(request, "matching/rematch.html", {"form": form})


@role_required(Role.ADMIN)
@require_http_methods(["POST"])
def handle_rematch(request: HttpRequest, rematch_id: int) -> HttpResponse:
    user = _user(request)
    rematch = access_rematch(user, rematch_id)
    # An unticked box sends nothing: no handover unless asked for.
    hand_over = request.POST.get("hand_over") == "1"
    try:
        new = services.handle_rematch(
            rematch, actor=user, hand_over=hand_over, http_request=request
        )
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        if new is None:
            messages.info(
                request,
                _("Marked as handled. The client had no earlier request to match again from."),
            )
        elif hand_over:
            messages.success(
                request,
                _(
                    "A new request was matched for the client. Care with %(therapist)s ends "
                    "when a new therapist accepts."
                )
                % {"therapist": rematch.therapist.full_name},
            )
        else:
            messages.success(request, _("A new request was matched for the client."))
    return redirect("care_requests")
