"""Scheduling screens: availability, the therapist's day and week, booking, appointments, consent.

Views parse input, call one domain function (``booking``, ``changes``, ``consent``,
``availability``) and render. Every appointment is reached through ``access_appointment``; a
refusal of the booking rules (``SchedulingError``) is shown on the form, never as an error page.
"""

from __future__ import annotations

import zoneinfo
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from allauth.account.decorators import reauthentication_required
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme, urlencode
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from rapport.accounts.decorators import role_required
from rapport.accounts.models import Practice, Role, User
from rapport.care.access import clients_of, therapists_of
from rapport.lib.intervals import local_to_utc
from rapport.scheduling import availability, changes
from rapport.scheduling.access import access_appointment
from rapport.scheduling.booking import BookingRequest, book_appointment, book_series, duplicate_of
from rapport.scheduling.changes import is_late, set_status
from rapport.scheduling.consent import (
    clients_with_current_consent,
    consent_versions,
    current_consent,
    has_current_consent,
    publish_consent,
    sign_consent,
    signature_of,
)
from rapport.scheduling.errors import SchedulingError
from rapport.scheduling.forms import (
    AvailabilityChangeForm,
    CancelForm,
    ClientBookingForm,
    ConsentDocumentForm,
    ConsentSignatureForm,
    MoveByTherapistForm,
    ScheduleByTherapistForm,
    SessionTypeForm,
    SlotChoiceForm,
    WeeklyWindowForm,
    consent_initial,
    slot_value,
    week_start,
)
from rapport.scheduling.models import (
    Appointment,
    AppointmentStatus,
    AvailabilityChange,
    Modality,
    SessionType,
    WeeklyWindow,
)
from rapport.scheduling.schedule import client_sessions, therapist_appointments

UTC_ZONE = zoneinfo.ZoneInfo("UTC")


def _user(request: HttpRequest) -> User:
    return request.user  # type: ignore[return-value]


def _zone(user: User) -> zoneinfo.ZoneInfo:
    """The user's zone for display; UTC when the stored name is unknown (pages still render)."""
    try:
        return availability.zone_of(user)
    except SchedulingError:
        return UTC_ZONE


def _day_start(day: date, zone: zoneinfo.ZoneInfo) -> datetime:
    return local_to_utc(day, time(0), zone)


def _already_booked(request: HttpRequest, appointment: Appointment) -> HttpResponse:
    messages.info(request, _("This session was already booked. Nothing else was changed."))
    return redirect("appointment_detail", appointment_id=appointment.pk)


# --- Availability (therapist) --------------------------------------------------------------------


def _availability_page(request: HttpRequest, **bound: Any) -> HttpResponse:
    user = _user(request)
    now = timezone.now()
    session_types = list(SessionType.objects.filter(therapist=user).order_by("-is_active", "name"))
    type_forms = [
        bound.get(f"type_{item.pk}") or SessionTypeForm(instance=item, prefix=f"type-{item.pk}")
        for item in session_types
    ]
    return render(
        request,
        "scheduling/availability.html",
        {
            "zone": user.time_zone,
            "zone_known": _zone(user).key == user.time_zone,
            "windows": WeeklyWindow.objects.filter(therapist=user),
            "changes": AvailabilityChange.objects.filter(therapist=user, ends_at__gt=now),
            "type_forms": zip(session_types, type_forms, strict=True),
            "conflicts": availability.availability_conflicts(user, now=now),
            "window_form": bound.get("window_form") or WeeklyWindowForm(prefix="window"),
            "change_form": bound.get("change_form") or AvailabilityChangeForm(prefix="change"),
            "new_type_form": bound.get("new_type_form")
            or SessionTypeForm(prefix="new-type", initial={"minutes": 50}),
        },
    )


def _saved(request: HttpRequest, text: str) -> HttpResponse:
    messages.success(request, text)
    if availability.availability_conflicts(_user(request)):
        messages.warning(
            request,
            _(
                "Some booked sessions are now outside your availability. They are listed under "
                "“Conflicts to resolve”; nothing was cancelled."
            ),
        )
    return redirect("availability")


@role_required(Role.THERAPIST)
@require_http_methods(["GET"])
def availability_page(request: HttpRequest) -> HttpResponse:
    return _availability_page(request)


