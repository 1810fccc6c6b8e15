"""The client's list of their sessions (the therapist's calendar is in ``calendar_views``)."""

from __future__ import annotations

from datetime import timedelta

from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_http_methods

from rapport.accounts.decorators import role_required
from rapport.accounts.models import Practice, Role, User
from rapport.scheduling.schedule import client_sessions


@role_required(Role.CLIENT)
@require_http_methods(["GET"])
def my_sessions(request: HttpRequest) -> HttpResponse:
    user: User = request.user  # type: ignore[assignment]
    now = timezone.now()
    upcoming, earlier = client_sessions(user, now)
    past = Paginator(earlier, 20).get_page(request.GET.get("page"))
    opens = timedelta(minutes=Practice.get().join_opens_minutes)
    return render(
        request,
        "scheduling/my_sessions.html",
        {
            "upcoming": [(a, a.starts_at - opens <= now) for a in upcoming[:50]],
            "page": past,
        },
    )
