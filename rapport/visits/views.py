"""Session room pages: joining, the tech check, the safety check-in, the room and its timeline."""

from __future__ import annotations

import uuid
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from rapport.accounts.decorators import role_required
from rapport.accounts.models import Role, User
from rapport.audit.services import Action, record
from rapport.care.access import access_client
from rapport.crisis.resources import resources_for
from rapport.lib.turn import ice_servers
from rapport.safety.access import latest_version_of
from rapport.safety.forms import SafetyPlanForm, initial_from
from rapport.scheduling.access import access_appointment
from rapport.scheduling.models import Modality
from rapport.visits import services
from rapport.visits.access import access_checkin, access_visit, open_visits_of
from rapport.visits.forms import SafetyCheckInForm
from rapport.visits.models import EventKind, Visit
from rapport.visits.services import CLIENT, THERAPIST, VisitError

DEVICES_POLICY = (
    "camera=(self), microphone=(self), display-capture=(self), speaker-selection=(self), "
    "geolocation=(), payment=(), usb=()"
)
CHECKIN_POLICY = "camera=(), microphone=(), display-capture=(), geolocation=(self), usb=()"


def _user(request: HttpRequest) -> User:
    return request.user  # type: ignore[return-value]


@login_required
@require_POST
def appointment_join(request: HttpRequest, appointment_id: int) -> HttpResponse:
    user = _user(request)
    appointment = access_appointment(user, appointment_id)
    try:
        visit = services.open_for_appointment(user, appointment)
    except VisitError as exc:
        messages.error(request, " ".join(exc.messages))
        return redirect("appointment_detail", appointment.pk)
    return redirect("visit_check", visit.uid)


@role_required(Role.THERAPIST)
@require_POST
def visit_start(request: HttpRequest, client_id: int) -> HttpResponse:
    user = _user(request)
    client, _how = access_client(user, client_id, request=request, purpose="start_session")
    modality = request.POST.get("modality", Modality.VIDEO)
    if modality not in services.MODALITIES:
        modality = Modality.VIDEO
    try:
        visit = services.start_unscheduled(user, client, modality)
    except PermissionDenied:
        messages.error(request, _("Only a client's own therapist can start a session with them."))
        return redirect("client_record", client_id)
    return redirect("visit_check", visit.uid)


@login_required
@require_http_methods(["GET", "HEAD"])
def visits_open(request: HttpRequest) -> HttpResponse:
    """The signed-in person's sessions that are not over, as JSON: how a program written from
    docs/protocol.md ("Writing a client") finds its visit and the addresses around it."""
    rows = []
    for visit, role in open_visits_of(_user(request)):
        peer = visit.client if role == THERAPIST else visit.therapist
        row: dict[str, Any] = {
            "visit": str(visit.uid),
            "role": role,
            "with": peer.full_name,
            "status": visit.status,
            "modality": visit.modality,
            "created_at": visit.created_at.isoformat(),
            "check": reverse("visit_check", args=[visit.uid]),
            "room": reverse("visit_room", args=[visit.uid]),
            "socket": f"/ws/visits/{visit.uid}/",
        }
        if role == CLIENT:
            row["check_in"] = reverse("visit_checkin", args=[visit.uid])
            row["checked_in"] = services.current_checkin(visit) is not None
        rows.append(row)
    return JsonResponse({"visits": rows})


def _config(request: HttpRequest, visit: Visit, role: str) -> dict[str, Any]:
    user = _user(request)
    peer = visit.client if role == THERAPIST else visit.therapist
    mode = request.GET.get("mode", "")
    allowed = services.allowed_modalities(visit)
    config: dict[str, Any] = {
        "visit": str(visit.uid),
        "role": role,
        "socket_url": f"/ws/visits/{visit.uid}/",
        "modality": mode if mode in allowed else visit.modality,
        "modalities": allowed,
        "self_name": user.full_name,
        "peer_name": peer.full_name,
        "ice_servers": ice_servers(user.pk),
        "ice_transport_policy": settings.RAPPORT_ICE_TRANSPORT_POLICY,
        "quality": settings.RAPPORT_QUALITY_POLICY,
        "home_url": reverse("home"),
        "rejoin_grace_seconds": settings.RAPPORT_VISIT_REJOIN_GRACE_SECONDS,
    }
    if role == THERAPIST:
        config["timeline_url"] = reverse("visit_timeline", args=[visit.uid])
    return config


def _ended(request: HttpRequest, visit: Visit, role: str) -> HttpResponse:
    return render(request, "visits/ended.html", {"visit": visit, "role": role}, status=410)