@role_required(Role.THERAPIST)
@require_POST
def add_weekly_window(request: HttpRequest) -> HttpResponse:
    form = WeeklyWindowForm(request.POST, prefix="window")
    if form.is_valid():
        try:
            availability.add_weekly_window(_user(request), **form.cleaned_data, request=request)
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            return _saved(request, _("Working hours added."))
    return _availability_page(request, window_form=form)


@role_required(Role.THERAPIST)
@require_POST
def delete_weekly_window(request: HttpRequest, window_id: int) -> HttpResponse:
    if not availability.remove_weekly_window(_user(request), window_id, request=request):
        raise Http404("No such working hours.")
    return _saved(request, _("Working hours removed."))


@role_required(Role.THERAPIST)
@require_POST
def add_availability_change(request: HttpRequest) -> HttpResponse:
    user = _user(request)
    form = AvailabilityChangeForm(request.POST, prefix="change")
    if form.is_valid():
        data = form.cleaned_data
        try:
            zone = availability.zone_of(user)
            availability.add_availability_change(
                user,
                kind=data["kind"],
                starts_at=local_to_utc(data["start_date"], data["start_time"], zone),
                ends_at=local_to_utc(data["end_date"], data["end_time"], zone),
                request=request,
            )
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            return _saved(request, _("Change added."))
    return _availability_page(request, change_form=form)


@role_required(Role.THERAPIST)
@require_POST
def delete_availability_change(request: HttpRequest, change_id: int) -> HttpResponse:
    if not availability.remove_availability_change(_user(request), change_id, request=request):
        raise Http404("No such change.")
    return _saved(request, _("Change removed."))


@role_required(Role.THERAPIST)
@require_POST
def add_session_type(request: HttpRequest) -> HttpResponse:
    user = _user(request)
    form = SessionTypeForm(request.POST, prefix="new-type", instance=SessionType(therapist=user))
    if form.is_valid():
        try:
            availability.save_session_type(user, None, form.cleaned_data, request=request)
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            return _saved(request, _("Session type added."))
    return _availability_page(request, new_type_form=form)


@role_required(Role.THERAPIST)
@require_POST
def edit_session_type(request: HttpRequest, session_type_id: int) -> HttpResponse:
    user = _user(request)
    session_type = SessionType.objects.filter(pk=session_type_id, therapist=user).first()
    if session_type is None:
        raise Http404("No such session type.")
    prefix = f"type-{session_type.pk}"
    form = SessionTypeForm(request.POST, prefix=prefix, instance=session_type)
    if form.is_valid():
        try:
            availability.save_session_type(user, session_type, form.cleaned_data, request=request)
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            return _saved(request, _("Session type saved."))
    return _availability_page(request, **{f"type_{session_type.pk}": form})


# --- The therapist's schedule --------------------------------------------------------------------


@dataclass(frozen=True)
class Entry:
    appointment: Appointment
    consent_signed: bool


@dataclass(frozen=True)
class ScheduleDay:
    day: date
    entries: list[Entry]


def _schedule(
    request: HttpRequest, first: date, days: int, template: str, **extra: Any
) -> HttpResponse:
    """The therapist's appointments for ``days`` days from ``first``: a fixed number of queries."""
    user = _user(request)
    zone = _zone(user)
    start, end = _day_start(first, zone), _day_start(first + timedelta(days=days), zone)
    appointments = therapist_appointments(user, start, end)
    signed = clients_with_current_consent(sorted({a.client_id for a in appointments}))
    by_day: dict[date, list[Entry]] = {first + timedelta(days=i): [] for i in range(days)}
    for appointment in appointments:
        local_day = max(appointment.starts_at.astimezone(zone).date(), first)
        by_day[local_day].append(Entry(appointment, appointment.client_id in signed))
    return render(
        request,
        template,
        {
            "days": [ScheduleDay(day, entries) for day, entries in by_day.items()],
            "first": first,
            "last": first + timedelta(days=days - 1),
            "zone": zone.key,
            "zone_known": zone.key == user.time_zone,
            "today": timezone.localdate(timezone=zone),
            "count": sum(1 for a in appointments if a.status != AppointmentStatus.CANCELLED),
            **extra,
        },
    )


@role_required(Role.THERAPIST)
@require_http_methods(["GET"])
def schedule_week(request: HttpRequest, day: date | None = None) -> HttpResponse:
    first = week_start(day or timezone.localdate(timezone=_zone(_user(request))))
    return _schedule(
        request,
        first,
        7,
        "scheduling/week.html",
        previous=first - timedelta(days=7),
        next=first + timedelta(days=7),
    )


