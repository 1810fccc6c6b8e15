"""Billing pages: a session's line (confirmed with the note), a client's billing and fees, the
practice's fee schedule and billing settings. Views parse and render; ``access`` decides who,
``services`` writes, ``rules`` decides codes."""

from __future__ import annotations

import uuid

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse, QueryDict
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from rapport.accounts.decorators import role_required
from rapport.accounts.models import Role, User
from rapport.billing import access, services
from rapport.billing.forms import (
    BillingSettingsForm,
    ClientFeeForm,
    LineForm,
    ProviderDetailsForm,
    ServiceForm,
    SessionKindForm,
    TherapistFeeForm,
    line_initial,
)
from rapport.billing.models import (
    BillingLine,
    BillingSettings,
    LineItem,
    LineStatus,
    ProviderDetails,
    Service,
    SessionKind,
    SessionTypeBilling,
    TherapistFee,
)
from rapport.scheduling.models import SessionType

STAFF = (Role.THERAPIST, Role.ADMIN, Role.BILLING)
OFFICE = (Role.ADMIN, Role.BILLING)


def _user(request: HttpRequest) -> User:
    return request.user  # type: ignore[return-value]


def _currency() -> str:
    return BillingSettings.get().currency


def _values(form: LineForm) -> services.LineValues:
    data = form.cleaned_data
    return services.LineValues(
        cpt_code=data["cpt_code"],
        add_ons=data["add_ons"],
        modifiers=data["modifiers"],
        place_of_service=data["place_of_service"],
        diagnosis_codes=data["diagnosis_codes"],
        units=data["units"],
        fee=data["fee"],
    )


def _line_form(line: BillingLine, data: QueryDict | None = None) -> LineForm:
    return LineForm(
        data,
        initial=line_initial(line),
        currency=line.currency,
        session=line.item == LineItem.SESSION,
    )


# --- Lists ---------------------------------------------------------------------------------------


@role_required(*STAFF)
@require_http_methods(["GET"])
def billing_home(request: HttpRequest) -> HttpResponse:
    """Lines waiting for someone: proposed (the therapist's) and confirmed (to be billed)."""
    user = _user(request)
    lines = access.waiting_lines(user)
    return render(
        request,
        "billing/home.html",
        {
            "lines": lines[:200],
            "office": access.is_billing_office(user),
        },
    )


@role_required(*STAFF)
@require_http_methods(["GET"])
def client_billing(request: HttpRequest, client_id: int) -> HttpResponse:
    user = _user(request)
    client = access.access_billing(user, client_id, request=request)
    lines = access.lines_of(client).order_by("-date_of_service", "-pk")
    return render(
        request,
        "billing/client.html",
        {
            "client": client,
            "lines": lines,
            "missed": services.missed_appointments(client),
            "fees": access.client_fees_of(client),
            "office": access.is_billing_office(user),
        },
    )


@role_required(*STAFF)
@require_POST
def charge_missed(request: HttpRequest, client_id: int, appointment_id: int) -> HttpResponse:
    user = _user(request)
    client = access.access_billing(user, client_id, request=request, purpose="missed")
    appointment = access.access_missed_appointment(user, client, appointment_id)
    try:
        line = services.propose_missed_session_line(appointment.pk, actor=user, request=request)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        return redirect("client_billing", client.pk)
    messages.success(request, _("The fee line is proposed: confirm it."))
    return redirect("billing_line", line.pk)


# --- One session, one line -----------------------------------------------------------------------


@role_required(*STAFF)
@require_http_methods(["GET", "POST"])
def visit_billing(request: HttpRequest, visit_id: uuid.UUID) -> HttpResponse:
    """The session's line (linked from its note). A POST proposes it when none exists yet."""
    user = _user(request)
    visit = access.access_visit_billing(user, visit_id, request=request)
    if request.method == "POST":
        if not (access.is_billing_office(user) or visit.therapist_id == user.pk):
            raise Http404("No such session.")
        line = services.propose_session_line(visit.pk, actor=user)
        if line is None:
            messages.error(request, _("Only a session that took place and ended is billed."))
            return redirect("visit_billing", visit.uid)
        return redirect("billing_line", line.pk)
    lines = access.lines_of_visit(visit)
    return render(request, "billing/visit.html", {"visit": visit, "lines": lines})


