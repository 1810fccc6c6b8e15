"""Treatment-plan pages: the therapist's plan page (current version with goal progress, draft,
versions), editing and finalising a draft, one version, and the client's own plan to read and
sign. Views parse and render; the rules live in ``services`` and ``progress``."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from rapport.accounts.decorators import role_required
from rapport.accounts.models import Role, User
from rapport.care.access import Reach
from rapport.plans import services
from rapport.plans.access import access_plan, access_version, own_plan
from rapport.plans.errors import PlanError
from rapport.plans.forms import DetailsForm, GoalForm, InterventionForm, RemoveForm, SignForm
from rapport.plans.models import PlanVersion
from rapport.plans.progress import version_view


def _view_of(client: User, version: PlanVersion | None) -> Any:
    if version is None:
        return None
    return version_view(
        client, version, services.goals_of(version), services.interventions_of(version)
    )


@role_required(Role.THERAPIST, Role.ADMIN)
@require_http_methods(["GET"])
def client_plan(request: HttpRequest, client_id: int) -> HttpResponse:
    user: User = request.user  # type: ignore[assignment]
    client, how, plan = access_plan(user, client_id, request=request)
    current = services.latest_final(plan)
    return render(
        request,
        "plans/plan.html",
        {
            "client": client,
            "via": how,
            "may_write": how == Reach.CARE,
            "current": _view_of(client, current),
            "signature": services.signature_of(client, current),
            "draft": services.draft_of(plan),
            "versions": services.versions_of(plan),
        },
    )


@role_required(Role.THERAPIST, Role.ADMIN)
@require_http_methods(["GET"])
def plan_version(request: HttpRequest, client_id: int, number: int) -> HttpResponse:
    user: User = request.user  # type: ignore[assignment]
    client, version = access_version(user, client_id, number, request=request)
    return render(
        request,
        "plans/version.html",
        {
            "client": client,
            "view": _view_of(client, version),
            "signature": services.signature_of(client, version),
        },
    )


@role_required(Role.THERAPIST)
@require_POST
def plan_start(request: HttpRequest, client_id: int) -> HttpResponse:
    user: User = request.user  # type: ignore[assignment]
    client, _how, _plan = access_plan(user, client_id, request=request, write=True)
    services.start_draft(user, client, request=request)
    return redirect("plan_draft", client.pk)


def _details_initial(draft: PlanVersion) -> dict[str, Any]:
    fields = ["starts_on", "review_on", "modality", "frequency", "summary"]
    return {name: getattr(draft, name) for name in fields}


@role_required(Role.THERAPIST)
@require_http_methods(["GET", "POST"])
def plan_draft(request: HttpRequest, client_id: int) -> HttpResponse:
    user: User = request.user  # type: ignore[assignment]
    write = request.method == "POST"
    client, _how, plan = access_plan(user, client_id, request=request, write=True)
    draft = services.draft_of(plan)
    if draft is None:
        if write:
            raise Http404("No draft.")
        return redirect("client_plan", client.pk)
    goals = services.goals_of(draft)
    which = request.POST.get("form") if write else None
    # Three forms on one page: each its own id prefix, so no two fields share an id.
    details = DetailsForm(
        request.POST if which == "details" else None,
        initial=_details_initial(draft),
        auto_id="details-%s",
    )
    goal_form = GoalForm(request.POST if which == "goal" else None, auto_id="goal-%s")
    intervention_form = InterventionForm(
        request.POST if which == "intervention" else None, goals=goals, auto_id="intervention-%s"
    )
    if write:
        bound: forms.Form | None = {
            "details": details,
            "goal": goal_form,
            "intervention": intervention_form,
        }.get(which or "")
        if bound is None:
            remove = RemoveForm(request.POST)
            if remove.is_valid():
                try:
                    services.remove_part(user, draft, request=request, **remove.cleaned_data)
                except PlanError as exc:
                    messages.error(request, str(exc))
                return redirect("plan_draft", client.pk)
            messages.error(request, _("Nothing was changed: the request was not understood."))
        elif bound.is_valid():
            data = {k: v for k, v in bound.cleaned_data.items() if k != "form"}
            try:
                if bound is details:
                    services.update_draft(user, draft, request=request, **data)
                elif bound is goal_form:
                    services.add_goal(user, draft, request=request, **data)
                else:
                    services.add_intervention(user, draft, request=request, **data)
            except PlanError as exc:
                bound.add_error(None, str(exc))
            else:
                messages.success(request, _("Draft saved."))
                return redirect("plan_draft", client.pk)
    return render(
        request,
        "plans/draft.html",
        {
            "client": client,
            "draft": draft,
            "view": _view_of(client, draft),
            "details": details,
            "goal_form": goal_form,
            "intervention_form": intervention_form,
        },
        status=400 if write else 200,
    )


@role_required(Role.THERAPIST)
@require_POST
def plan_finalise(request: HttpRequest, client_id: int) -> HttpResponse:
    user: User = request.user  # type: ignore[assignment]
    client, _how, plan = access_plan(user, client_id, request=request, write=True)
    draft = services.draft_of(plan)
    if draft is None:
        raise Http404("No draft.")
    try:
        services.finalise(user, draft, request=request)
    except PlanError as exc:
        messages.error(request, str(exc))
        return redirect("plan_draft", client.pk)
    messages.success(request, _("Plan finalised: the client can read and sign it."))
    return redirect("client_plan", client.pk)


@role_required(Role.CLIENT)
@require_http_methods(["GET", "POST"])
def my_plan(request: HttpRequest) -> HttpResponse:
    user: User = request.user  # type: ignore[assignment]
    version = own_plan(user)
    form = SignForm(request.POST or None)
    if request.method == "POST":
        if version is None:
            raise Http404("No plan to sign.")
        if form.is_valid():
            try:
                services.sign_plan(
                    user, version, typed_name=form.cleaned_data["typed_name"], request=request
                )
            except PlanError as exc:
                form.add_error("typed_name", str(exc))
            else:
                messages.success(request, _("Thank you: you signed your plan."))
                return redirect("my_plan")
    return render(
        request,
        "plans/my_plan.html",
        {
            "view": _view_of(user, version),
            "signature": services.signature_of(user, version),
            "form": form,
        },
        status=400 if form.is_bound else 200,
    )
