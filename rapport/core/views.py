"""Role home pages and the health check."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods

from rapport.accounts.models import Invitation, Role, User
from rapport.audit.models import AuditEvent
from rapport.care.access import clients_of, therapists_of
from rapport.care.models import CareRelationship
from rapport.measures.models import SafetyAlert
from rapport.measures.services import due_tasks, open_alerts
from rapport.scheduling.services import appointments_on, upcoming_sessions
from rapport.visits.services import open_visits, waiting_visits


@login_required
@require_http_methods(["GET"])
def home(request: HttpRequest) -> HttpResponse:
    user: User = request.user  # type: ignore[assignment]
    if user.is_therapist:
        clients = clients_of(user)
        today = timezone.localdate()
        return render(
            request,
            "core/home_therapist.html",
            {
                "clients": clients[:12],
                "client_count": clients.count(),
                "today": today,
                "todays_sessions": appointments_on(user, today),
                "pending_invitations": Invitation.objects.pending().filter(invited_by=user).count(),
                "waiting_visits": waiting_visits(user),
                "open_alerts": open_alerts(user).defer(
                    "action_taken",
                    "response__answers",
                    "response__result",
                    "response__instrument__definition",
                )[:20],
            },
        )
    if user.is_practice_admin:
        counts = {
            role: User.objects.filter(role=role, is_active=True).count() for role in Role.values
        }
        return render(
            request,
            "core/home_admin.html",
            {
                "counts": counts,
                "active_relationships": CareRelationship.objects.filter(
                    status=CareRelationship.Status.ACTIVE
                ).count(),
                "recent_events": AuditEvent.objects.select_related("actor")[:8],
                "escalated_open": SafetyAlert.objects.filter(
                    escalated_at__isnull=False, acknowledged_at__isnull=True
                ).count(),
            },
        )
    return render(
        request,
        "core/home_client.html",
        {
            "therapists": therapists_of(user),
            "next_sessions": upcoming_sessions(user, limit=3),
            "open_visits": open_visits(user),
            "measure_tasks": due_tasks(user),
        },
    )


@never_cache
@require_http_methods(["GET", "HEAD"])
def healthz(request: HttpRequest) -> HttpResponse:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return JsonResponse({"status": "ok"})


def not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    return render(request, "404.html", status=404)


def forbidden(request: HttpRequest, exception: Exception) -> HttpResponse:
    return render(request, "403.html", status=403)


def bad_request(request: HttpRequest, exception: Exception) -> HttpResponse:
    return render(request, "400.html", status=400)


def server_error(request: HttpRequest) -> HttpResponse:
    return render(request, "500.html", status=500)


def csrf_failure(request: HttpRequest, reason: str = "") -> HttpResponse:
    return render(request, "403_csrf.html", status=403)
