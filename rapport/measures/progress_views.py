"""Progress pages: the client's own, in plain words, and the clinical one of a client the
therapist treats (or an admin reaches under emergency access).
"""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_http_methods

from rapport.accounts.decorators import role_required
from rapport.accounts.models import Role, User
from rapport.care.access import Reach, access_client
from rapport.measures.alerts import client_open_alerts
from rapport.measures.progress import progress_of
from rapport.measures.signals import sections_for


@role_required(Role.CLIENT)
@require_http_methods(["GET"])
def my_progress(request: HttpRequest) -> HttpResponse:
    user: User = request.user  # type: ignore[assignment]
    progress, _feedback = progress_of(user, sessions_of=None, chart_prefix="mine", clinical=False)
    return render(
        request,
        "measures/my_progress.html",
        {"progress": progress, "sections": sections_for(user, viewer=user, how=Reach.SELF)},
    )


@role_required(Role.THERAPIST, Role.ADMIN)
@require_http_methods(["GET"])
def client_progress(request: HttpRequest, client_id: int) -> HttpResponse:
    user: User = request.user  # type: ignore[assignment]
    client, how = access_client(user, client_id, request=request, purpose="measures_progress")
    progress, feedback = progress_of(
        client, sessions_of=user if how == Reach.CARE else None, chart_prefix="progress"
    )
    return render(
        request,
        "measures/client_progress.html",
        {
            "client": client,
            "via": how,
            "progress": progress,
            "feedback_trends": feedback,
            "open_alerts": client_open_alerts(client),
            "sections": sections_for(client, viewer=user, how=how),
        },
    )
