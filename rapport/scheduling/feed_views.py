"""Calendar subscription: the settings page that issues the private address, and the feed itself."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import BadRequest
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_safe

from rapport.accounts.models import User
from rapport.scheduling import feeds, ical
from rapport.scheduling.models import CalendarFeed


@login_required
@require_http_methods(["GET", "POST"])
def calendar_feed(request: HttpRequest) -> HttpResponse:
    """Show whether a feed exists; POST ``action`` = "regenerate" or "revoke"."""
    user: User = request.user  # type: ignore[assignment]
    token = None
    if request.method == "POST":
        action = request.POST.get("action")
        if action == "regenerate":
            token = feeds.issue_feed(user, request=request)
        elif action == "revoke":
            if feeds.revoke_feed(user, request=request):
                messages.success(request, _("Your calendar address no longer works."))
            return redirect("calendar_feed")
        else:
            raise BadRequest("unknown calendar feed action")
    feed = CalendarFeed.objects.filter(user=user).first()
    address = None
    if token is not None:
        address = settings.SITE_URL + reverse("calendar_feed_ics", kwargs={"token": token})
    return render(
        request,
        "scheduling/calendar_feed.html",
        {
            "feed": feed,
            # Shown on this response only: the database keeps just the hash.
            "address": address,
            "webcal_address": address and "webcal://" + address.split("://", 1)[1],
            "is_therapist": user.is_therapist,
        },
    )


@require_safe
def calendar_feed_ics(request: HttpRequest, token: str) -> HttpResponse:
    """The subscription feed. No sign-in: the secret token in the address is the key."""
    owner = feeds.feed_owner(token)
    if owner is None:
        raise Http404("No such calendar.")
    body = ical.feed(owner, feeds.feed_appointments(owner))
    response = HttpResponse(body, content_type="text/calendar; charset=utf-8")
    response["Cache-Control"] = "private, no-store"
    response["Content-Disposition"] = 'inline; filename="sessions.ics"'
    response["X-Robots-Tag"] = "noindex"
    return response
