"""Outcomes pages: thin views over ``rapport.outcomes.access`` and the report builder."""

from __future__ import annotations

from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_http_methods

from rapport.accounts.decorators import role_required
from rapport.accounts.models import Practice, Role, User
from rapport.audit.services import Action, record
from rapport.outcomes.access import outcomes_scope


@role_required(Role.THERAPIST, Role.ADMIN)
@require_http_methods(["GET"])
def practice_outcomes(request: HttpRequest) -> HttpResponse:
    user: User = request.user  # type: ignore[assignment]
    scope = outcomes_scope(user)
    with transaction.atomic():
        record(Action.OUTCOMES_VIEWED, request=request, whole_practice=scope.whole_practice)
    practice = Practice.get()
    return render(
        request,
        "outcomes/outcomes.html",
        {"scope": scope, "threshold": practice.outcomes_suppression_threshold},
    )