@role_required(Role.THERAPIST)
@require_http_methods(["GET"])
def schedule_day(request: HttpRequest, day: date) -> HttpResponse:
    return _schedule(
        request,
        day,
        1,
        "scheduling/day.html",
        previous=day - timedelta(days=1),
        next=day + timedelta(days=1),
        week=week_start(day),
    )


@role_required(Role.THERAPIST)
@require_http_methods(["GET", "POST"])
def book_for_client(request: HttpRequest) -> HttpResponse:
    user = _user(request)
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
                    until=_day_start(until + timedelta(days=1), zone) if until else None,
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
                _("Booked %(count)d session(s) with %(client)s.")
                % {"count": len(booked), "client": data["client"].full_name},
            )
            return redirect("appointment_detail", appointment_id=booked[0].pk)
    return render(
        request,
        "scheduling/book_for_client.html",
        {"form": form, "zone": user.time_zone, "has_types": session_types.exists()},
    )


# --- Slot picker (client) ------------------------------------------------------------------------


@dataclass(frozen=True)
class SlotChoice:
    value: str
    starts_at: datetime
    ends_at: datetime
    # The same start in the therapist's zone, when their wall-clock time differs.
    therapist_time: datetime | None


@dataclass(frozen=True)
class SlotDay:
    day: date
    slots: list[SlotChoice]


@dataclass(frozen=True)
class Picker:
    days: list[SlotDay]
    week: int
    weeks: int
    first: date
    last: date
    therapist_zone: str

    @property
    def has_previous(self) -> bool:
        return self.week > 0

    @property
    def has_next(self) -> bool:
        return self.week < self.weeks - 1


def _week_number(request: HttpRequest) -> int:
    try:
        return max(0, min(int(request.GET.get("week", "0")), 60))
    except ValueError:
        return 0


def _picker(session_type: SessionType, zone: zoneinfo.ZoneInfo, week: int) -> Picker:
    """Open slots of one week (from today, in the viewer's zone), grouped by local day."""
    weeks = session_type.horizon_days // 7 + 1
    week = min(week, weeks - 1)
    first = timezone.localdate(timezone=zone) + timedelta(weeks=week)
    therapist_zone = _zone(session_type.therapist)
    slots = availability.open_slots(
        session_type,
        start=_day_start(first, zone),
        end=_day_start(first + timedelta(days=7), zone),
    )
    by_day: dict[date, list[SlotChoice]] = {}
    for slot in slots:
        local = slot.starts_at.astimezone(zone)
        theirs = slot.starts_at.astimezone(therapist_zone)
        differs = theirs.replace(tzinfo=None) != local.replace(tzinfo=None)
        by_day.setdefault(local.date(), []).append(
            SlotChoice(slot_value(slot.starts_at), local, slot.ends_at, theirs if differs else None)
        )
    return Picker(
        days=[SlotDay(day, choices) for day, choices in by_day.items()],
        week=week,
        weeks=weeks,
        first=first,
        last=first + timedelta(days=6),
        therapist_zone=therapist_zone.key,
    )


def _client_session_types(client: User) -> Any:
    return (
        SessionType.objects.filter(therapist__in=therapists_of(client), is_active=True)
        .select_related("therapist")
        .order_by("therapist__full_name", "minutes", "name")
    )


@role_required(Role.CLIENT)
@require_http_methods(["GET", "POST"])
def book(request: HttpRequest) -> HttpResponse:
    user = _user(request)
    if not has_current_consent(user):
        messages.info(request, _("Please read and sign the telehealth consent before booking."))
        return redirect(f"{reverse('consent_sign')}?next={reverse('book')}")
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
            "picker": _picker(chosen, _zone(user), _week_number(request)),
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


@role_required(Role.CLIENT)
@require_http_methods(["GET"])
def my_sessions(request: HttpRequest) -> HttpResponse:
    user = _user(request)
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


# --- One appointment -----------------------------------------------------------------------------


