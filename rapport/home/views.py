"""Pages that bring several apps together: each role's home page, the therapist's caseload, the
client record's front page and the practice's settings."""

from __future__ import annotations

from allauth.account.decorators import reauthentication_required
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from rapport.accounts.decorators import role_required
from rapport.accounts.models import Invitation, Practice, Role, User
from rapport.audit.access import access_trail
from rapport.audit.services import Action, record
from rapport.care.access import (
    Reach,
    access_client,
    all_relationships,
    clients_of,
    profile_of,
    relationships_of,
    therapists_of,
)
from rapport.care.models import CareRelationship
from rapport.crisis.resources import resources_for
from rapport.diagnoses.services import active_diagnoses
from rapport.home.forms import PracticeForm
from rapport.homework.services import recent_completion
from rapport.intake.access import open_intakes
from rapport.matching.access import pending_offers
from rapport.matching.services import card_for
from rapport.measures.alerts import escalated_alerts, escalations_without_admin, open_alerts
from rapport.measures.assignments import due_tasks
from rapport.notes.access import awaiting_cosignature
from rapport.notes.waiting import waiting_notes
from rapport.plans.services import reviews_due
from rapport.scheduling.consent import (
    clients_with_current_consent,
    current_consent,
    has_current_consent,
)
from rapport.scheduling.schedule import appointments_on, upcoming_sessions
from rapport.visits.services import open_visits, waiting_visits


@login_required
@require_http_methods(["GET"])
def home(request: HttpRequest) -> HttpResponse:
    user: User = request.user  # type: ignore[assignment]
    if user.is_therapist:
        # The whole caseload in one query of names: the count and the first few.
        caseload = list(clients_of(user).values("pk", "full_name"))
        today = timezone.localdate()
        return render(
            request,
            "home/home_therapist.html",
            {
                "clients": caseload[:12],
                "client_count": len(caseload),
                "today": today,
                "todays_sessions": appointments_on(user, today),
                "pending_invitations": Invitation.objects.pending().filter(invited_by=user).count(),
                "waiting_visits": waiting_visits(user),
                "plan_reviews": reviews_due(user, on=today)[:20],
                "open_alerts": open_alerts(user).defer(
                    "action_taken",
                    "response__answers",
                    "response__result",
                    "response__instrument__definition",
                )[:20],
                "waiting_notes": waiting_notes(user),
                "to_cosign": list(awaiting_cosignature(user)[:20]),
                "pending_offers": pending_offers(user).count(),
            },
        )
    if user.is_billing_staff:  # billing staff see billing and nothing of the record
        return redirect("billing_home")
    if user.is_practice_admin:
        counts = {
            role: User.objects.filter(role=role, is_active=True).count() for role in Role.values
        }
        return render(
            request,
            "home/home_admin.html",
            {
                "counts": counts,
                "active_relationships": all_relationships(user)
                .filter(status=CareRelationship.Status.ACTIVE)
                .count(),
                "recent_events": access_trail(user)[:8],
                "escalated_open": escalated_alerts().filter(acknowledged_at__isnull=True).count(),
                "escalated_without_admin": escalations_without_admin().count(),
                "pending_offers": pending_offers(user).count(),
            },
        )
    return render(
        request,
        "home/home_client.html",
        {
            "therapists": therapists_of(user),
            "next_sessions": upcoming_sessions(user, limit=3),
            "open_visits": open_visits(user),
            "measure_tasks": due_tasks(user),
            "intakes": open_intakes(user),
            "crisis_help": resources_for(user),
            "care_request_card": card_for(user),
        },
    )


@role_required(Role.THERAPIST)
@require_http_methods(["GET"])
def caseload(request: HttpRequest) -> HttpResponse:
    clients = list(clients_of(request.user).select_related("client_profile"))  # type: ignore[arg-type]
    return render(
        request,
        "home/caseload.html",
        {
            "clients": clients,
            "consent_published": current_consent() is not None,
            "consent_signed": clients_with_current_consent([c.pk for c in clients]),
        },
    )


@login_required
@require_http_methods(["GET"])
def client_record(request: HttpRequest, client_id: int) -> HttpResponse:
    client, how = access_client(request.user, client_id, request=request)  # type: ignore[arg-type]
    profile = profile_of(client)
    relationships = relationships_of(client)
    return render(
        request,
        "home/client_record.html",
        {
            "client": client,
            "profile": profile,
            "relationships": relationships,
            "via": how,
            "may_edit": how in {Reach.CARE, Reach.SELF},
            "consent_document": current_consent(),
            "consent_signed": has_current_consent(client),
            "sessions": upcoming_sessions(client, limit=5, therapist=request.user)  # type: ignore[arg-type]
            if how == Reach.CARE
            else [],
            # The client meets their diagnoses with their therapist and in their record export.
            "diagnoses": active_diagnoses(client) if how != Reach.SELF else None,
            "homework_done_due": recent_completion(client),
        },
    )


@role_required(Role.ADMIN)
@reauthentication_required  # type: ignore[untyped-decorator,unused-ignore]
@require_http_methods(["GET", "POST"])
def practice_settings(request: HttpRequest) -> HttpResponse:
    practice = Practice.get()
    form = PracticeForm(request.POST or None, instance=practice)
    if request.method == "POST" and form.is_valid():
        with transaction.atomic():
            form.save()
            record(
                Action.PRACTICE_SETTINGS_CHANGED,
                request=request,
                obj=practice,
                fields=sorted(form.changed_data),
            )
        messages.success(request, _("Practice settings saved."))
        return redirect("practice_settings")
    return render(request, "home/practice.html", {"form": form})