def _line_page(
    request: HttpRequest, line: BillingLine, form: LineForm, *, status: int = 200
) -> HttpResponse:
    user = _user(request)
    may_confirm = (
        line.status in (LineStatus.PROPOSED, LineStatus.CONFIRMED)
        and (access.is_billing_office(user) or line.therapist_id == user.pk)
        and line.kind == "charge"
    )
    return render(
        request,
        "billing/line.html",
        {
            "line": line,
            "form": form,
            "may_confirm": may_confirm,
            "may_correct": access.is_billing_office(user)
            and line.is_locked
            and line.kind == "charge"
            and not line.corrections.filter(kind="credit").exists(),
            "corrections": line.corrections.all().order_by("pk"),
        },
        status=status,
    )


@role_required(*STAFF)
@require_http_methods(["GET", "POST"])
def billing_line(request: HttpRequest, line_id: int) -> HttpResponse:
    """See a line; its therapist (or the billing office) confirms or edits it."""
    user = _user(request)
    if request.method == "GET":
        line = access.access_line(user, line_id, request=request)
        return _line_page(request, line, _line_form(line))
    line = access.access_line(user, line_id, request=request, confirm=True)
    form = _line_form(line, request.POST)
    if form.is_valid():
        try:
            services.confirm_line(line, _values(form), actor=user, request=request)
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            messages.success(request, _("Billing line confirmed."))
            return redirect("billing_line", line.pk)
    line.refresh_from_db()
    return _line_page(request, line, form, status=400)


@role_required(*STAFF)
@require_POST
def void_billing_line(request: HttpRequest, line_id: int) -> HttpResponse:
    user = _user(request)
    line = access.access_line(user, line_id, request=request, confirm=True)
    try:
        services.void_line(line, actor=user, request=request)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        return redirect("billing_line", line.pk)
    messages.success(request, _("Billing line withdrawn."))
    return redirect("client_billing", line.client_id)


@role_required(*OFFICE)
@require_http_methods(["GET", "POST"])
def correct_billing_line(request: HttpRequest, line_id: int) -> HttpResponse:
    """A billed line's correction: a credit, and (unless "credit only") a corrected charge."""
    user = _user(request)
    line = access.access_line(user, line_id, request=request, correct=True)
    form = _line_form(line, request.POST if request.method == "POST" else None)
    if request.method == "POST":
        credit_only = request.POST.get("action") == "credit"
        if credit_only or form.is_valid():
            try:
                services.correct_line(
                    line, None if credit_only else _values(form), actor=user, request=request
                )
            except ValidationError as exc:
                form.add_error(None, exc)
            else:
                messages.success(request, _("The line is credited."))
                return redirect("client_billing", line.client_id)
    return render(
        request,
        "billing/correct.html",
        {"line": line, "form": form},
        status=400 if request.method == "POST" else 200,
    )


# --- A client's fees -----------------------------------------------------------------------------


@role_required(*STAFF)
@require_http_methods(["GET", "POST"])
def client_fees(request: HttpRequest, client_id: int) -> HttpResponse:
    user = _user(request)
    client = access.access_billing(user, client_id, request=request, purpose="fees")
    active = list(Service.objects.filter(is_active=True))
    currency = _currency()
    form = ClientFeeForm(
        request.POST if request.method == "POST" else None, currency=currency, services=active
    )
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        service = next((s for s in active if s.pk == data["service"]), None)
        services.set_client_fee(
            client,
            service=service,
            fee=data["fee"],
            percent=data["percent"],
            reason=data["reason"],
            actor=user,
            request=request,
        )
        messages.success(request, _("Client fee saved."))
        return redirect("client_fees", client.pk)
    return render(
        request,
        "billing/client_fees.html",
        {
            "client": client,
            "form": form,
            "fees": access.client_fees_of(client),
            "currency": currency,
        },
        status=400 if form.is_bound else 200,
    )


@role_required(*STAFF)
@require_POST
def remove_client_fee(request: HttpRequest, client_id: int, fee_id: int) -> HttpResponse:
    user = _user(request)
    client = access.access_billing(user, client_id, request=request, purpose="fees")
    fee = access.access_client_fee(user, client, fee_id)
    services.remove_client_fee(fee, actor=user, request=request)
    messages.success(request, _("Client fee removed: the usual fee applies."))
    return redirect("client_fees", client.pk)


# --- The practice: fee schedule, settings, providers ---------------------------------------------