def _appointment_context(user: User, appointment: Appointment) -> dict[str, Any]:
    now = timezone.now()
    practice = Practice.get()
    therapist_side = user.pk == appointment.therapist_id
    other = appointment.client if therapist_side else appointment.therapist
    other_zone = _zone(other)
    upcoming = appointment.is_live and appointment.starts_at > now
    opens = appointment.starts_at - timedelta(minutes=practice.join_opens_minutes)
    return {
        "appointment": appointment,
        "therapist_side": therapist_side,
        "other": other,
        "other_zone": other_zone.key if other_zone.key != _zone(user).key else "",
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
    user = _user(request)
    appointment = access_appointment(user, appointment_id)
    return render(
        request, "scheduling/appointment_detail.html", _appointment_context(user, appointment)
    )


@login_required
@require_http_methods(["GET", "POST"])
def cancel_appointment(request: HttpRequest, appointment_id: int) -> HttpResponse:
    user = _user(request)
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
                    _("Cancelled %(count)d session(s).") % {"count": len(cancelled)},
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
    user = _user(request)
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
            "picker": _picker(appointment.session_type, _zone(user), _week_number(request)),
            "chosen_slot": request.POST.get("slot", ""),
            "zone": user.time_zone,
            "pager_query": "",
            **_appointment_context(user, appointment),
        },
    )


def _move_by_therapist(request: HttpRequest, user: User, appointment: Appointment) -> HttpResponse:
    zone = _zone(user)
    local = appointment.starts_at.astimezone(zone)
    form = MoveByTherapistForm(
        request.POST or None,
        in_series=appointment.series_id is not None,
        initial={"day": local.date(), "start_time": local.time().replace(second=0)},
    )
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            new_start = local_to_utc(data["day"], data["start_time"], availability.zone_of(user))
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            if _moved(request, form, user, appointment, new_start, data.get("scope", "this")):
                return redirect("appointment_detail", appointment_id=appointment.pk)
    return render(
        request,
        "scheduling/reschedule.html",
        {"form": form, "zone": user.time_zone, **_appointment_context(user, appointment)},
    )


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
    messages.success(request, _("Moved %(count)d session(s).") % {"count": len(moved)})
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
    user = _user(request)
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


# --- Telehealth consent --------------------------------------------------------------------------


@role_required(Role.ADMIN)
@reauthentication_required  # type: ignore[untyped-decorator,unused-ignore]
@require_http_methods(["GET", "POST"])
def consent_admin(request: HttpRequest) -> HttpResponse:
    current = current_consent()
    form = ConsentDocumentForm(request.POST or None, initial=consent_initial(current))
    if request.method == "POST" and form.is_valid():
        title, body = form.cleaned_data["title"].strip(), form.cleaned_data["body"].strip()
        if current is not None and (current.title, current.body) == (title, body):
            form.add_error(
                None,
                _("This is the current version already. Change the text to publish a new one."),
            )
        else:
            document = publish_consent(_user(request), title=title, body=body, request=request)
            messages.success(
                request,
                _("Version %(version)d published. Clients sign it before their next booking.")
                % {"version": document.version},
            )
            return redirect("consent_admin")
    return render(
        request, "scheduling/consent_admin.html", {"form": form, "versions": consent_versions()}
    )


def _safe_next(request: HttpRequest, value: str) -> str:
    if value and url_has_allowed_host_and_scheme(
        value, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return value
    return reverse("home")


@role_required(Role.CLIENT)
@require_http_methods(["GET", "POST"])
def consent_sign(request: HttpRequest) -> HttpResponse:
    user = _user(request)
    document = current_consent()
    next_url = _safe_next(request, request.POST.get("next") or request.GET.get("next", ""))
    initial = {"document": document.pk if document else None}
    form = ConsentSignatureForm(request.POST or None, initial=initial)
    if request.method == "POST" and document is not None and form.is_valid():
        try:
            sign_consent(
                user,
                form.cleaned_data["document"],
                typed_name=form.cleaned_data["typed_name"],
                request=request,
            )
        except ValidationError as exc:
            if form.cleaned_data["document"] != document.pk:
                # Sign the version now shown, not the one read before.
                form = ConsentSignatureForm({**request.POST.dict(), "document": document.pk})
                form.is_valid()
            form.add_error("typed_name", exc)
        else:
            messages.success(request, _("Thank you. Your signature is recorded."))
            return redirect(next_url)
    signature = signature_of(user, document) if document is not None else None
    return render(
        request,
        "scheduling/consent_sign.html",
        {"document": document, "signature": signature, "form": form, "next": next_url},
    )
