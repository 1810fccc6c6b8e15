"""The therapist's measures page of one client: assigning an instrument and ending an assignment."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from rapport.accounts.decorators import role_required
from rapport.accounts.models import Role, User
from rapport.measures import assignments
from rapport.measures.access import access_assignment, access_client_in_care
from rapport.measures.errors import MeasureError
from rapport.measures.forms import AssignForm
from rapport.measures.instruments import assignable_instruments


@role_required(Role.THERAPIST)
@require_http_methods(["GET", "POST"])
def client_measures(request: HttpRequest, client_id: int) -> HttpResponse:
    user: User = request.user  # type: ignore[assignment]
    client = access_client_in_care(user, client_id, request=request)
    form = AssignForm(request.POST or None, instruments=assignable_instruments())
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            assignments.assign(
                user,
                client,
                data["instrument"],
                data["schedule"],
                interval_days=data["interval_days"],
                request=request,
            )
        except MeasureError as exc:
            form.add_error(None, exc)
        else:
            messages.success(request, _("Measure assigned."))
            return redirect("client_measures", client.pk)
    return render(
        request,
        "measures/client_measures.html",
        {
            "client": client,
            "form": form,
            "assignments": assignments.client_assignments(client),
            "tasks": assignments.client_open_tasks(client),
        },
        status=400 if form.is_bound else 200,
    )


@role_required(Role.THERAPIST)
@require_POST
def end_assignment(request: HttpRequest, client_id: int, assignment_id: int) -> HttpResponse:
    user: User = request.user  # type: ignore[assignment]
    assignment = access_assignment(user, client_id, assignment_id, request=request)
    assignments.end_assignment(assignment, user, request=request)
    messages.success(request, _("Assignment ended: no new questionnaires will be sent."))
    return redirect("client_measures", assignment.client_id)
