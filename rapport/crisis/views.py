"""The practice admin's crisis resources pages: the list, add, change, remove."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from rapport.accounts.decorators import role_required
from rapport.accounts.models import Role, User
from rapport.crisis import services
from rapport.crisis.forms import CrisisResourceForm
from rapport.crisis.models import CrisisResource


@role_required(Role.ADMIN)
@require_http_methods(["GET"])
def resource_list(request: HttpRequest) -> HttpResponse:
    resources = list(CrisisResource.objects.all())
    resources.sort(key=lambda r: (r.country_name, r.order, r.name))
    return render(request, "crisis/resources.html", {"resources": resources})


def _form_page(
    request: HttpRequest, form: CrisisResourceForm, resource: CrisisResource | None
) -> HttpResponse:
    return render(
        request,
        "crisis/resource_form.html",
        {"form": form, "resource": resource},
        status=400 if form.is_bound else 200,
    )


@role_required(Role.ADMIN)
@require_http_methods(["GET", "POST"])
def resource_add(request: HttpRequest) -> HttpResponse:
    user: User = request.user  # type: ignore[assignment]
    form = CrisisResourceForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        services.save_resource(user, form.instance, form.changed_data, request=request)
        messages.success(request, _("Crisis resource added."))
        return redirect("crisis_resources")
    return _form_page(request, form, None)


@role_required(Role.ADMIN)
@require_http_methods(["GET", "POST"])
def resource_change(request: HttpRequest, resource_id: int) -> HttpResponse:
    user: User = request.user  # type: ignore[assignment]
    # Practice facts, not client data: the role gate above is the whole permission check.
    resource = get_object_or_404(CrisisResource, pk=resource_id)
    form = CrisisResourceForm(request.POST or None, instance=resource)
    if request.method == "POST" and form.is_valid():
        services.save_resource(user, form.instance, form.changed_data, request=request)
        messages.success(request, _("Crisis resource saved."))
        return redirect("crisis_resources")
    return _form_page(request, form, resource)


@role_required(Role.ADMIN)
@require_POST
def resource_remove(request: HttpRequest, resource_id: int) -> HttpResponse:
    user: User = request.user  # type: ignore[assignment]
    resource = get_object_or_404(CrisisResource, pk=resource_id)
    services.remove_resource(user, resource, request=request)
    messages.success(request, _("Crisis resource removed."))
    return redirect("crisis_resources")
