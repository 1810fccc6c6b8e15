"""The diagnoses page of one client (list, search, record, change) and the practice's frequent
codes. Views parse and render; the rules live in ``services`` and ``icd``."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from rapport.accounts.decorators import role_required
from rapport.accounts.models import Role, User
from rapport.care.access import Reach
from rapport.diagnoses import icd, services
from rapport.diagnoses.access import access_diagnoses, access_diagnosis
from rapport.diagnoses.errors import DiagnosisError
from rapport.diagnoses.forms import ChangeForm, DiagnosisForm, FrequentCodesForm

MAX_QUERY = 100


def _page(
    request: HttpRequest, client: User, how: str, form: DiagnosisForm, *, status: int = 200
) -> HttpResponse:
    query = request.GET.get("q", "")[:MAX_QUERY]
    results = icd.search(query, frequent=services.frequent_codes()) if query.strip() else []
    return render(
        request,
        "diagnoses/client_diagnoses.html",
        {
            "client": client,
            "may_write": how == Reach.CARE,
            "via": how,
            "query": query,
            "results": results,
            "form": form,
            "change_form": ChangeForm(),
            "diagnoses": services.all_diagnoses(client),
        },
        status=status,
    )


@role_required(Role.THERAPIST, Role.ADMIN)
@require_http_methods(["GET", "POST"])
def client_diagnoses(request: HttpRequest, client_id: int) -> HttpResponse:
    user: User = request.user  # type: ignore[assignment]
    write = request.method == "POST"
    client, how = access_diagnoses(user, client_id, request=request, write=write)
    if not write:
        initial = {"code": request.GET["code"][:10]} if "code" in request.GET else None
        return _page(request, client, how, DiagnosisForm(initial=initial))
    form = DiagnosisForm(request.POST)
    if form.is_valid():
        data = form.cleaned_data
        try:
            services.record_diagnosis(
                user,
                client,
                code=data["code"],
                rank=data["rank"],
                onset=data["onset"],
                notes=data["notes"],
                request=request,
            )
        except DiagnosisError as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(request, _("Diagnosis recorded."))
            return redirect("client_diagnoses", client.pk)
    return _page(request, client, how, form, status=400)


@role_required(Role.THERAPIST)
@require_POST
def change_diagnosis(request: HttpRequest, client_id: int, diagnosis_id: int) -> HttpResponse:
    user: User = request.user  # type: ignore[assignment]
    diagnosis = access_diagnosis(user, client_id, diagnosis_id, request=request)
    form = ChangeForm(request.POST)
    if form.is_valid():
        try:
            services.change_diagnosis(
                user,
                diagnosis,
                action=form.cleaned_data["action"],
                resolved_on=form.cleaned_data["resolved_on"],
                request=request,
            )
        except DiagnosisError as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(request, _("Diagnosis changed."))
            return redirect("client_diagnoses", client_id)
    return render(
        request,
        "diagnoses/change.html",
        {"client": diagnosis.client, "diagnosis": diagnosis, "form": form},
        status=400,
    )


@role_required(Role.THERAPIST)
@require_http_methods(["GET"])
def code_search(request: HttpRequest) -> JsonResponse:
    """Type-ahead for the record form: codes and descriptions only, no client data."""
    query = request.GET.get("q", "")[:MAX_QUERY]
    results = icd.search(query, frequent=services.frequent_codes(), limit=15)
    return JsonResponse(
        {"results": [{"code": r.code, "description": r.description} for r in results]}
    )


@role_required(Role.ADMIN)
@require_http_methods(["GET", "POST"])
def frequent_codes(request: HttpRequest) -> HttpResponse:
    user: User = request.user  # type: ignore[assignment]
    form = FrequentCodesForm(
        request.POST or None, initial={"codes": "\n".join(services.frequent_codes())}
    )
    if request.method == "POST" and form.is_valid():
        services.set_frequent_codes(user, form.cleaned_data["codes"], request=request)
        messages.success(request, _("Frequent codes saved."))
        return redirect("diagnosis_frequent_codes")
    return render(
        request,
        "diagnoses/frequent_codes.html",
        {"form": form},
        status=400 if form.is_bound else 200,
    )