@login_required
@require_http_methods(["GET", "HEAD"])
def visit_check(request: HttpRequest, visit_id: uuid.UUID) -> HttpResponse:
    visit, role = access_visit(_user(request), visit_id)
    if visit.is_ended:
        return _ended(request, visit, role)
    config = _config(request, visit, role)
    next_view = "visit_checkin" if role == CLIENT else "visit_room"
    config["next_url"] = reverse(next_view, args=[visit.uid])
    response = render(
        request, "visits/check.html", {"visit": visit, "role": role, "config": config}
    )
    response.headers["Permissions-Policy"] = DEVICES_POLICY
    return response


@login_required
@require_http_methods(["GET", "HEAD", "POST"])
def visit_checkin(request: HttpRequest, visit_id: uuid.UUID) -> HttpResponse:
    user = _user(request)
    visit, role = access_visit(user, visit_id)
    if role != CLIENT:
        raise Http404("The check-in is the client's.")
    if visit.is_ended:
        return _ended(request, visit, role)
    mode = request.GET.get("mode", "")
    if request.method == "POST":
        form = SafetyCheckInForm(request.POST)
        if form.is_valid():
            data = form.cleaned_data
            services.check_in(
                visit,
                user,
                location=data["location"],
                country=data["country"],
                at_home=data["at_home"],
                callback_phone=data["callback_phone"],
                emergency_contact=data["emergency_contact"],
                geolocation=data["geolocation"] if data["share_position"] else "",
                request=request,
            )
            room = reverse("visit_room", args=[visit.uid])
            return HttpResponseRedirect(f"{room}?mode={mode}" if mode else room)
    else:
        form = SafetyCheckInForm(initial=services.last_checkin_values(user))
    response = render(
        request,
        "visits/checkin.html",
        {"visit": visit, "form": form, "crisis_help": resources_for(user), "mode": mode},
        status=400 if form.is_bound else 200,
    )
    response.headers["Permissions-Policy"] = CHECKIN_POLICY
    return response


@login_required
@require_http_methods(["GET", "HEAD"])
def visit_room(request: HttpRequest, visit_id: uuid.UUID) -> HttpResponse:
    visit, role = access_visit(_user(request), visit_id)
    if visit.is_ended:
        return _ended(request, visit, role)
    if role == CLIENT and services.current_checkin(visit) is None:
        target = reverse("visit_checkin", args=[visit.uid])
        mode = request.GET.get("mode", "")
        return HttpResponseRedirect(f"{target}?mode={mode}" if mode else target)
    plan_version = latest_version_of(visit.client)
    response = render(
        request,
        "visits/room.html",
        {
            "visit": visit,
            "role": role,
            "config": _config(request, visit, role),
            # The client's crisis help, for the therapist too: where the client is is what counts.
            "crisis_help": resources_for(visit.client),
            "checkin": access_checkin(_user(request), visit, role, request=request),
            # The client's safety plan, which both write together in the details panel.
            "plan_version": plan_version,
            "plan_form": SafetyPlanForm(initial=initial_from(plan_version), auto_id="plan-%s"),
        },
    )
    response.headers["Permissions-Policy"] = DEVICES_POLICY
    return response


@login_required
@require_POST
def visit_end(request: HttpRequest, visit_id: uuid.UUID) -> HttpResponse:
    user = _user(request)
    visit, role = access_visit(user, visit_id)
    if role != THERAPIST:
        raise PermissionDenied("only the therapist ends the session")
    services.end(visit.pk, user, request=request)
    return redirect("visit_timeline", visit.uid)


@login_required
@require_http_methods(["GET", "HEAD"])
def visit_timeline(request: HttpRequest, visit_id: uuid.UUID) -> HttpResponse:
    user = _user(request)
    visit, role = access_visit(user, visit_id)
    if role != THERAPIST:
        raise PermissionDenied("the timeline is the therapist's")
    events = list(visit.events.select_related("actor"))
    record(
        Action.VISIT_TIMELINE_VIEWED, actor=user, request=request, obj=visit, client=visit.client
    )
    checkin = access_checkin(user, visit, role, request=request)
    return render(
        request,
        "visits/timeline.html",
        {
            "visit": visit,
            "events": events,
            "checkin": checkin,
            "summary": services.summary(visit, events, checkin),
            "signaling_kinds": (EventKind.SIGNALING_LOST, EventKind.SIGNALING_BACK),
        },
    )
