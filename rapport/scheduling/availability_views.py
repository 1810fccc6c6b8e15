"""The therapist's availability page: weekly hours, one-off changes (extra hours, time off) and
session types, with the booked sessions that no longer fit listed for them to resolve.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from rapport.accounts.decorators import role_required
from rapport.accounts.models import Role, User
from rapport.lib.intervals import local_to_utc
from rapport.scheduling import availability
from rapport.scheduling.forms import AvailabilityChangeForm, SessionTypeForm, WeeklyWindowForm
from rapport.scheduling.models import AvailabilityChange, SessionType, WeeklyWindow


def _availability_page(request: HttpRequest, **bound: Any) -> HttpResponse:
    user: User = request.user  # type: ignore[assignment]
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
            "zone_known": availability.display_zone(user).key == user.time_zone,
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
    user: User = request.user  # type: ignore[assignment]
    messages.success(request, text)
    if availability.availability_conflicts(user):
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
    user: User = request.user  # type: ignore[assignment]
    form = WeeklyWindowForm(request.POST, prefix="window")
    if form.is_valid():
        try:
            availability.add_weekly_window(user, **form.cleaned_data, request=request)
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            return _saved(request, _("Working hours added."))
    return _availability_page(request, window_form=form)


@role_required(Role.THERAPIST)
@require_POST
def delete_weekly_window(request: HttpRequest, window_id: int) -> HttpResponse:
    user: User = request.user  # type: ignore[assignment]
    if not availability.remove_weekly_window(user, window_id, request=request):
        raise Http404("No such working hours.")
    return _saved(request, _("Working hours removed."))


@role_required(Role.THERAPIST)
@require_POST
def add_availability_change(request: HttpRequest) -> HttpResponse:
    user: User = request.user  # type: ignore[assignment]
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
    user: User = request.user  # type: ignore[assignment]
    if not availability.remove_availability_change(user, change_id, request=request):
        raise Http404("No such change.")
    return _saved(request, _("Change removed."))


@role_required(Role.THERAPIST)
@require_POST
def add_session_type(request: HttpRequest) -> HttpResponse:
    user: User = request.user  # type: ignore[assignment]
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
    user: User = request.user  # type: ignore[assignment]
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
