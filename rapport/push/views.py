"""Turning push notices on and off for a device (the Account page's "Notices on this device").

``push_subscribe`` and ``push_unsubscribe`` take JSON from ``static/push/push.js`` with the
CSRF token in its header, and answer JSON: 200, or 400 with ``error`` in words. Removing a device
from the list on the Account page is a plain form (no script needed).
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from rapport.accounts.models import User
from rapport.push import services
from rapport.push.forms import read_endpoint, read_json, read_subscription
from rapport.push.services import PushError


def _refused(error: PushError) -> JsonResponse:
    return JsonResponse({"error": str(error)}, status=400)


@login_required
@require_POST
def push_subscribe(request: HttpRequest) -> HttpResponse:
    user: User = request.user  # type: ignore[assignment]
    if not services.push_available():
        return JsonResponse({"error": _("This practice does not send push notices.")}, status=400)
    try:
        device, kinds, label = read_subscription(read_json(request))
        subscription = services.subscribe(user, device, kinds=kinds, label=label, request=request)
    except PushError as error:
        return _refused(error)
    return JsonResponse({"device": subscription.pk, "kinds": subscription.kinds()})


@login_required
@require_POST
def push_unsubscribe(request: HttpRequest) -> HttpResponse:
    user: User = request.user  # type: ignore[assignment]
    if request.content_type == "application/json":
        try:
            endpoint = read_endpoint(read_json(request).get("endpoint"))
        except PushError as error:
            return _refused(error)
        removed = services.unsubscribe(user, endpoint=endpoint, request=request)
        return JsonResponse({"removed": removed})
    device = request.POST.get("device", "")
    if not device.isdigit():
        messages.error(request, _("Choose a device to turn notices off on."))
        return redirect("account_settings")
    if services.unsubscribe(user, device_id=int(device), request=request):
        messages.success(request, _("Notices are off on that device."))
    else:
        messages.error(request, _("That device no longer gets notices."))
    return redirect("account_settings")
