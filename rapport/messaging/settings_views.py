"""Messaging settings page: unread-message emails and quiet hours; for therapists also the reply
time and office hours clients see. Clients and therapists only: admins take part in no
conversation, so they have nothing to set here (403)."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from rapport.accounts.decorators import role_required
from rapport.accounts.models import Role, User
from rapport.messaging.preferences import save_messaging_settings, settings_for, zone_of
from rapport.messaging.settings_forms import MessagingSettingsForm


@role_required(Role.CLIENT, Role.THERAPIST)
@require_http_methods(["GET", "POST"])
def messaging_settings(request: HttpRequest) -> HttpResponse:
    user: User = request.user  # type: ignore[assignment]
    form = MessagingSettingsForm(request.POST or None, user=user, prefs=settings_for(user))
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            save_messaging_settings(
                user,
                email_when_unread=data["email_when_unread"],
                email_delay_minutes=data["email_delay_minutes"],
                quiet_from=data["quiet_from"],
                quiet_until=data["quiet_until"],
                response_hours=data.get("response_hours"),
                office_hours=form.office_hours(),
                request=request,
            )
        except ValidationError as error:
            form.add_error(None, error)
        else:
            messages.success(request, _("Your messaging settings are saved."))
            return redirect("messaging_settings")
    return render(request, "messaging/settings.html", {"form": form, "zone": zone_of(user).key})