@role_required(*OFFICE)
@require_http_methods(["GET", "POST"])
def fee_schedule(request: HttpRequest) -> HttpResponse:
    user = _user(request)
    form = ServiceForm(request.POST if request.method == "POST" else None, currency=_currency())
    if request.method == "POST" and form.is_valid():
        services.save_service(form.save(commit=False), actor=user, request=request)
        messages.success(request, _("Service added."))
        return redirect("fee_schedule")
    return render(
        request,
        "billing/fee_schedule.html",
        {"services": Service.objects.all(), "form": form, "currency": _currency()},
        status=400 if form.is_bound else 200,
    )


@role_required(*OFFICE)
@require_http_methods(["GET", "POST"])
def edit_service(request: HttpRequest, service_id: int) -> HttpResponse:
    user = _user(request)
    service = Service.objects.filter(pk=service_id).first()
    if service is None:
        raise Http404("No such service.")
    currency = _currency()
    therapists = list(User.objects.filter(role=Role.THERAPIST, is_active=True))
    form = ServiceForm(instance=service, currency=currency)
    fee_form = TherapistFeeForm(currency=currency, therapists=therapists, prefix="own")
    if request.method == "POST":
        if request.POST.get("action") == "therapist_fee":
            fee_form = TherapistFeeForm(
                request.POST, currency=currency, therapists=therapists, prefix="own"
            )
            if fee_form.is_valid():
                therapist = next(
                    t for t in therapists if t.pk == fee_form.cleaned_data["therapist"]
                )
                services.set_therapist_fee(
                    therapist, service, fee_form.cleaned_data["fee"], actor=user, request=request
                )
                messages.success(request, _("Therapist's fee saved."))
                return redirect("edit_service", service.pk)
        else:
            form = ServiceForm(request.POST, instance=service, currency=currency)
            if form.is_valid():
                services.save_service(form.save(commit=False), actor=user, request=request)
                messages.success(request, _("Service saved."))
                return redirect("fee_schedule")
    return render(
        request,
        "billing/service.html",
        {
            "service": service,
            "form": form,
            "fee_form": fee_form,
            "overrides": TherapistFee.objects.filter(service=service).select_related("therapist"),
            "currency": currency,
        },
        status=400 if request.method == "POST" else 200,
    )


@role_required(*OFFICE)
@require_http_methods(["GET", "POST"])
def billing_settings(request: HttpRequest) -> HttpResponse:
    user = _user(request)
    settings = BillingSettings.get()
    form = BillingSettingsForm(
        request.POST if request.method == "POST" else None, instance=settings
    )
    if request.method == "POST" and form.is_valid():
        services.save_billing_settings(form.save(commit=False), actor=user, request=request)
        messages.success(request, _("Billing settings saved."))
        return redirect("billing_settings")
    kinds = {row.session_type_id: row.kind for row in SessionTypeBilling.objects.all()}
    return render(
        request,
        "billing/settings.html",
        {
            "form": form,
            "therapists": User.objects.filter(role=Role.THERAPIST, is_active=True),
            "session_types": [
                (t, kinds.get(t.pk, SessionKind.PSYCHOTHERAPY))
                for t in SessionType.objects.select_related("therapist").order_by(
                    "therapist__full_name", "name"
                )
            ],
            "kind_choices": SessionKind.choices,
        },
        status=400 if form.is_bound else 200,
    )


@role_required(*OFFICE)
@require_POST
def session_type_kind(request: HttpRequest, session_type_id: int) -> HttpResponse:
    user = _user(request)
    if not SessionType.objects.filter(pk=session_type_id).exists():
        raise Http404("No such session type.")
    form = SessionKindForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Choose how this session type bills."))
        return redirect("billing_settings")
    services.set_session_kind(
        session_type_id, form.cleaned_data["kind"], actor=user, request=request
    )
    messages.success(request, _("Session type saved."))
    return redirect("billing_settings")


@role_required(*OFFICE)
@require_http_methods(["GET", "POST"])
def provider_details(request: HttpRequest, therapist_id: int) -> HttpResponse:
    user = _user(request)
    therapist = User.objects.filter(pk=therapist_id, role=Role.THERAPIST).first()
    if therapist is None:
        raise Http404("No such therapist.")
    details = ProviderDetails.objects.filter(therapist=therapist).first() or ProviderDetails(
        therapist=therapist
    )
    form = ProviderDetailsForm(request.POST if request.method == "POST" else None, instance=details)
    if request.method == "POST" and form.is_valid():
        services.save_provider_details(form.save(commit=False), actor=user, request=request)
        messages.success(request, _("Provider details saved."))
        return redirect("billing_settings")
    return render(
        request,
        "billing/provider.html",
        {"therapist": therapist, "form": form},
        status=400 if form.is_bound else 200,
    )
