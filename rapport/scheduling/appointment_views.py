"""One appointment, for its two people: its page, cancelling, moving (the client picks an open
slot; the therapist gives a time), and the therapist's status changes.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_http_methods, require_POST

from rapport.accounts.decorators import role_required
from rapport.accounts.models import Practice, Role, User
from rapport.lib.intervals import local_to_utc
from rapport.scheduling import changes
from rapport.scheduling.access import access_appointment
from rapport.scheduling.availability import display_zone, zone_of
from rapport.scheduling.changes import is_late, set_status
from rapport.scheduling.consent import has_current_consent
from rapport.scheduling.forms import CancelForm, MoveByTherapistForm, SlotChoiceForm
from rapport.scheduling.models import Appointment, AppointmentStatus
from rapport.scheduling.picker import slot_picker, week_number


def _appointment_context(user: User, appointment: Appointment) -> dict[str, Any]:
    now = timezone.now()
    practice = Practice.get()
    therapist_side = user.pk == appointment.therapist_id
    other = appointment.client if therapist_side else appointment.therapist
    other_zone = display_zone(other)
    upcoming = appointment.is_live and appointment.starts_at > now
    opens = appointment.starts_at - timedelta(minutes=practice.join_opens_minutes)
    return {
        "appointment": appointment,
        "therapist_side": therapist_side,
        "other": other,
        "other_zone": other_zone.key if other_zone.key != display_zone(user).key else "",
        "upcoming": upcoming,
        "late_now": upcoming and is_late(appointment, now),
        "late_cancel_hours": practice.late_cancel_hours,
        "join_open": appointment.is_live and opens <= now < appointment.ends_at,
        "join_opens_at": opens,
        "may_approve": therapist_side and appointment.status == AppointmentStatus.REQUESTED,
        "may_record": therapist_side
        and appointment.starts_at <= now
        and appointment.status in (AppointmentStatus.CONFIRMED, AppointmentStatus.IN_PROGRESS),
        "consent_signed": has_current_consent(appointment.client) if therapist_side else None,
    }


@login_required
@require_http_methods(["GET"])
def appointment_detail(request: HttpRequest, appointment_id: int) -> HttpResponse:
    user: User = request.user  # type: ignore[assignment]
    appointment = access_appointment(user, appointment_id)
    return render(
        request, "scheduling/appointment_detail.html", _appointment_context(user, appointment)
    )


@login_required
@require_http_methods(["GET", "POST"])
def cancel_appointment(request: HttpRequest, appointment_id: int) -> HttpResponse:
    user: User = request.user  # type: ignore[assignment]
    appointment = access_appointment(user, appointment_id)
    offer_following = appointment.series_id is not None and user.pk == appointment.therapist_id
    form = CancelForm(request.POST or None, offer_following=offer_following)
    if request.method == "POST" and form.is_valid():
        try:
            cancelled = changes.cancel_appointment(
                user, appointment, scope=form.cleaned_data.get("scope", "this"), request=request
            )
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            if any(item.late_cancellation for item in cancelled):
                messages.warning(request, _("Cancelled. This was recorded as a late cancellation."))
            else:
                messages.success(
                    request,
                    ngettext(
                        "Cancelled %(count)d session.",
                        "Cancelled %(count)d sessions.",
                        len(cancelled),
                    )
                    % {"count": len(cancelled)},
                )
            return redirect("appointment_detail", appointment_id=appointment.pk)
    return render(
        request,
        "scheduling/cancel.html",
        {"form": form, **_appointment_context(user, appointment)},
    )


@login_required
@require_http_methods(["GET", "POST"])
def reschedule_appointment(request: HttpRequest, appointment_id: int) -> HttpResponse:
    user: User = request.user  # type: ignore[assignment]
    appointment = access_appointment(user, appointment_id)
    if user.pk == appointment.therapist_id:
        return _move_by_therapist(request, user, appointment)
    form = SlotChoiceForm(request.POST or None)
    if (
        request.method == "POST"
        and form.is_valid()
        and _moved(request, form, user, appointment, form.cleaned_data["slot"], "this")
    ):
        return redirect("appointment_detail", appointment_id=appointment.pk)
    return render(
        request,
        "scheduling/reschedule.html",
        {
            "form": form,
            "picker": slot_picker(
                appointment.session_type,
                display_zone(user),
                week_number(request.GET.get("week")),
            ),
            "chosen_slot": request.POST.get("slot", ""),
            "zone": user.time_zone,
            "pager_query": "",
            **_appointment_context(user, appointment),
        },
    )


def _move_by_therapist(request: HttpRequest, user: User, appointment: Appointment) -> HttpResponse:
    zone = display_zone(user)
    local = appointment.starts_at.astimezone(zone)
    form = MoveByTherapistForm(
        request.POST or None,
        in_series=appointment.series_id is not None,
        initial={"day": local.date(), "start_time": local.time().replace(second=0)},
    )
    back = _calendar_page(request)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            new_start = local_to_utc(data["day"], data["start_time"], zone_of(user))
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            if _moved(request, form, user, appointment, new_start, data.get("scope", "this")):
                if back:
                    return redirect(back)
                return redirect("appointment_detail", appointment_id=appointment.pk)
    return render(
        request,
        "scheduling/reschedule.html",
        {
            "form": form,
            "zone": user.time_zone,
            "back": back,
            **_appointment_context(user, appointment),
        },
    )


def _calendar_page(request: HttpRequest) -> str:
    """The calendar page a move started from (``next``), to return to; "" when none or not
    one of the therapist's calendar pages on this site."""
    page = request.POST.get("next") or request.GET.get("next") or ""
    if (
        len(page) <= 200
        and page.startswith("/schedule/")
        and url_has_allowed_host_and_scheme(page, allowed_hosts=None)
    ):
        return page
    return ""


def _moved(
    request: HttpRequest,
    form: Any,
    user: User,
    appointment: Appointment,
    new_start: datetime,
    scope: str,
) -> bool:
    if new_start == appointment.starts_at:
        form.add_error(None, _("The session is already at that time. Nothing was changed."))
        return False
    try:
        moved = changes.reschedule_appointment(
            user, appointment, new_start, scope=scope, request=request
        )
    except ValidationError as exc:
        form.add_error(None, exc)
        return False
    messages.success(
        request,
        ngettext("Moved %(count)d session.", "Moved %(count)d sessions.", len(moved))
        % {"count": len(moved)},
    )
    return True


STATUS_CHOICES = {
    "confirm": AppointmentStatus.CONFIRMED,
    "decline": AppointmentStatus.CANCELLED,
    "no_show": AppointmentStatus.NO_SHOW,
    "completed": AppointmentStatus.COMPLETED,
}


@role_required(Role.THERAPIST)
@require_POST
def set_appointment_status(request: HttpRequest, appointment_id: int) -> HttpResponse:
    user: User = request.user  # type: ignore[assignment]
    appointment = access_appointment(user, appointment_id)
    status = STATUS_CHOICES.get(request.POST.get("status", ""))
    if status is None:
        messages.error(request, _("That change is not possible for this session."))
    else:
        try:
            set_status(user, appointment, status, request=request)
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
        else:
            messages.success(request, _("Saved."))
    return redirect("appointment_detail", appointment_id=appointment.pk)
