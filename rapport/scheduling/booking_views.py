"""Booking: the therapist books for a client (one session or a series); the client picks a kind
of session, a way to meet and an open slot.
"""

from __future__ import annotations

from datetime import time, timedelta
from typing import Any
from urllib.parse import quote

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_http_methods

from rapport.accounts.decorators import role_required
from rapport.accounts.models import Role, User
from rapport.care.access import clients_of
from rapport.lib.intervals import local_to_utc
from rapport.scheduling import availability
from rapport.scheduling.booking import (
    BookingRequest,
    book_appointment,
    book_series,
    bookable_types,
    duplicate_of,
)
from rapport.scheduling.consent import has_current_consent
from rapport.scheduling.forms import ClientBookingForm, ScheduleByTherapistForm
from rapport.scheduling.models import Appointment, AppointmentStatus, Modality, SessionType
from rapport.scheduling.picker import slot_picker, week_number


def _already_booked(request: HttpRequest, appointment: Appointment) -> HttpResponse:
    messages.info(request, _("This session was already booked. Nothing else was changed."))
    return redirect("appointment_detail", appointment_id=appointment.pk)


@role_required(Role.THERAPIST)
@require_http_methods(["GET", "POST"])
def book_for_client(request: HttpRequest) -> HttpResponse:
    user: User = request.user  # type: ignore[assignment]
    session_types = SessionType.objects.filter(therapist=user, is_active=True)
    form = ScheduleByTherapistForm(
        request.POST or None,
        clients=clients_of(user).order_by("full_name"),
        session_types=session_types,
        initial={"client": request.GET.get("client", "")},
    )
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        booking: BookingRequest | None = None
        try:
            zone = availability.zone_of(user)
            booking = BookingRequest(
                data["client"],
                data["session_type"],
                data["modality"],
                local_to_utc(data["day"], data["start_time"], zone),
            )
            if data["repeat"] == "0":
                booked = [book_appointment(user, booking, request=request)]
            else:
                until = data["until"]
                booked = book_series(
                    user,
                    booking,
                    interval_weeks=int(data["repeat"]),
                    count=data["count"],
                    until=local_to_utc(until + timedelta(days=1), time(0), zone) if until else None,
                    request=request,
                )
        except ValidationError as exc:
            duplicate = duplicate_of(booking) if booking else None
            if duplicate is not None and duplicate.booked_by_id == user.pk:
                return _already_booked(request, duplicate)
            form.add_error(None, exc)
        else:
            messages.success(
                request,
                ngettext(
                    "Booked %(count)d session with %(client)s.",
                    "Booked %(count)d sessions with %(client)s.",
                    len(booked),
                )
                % {"count": len(booked), "client": data["client"].full_name},
            )
            return redirect("appointment_detail", appointment_id=booked[0].pk)
    return render(
        request,
        "scheduling/book_for_client.html",
        {"form": form, "zone": user.time_zone, "has_types": session_types.exists()},
    )


def _client_session_types(client: User) -> Any:
    return (
        bookable_types(client)
        .select_related("therapist")
        .order_by("therapist__full_name", "minutes", "name")
    )


@role_required(Role.CLIENT)
@require_http_methods(["GET", "POST"])
def book(request: HttpRequest) -> HttpResponse:
    user: User = request.user  # type: ignore[assignment]
    if not has_current_consent(user):
        messages.info(request, _("Please read and sign the telehealth consent before booking."))
        # Back to this page as asked (a first session's intake type is chosen in the address).
        back = quote(request.get_full_path(), safe="/")
        return redirect(f"{reverse('consent_sign')}?next={back}")
    session_types = _client_session_types(user)
    if request.method == "POST":
        form = ClientBookingForm(request.POST, session_types=session_types)
        if form.is_valid():
            data = form.cleaned_data
            booking = BookingRequest(user, data["session_type"], data["modality"], data["slot"])
            try:
                appointment = book_appointment(user, booking, request=request)
            except ValidationError as exc:
                duplicate = duplicate_of(booking)
                if duplicate is not None and duplicate.booked_by_id == user.pk:
                    return _already_booked(request, duplicate)
                about_the_time = exc.code in {"slot_taken", "not_open", "past"}
                form.add_error("slot" if about_the_time else None, exc)
            else:
                if appointment.status == AppointmentStatus.REQUESTED:
                    messages.success(
                        request, _("Your request was sent. Your therapist will confirm it.")
                    )
                else:
                    messages.success(request, _("Your session is booked."))
                return redirect("appointment_detail", appointment_id=appointment.pk)
        chosen = (
            form.cleaned_data.get("session_type")
            or session_types.filter(pk=_int(request.POST.get("session_type"))).first()
        )
        modality = request.POST.get("modality", "")
    else:
        form = None
        chosen = session_types.filter(pk=_int(request.GET.get("type"))).first()
        modality = request.GET.get("modality", "")
    if chosen is None:
        return render(
            request,
            "scheduling/book_choose_type.html",
            {"session_types": session_types, "error": form is not None},
        )
    if modality not in chosen.modalities:
        modality = chosen.modalities[0]
    if form is None:
        form = ClientBookingForm(
            session_types=session_types, initial={"session_type": chosen.pk, "modality": modality}
        )
    return render(
        request,
        "scheduling/book.html",
        {
            "form": form,
            "session_type": chosen,
            "modality": modality,
            "modalities": [(m, label) for m, label in _modality_labels() if m in chosen.modalities],
            "picker": slot_picker(
                chosen, availability.display_zone(user), week_number(request.GET.get("week"))
            ),
            "chosen_slot": request.POST.get("slot", ""),
            "zone": user.time_zone,
            "pager_query": urlencode({"type": chosen.pk, "modality": modality}) + "&",
        },
    )


def _int(value: str | None) -> int | None:
    try:
        return int(value or "")
    except ValueError:
        return None


def _modality_labels() -> list[tuple[str, str]]:
    return [(str(value), str(label)) for value, label in Modality.choices]
