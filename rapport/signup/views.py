"""A new client's screen, a guardian's consent, and the practice's intake queue with the safety
alerts of clients no therapist has accepted yet. Thin: the writes are in ``services``."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from rapport.accounts.decorators import role_required
from rapport.accounts.models import Practice, Role, User
from rapport.crisis.resources import resources_for
from rapport.measures.forms import QuestionnaireForm
from rapport.measures.instruments import definition_of
from rapport.signup import services
from rapport.signup.access import (
    GuardianLinkExpired,
    access_intake_alert,
    consent_by_token,
    guardian_consent_for_admin,
    intake_queue,
    own_guardian_consent,
)
from rapport.signup.forms import AcknowledgeForm, GuardianConsentForm, GuardianResendForm


def _screen_forms(request: HttpRequest) -> list[QuestionnaireForm]:
    language = get_language() or "en"
    forms = []
    for instrument in services.screen_instruments():
        definition = definition_of(instrument)
        definition = definition.in_language(definition.language_for(language))
        forms.append(QuestionnaireForm(definition, request.POST or None, prefix=instrument.key))
    return forms


@role_required(Role.CLIENT)
@require_http_methods(["GET", "POST"])
def screen(request: HttpRequest) -> HttpResponse:
    """The PHQ-9 and GAD-7 on one page. Every question must be answered; a risk answer shows
    crisis help at once and tells the practice."""
    user: User = request.user  # type: ignore[assignment]
    step = services.next_step(user)
    if step is None or step.key != "screen":
        return redirect("home")
    forms = _screen_forms(request)
    status = 200
    if request.method == "POST":
        for form in forms:
            form.is_valid()
        answers = {form.prefix or "": form.answers() for form in forms}
        try:
            result = services.submit_screen(
                user, answers, request=request, language=get_language() or "en"
            )
        except services.SignupError as exc:
            if getattr(exc, "code", None) == "done":
                return redirect("home")
            for form in forms:
                form.flag_unanswered(_("Choose an answer to this question."))
            status = 400
        else:
            if result.alert is not None or result.risk:
                return render(
                    request,
                    "signup/screen_sent.html",
                    {"risk": True, "crisis_help": resources_for(user)},
                )
            messages.success(request, _("Thank you. Your answers are sent."))
            return redirect("home")
    return render(request, "signup/screen.html", {"forms": forms}, status=status)


@require_http_methods(["GET", "POST"])
def guardian_consent(request: HttpRequest, token: str) -> HttpResponse:
    """The page a guardian's email links to (no account needed): who asks, and the consent."""
    try:
        consent = consent_by_token(token)
    except GuardianLinkExpired:
        return render(
            request,
            "signup/guardian_expired.html",
            {"practice": Practice.get(), "days": services.GUARDIAN_LINK_DAYS},
            status=410,
        )
    form = GuardianConsentForm(request.POST or None)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                services.give_guardian_consent(
                    consent, form.cleaned_data["signed_name"], request=request
                )
            except services.SignupError as exc:
                form.add_error("signed_name", exc)
            else:
                return render(request, "signup/guardian_done.html", {"practice": Practice.get()})
        status = 400
    context: dict[str, Any] = {
        "form": form,
        "first_name": services.first_name(consent.client),
        "guardian_name": consent.guardian_name,
        "message": consent.message,
        "practice": Practice.get(),
    }
    return render(request, "signup/guardian_consent.html", context, status=status)


@role_required(Role.CLIENT)
@require_http_methods(["GET", "POST"])
def guardian(request: HttpRequest) -> HttpResponse:
    """A minor's page about their guardian's consent: where the link went, and a new link,
    to a corrected name or address if need be."""
    user: User = request.user  # type: ignore[assignment]
    consent = own_guardian_consent(user)
    form = GuardianResendForm(
        request.POST or None,
        initial={"guardian_name": consent.guardian_name, "guardian_email": consent.guardian_email},
    )
    status = 200
    if request.method == "POST" and consent.is_pending:
        if form.is_valid():
            try:
                consent = services.resend_guardian_link(
                    consent,
                    user,
                    guardian_name=form.cleaned_data["guardian_name"],
                    guardian_email=form.cleaned_data["guardian_email"],
                    request=request,
                )
            except services.SignupError as exc:
                form.add_error("guardian_email" if exc.code == "own_address" else None, exc)
            else:
                messages.success(
                    request,
                    _("We sent a new link to %(email)s. The earlier link no longer works.")
                    % {"email": consent.guardian_email},
                )
                return redirect("signup_guardian")
        status = 400
    context = {
        "consent": consent,
        "form": form,
        "expired": consent.is_pending and services.link_expired(consent),
        "days": services.GUARDIAN_LINK_DAYS,
    }
    return render(request, "signup/guardian.html", context, status=status)


@role_required(Role.ADMIN)
@require_http_methods(["POST"])
def guardian_send(request: HttpRequest, consent_id: int) -> HttpResponse:
    """An admin sends a minor's guardian a new link, from the intake queue."""
    user: User = request.user  # type: ignore[assignment]
    consent = guardian_consent_for_admin(user, consent_id)
    try:
        services.resend_guardian_link(consent, user, request=request)
    except services.SignupError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, _("A new link went to the guardian."))
    return redirect("intake_queue")


@role_required(Role.ADMIN)
@require_http_methods(["GET"])
def queue(request: HttpRequest) -> HttpResponse:
    user: User = request.user  # type: ignore[assignment]
    return render(
        request, "signup/intake_queue.html", {"rows": intake_queue(user, request=request)}
    )


@role_required(Role.ADMIN)
@require_http_methods(["GET", "POST"])
def alert(request: HttpRequest, alert_id: int) -> HttpResponse:
    """A new client's safety alert: who, when, what was flagged, and the acknowledgement."""
    user: User = request.user  # type: ignore[assignment]
    found = access_intake_alert(user, alert_id, request=request)
    form = AcknowledgeForm(request.POST or None)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                services.acknowledge(
                    found, user, form.cleaned_data["action_taken"], request=request
                )
            except services.SignupError as exc:
                if getattr(exc, "code", None) != "done":
                    form.add_error("action_taken", exc)
            if not form.errors:
                messages.success(request, _("Acknowledged. The action you took is recorded."))
                return redirect("intake_alert", found.pk)
        status = 400
    flagged = services.flagged_items(found)
    return render(
        request,
        "signup/alert.html",
        {
            "alert": found,
            "flagged": flagged,
            "form": form,
            "crisis_help": resources_for(found.client),
        },
        status=status,
    )
