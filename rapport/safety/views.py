"""Safety plan pages: the therapist's page (the plan as it stands, when it was last reviewed,
every version), writing a new version, one version, the client's own plan (phone-first, with
``tel:`` links, kept on the device by a service worker) and that service worker's script."""

from __future__ import annotations

from pathlib import Path

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from rapport.accounts.decorators import role_required
from rapport.accounts.models import Role, User
from rapport.care.access import Reach
from rapport.crisis.resources import resources_for
from rapport.safety import services
from rapport.safety.access import access_safety_plan, access_safety_version, own_safety_plan
from rapport.safety.forms import SafetyPlanForm, initial_from, plan_content

WORKER = Path(__file__).parent / "worker" / "safety-plan-sw.js"
WORKER_SCOPE = "/safety-plan/"


@role_required(Role.THERAPIST, Role.ADMIN)
@require_GET
def client_safety_plan(request: HttpRequest, client_id: int) -> HttpResponse:
    user: User = request.user  # type: ignore[assignment]
    client, how, plan = access_safety_plan(user, client_id, request=request)
    return render(
        request,
        "safety/plan.html",
        {
            "client": client,
            "may_write": how == Reach.CARE,
            "current": services.latest_of(plan),
            "review": services.last_review(plan),
            "versions": services.versions_of(plan),
            "crisis_help": resources_for(client),
        },
    )


@role_required(Role.THERAPIST)
@require_http_methods(["GET", "POST"])
def safety_plan_edit(request: HttpRequest, client_id: int) -> HttpResponse:
    user: User = request.user  # type: ignore[assignment]
    client, _how, plan = access_safety_plan(user, client_id, request=request, write=True)
    form = SafetyPlanForm(request.POST or None, initial=initial_from(services.latest_of(plan)))
    if request.method == "POST" and form.is_valid():
        version = services.save_version(
            user, client, plan_content(form.cleaned_data), request=request
        )
        messages.success(
            request, _("Safety plan saved as version %(number)d.") % {"number": version.number}
        )
        return redirect("client_safety_plan", client.pk)
    return render(
        request,
        "safety/edit.html",
        {"client": client, "form": form, "crisis_help": resources_for(client)},
        status=400 if form.is_bound else 200,
    )


@role_required(Role.THERAPIST)
@require_POST
def safety_plan_reviewed(request: HttpRequest, client_id: int) -> HttpResponse:
    user: User = request.user  # type: ignore[assignment]
    client, _how, plan = access_safety_plan(user, client_id, request=request, write=True)
    current = services.latest_of(plan)
    if current is None:
        raise Http404("No safety plan to review.")
    services.record_review(user, current, request=request)
    messages.success(
        request,
        _("Recorded: you reviewed version %(number)d of the safety plan.")
        % {"number": current.number},
    )
    return redirect("client_safety_plan", client.pk)


@role_required(Role.THERAPIST, Role.ADMIN)
@require_GET
def safety_plan_version(request: HttpRequest, client_id: int, number: int) -> HttpResponse:
    user: User = request.user  # type: ignore[assignment]
    client, version = access_safety_version(user, client_id, number, request=request)
    return render(
        request,
        "safety/version.html",
        {"client": client, "version": version, "crisis_help": resources_for(client)},
    )


@role_required(Role.CLIENT)
@require_GET
def my_safety_plan(request: HttpRequest) -> HttpResponse:
    user: User = request.user  # type: ignore[assignment]
    return render(
        request,
        "safety/my_plan.html",
        {"version": own_safety_plan(user), "crisis_help": resources_for(user)},
    )


@require_GET
def safety_plan_worker(request: HttpRequest) -> HttpResponse:
    """The service worker that keeps the client's plan on their device (no data of its own:
    open to anyone, like a static file)."""
    response = HttpResponse(WORKER.read_bytes(), content_type="text/javascript; charset=utf-8")
    response["Service-Worker-Allowed"] = WORKER_SCOPE
    response["Cache-Control"] = "no-cache"
    return response
