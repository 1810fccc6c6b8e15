"""Per-request account rules: session lifetimes, the user's zone and language, required MFA."""

from __future__ import annotations

import time
import zoneinfo
from collections.abc import Callable

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout
from django.contrib.auth.views import redirect_to_login
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from rapport.accounts.models import Practice
from rapport.audit.services import Action, record
from rapport.core import clock
from rapport.lib.sessions import SEEN, STARTED, expiry_reason

# Only rewrite the session when the last-seen time moved this much (saves a write per request).
SEEN_RESOLUTION = 15


class PracticeOncePerRequestMiddleware:
    """Pages read the practice's settings from several places; one request reads the row once."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        scope = Practice.once_per_request()
        try:
            return self.get_response(request)
        finally:
            Practice.reset_request_scope(scope)


class SessionLifetimeMiddleware:
    """Automatic log-off: an idle timeout and an absolute lifetime for every session."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.path not in APP_SHELL_PATHS and request.user.is_authenticated:
            now = time.time()
            started = request.session.get(STARTED)
            seen = request.session.get(SEEN)
            if started is None or seen is None:
                request.session[STARTED] = request.session[SEEN] = now
            else:
                reason = expiry_reason(
                    request.session,
                    now,
                    idle_seconds=settings.SESSION_IDLE_TIMEOUT,
                    lifetime_seconds=settings.SESSION_ABSOLUTE_LIFETIME,
                )
                if reason is not None:
                    user = request.user
                    record(Action.SESSION_EXPIRED, actor=user, request=request, reason=reason)
                    logout(request)
                    messages.info(
                        request,
                        _("You were signed out after a period of inactivity.")
                        if reason == "idle"
                        else _("For your security, please sign in again."),
                    )
                    if request.method == "GET":
                        return redirect_to_login(request.get_full_path())
                    return HttpResponseRedirect(reverse("account_login"))
                if now - float(seen) >= SEEN_RESOLUTION:
                    request.session[SEEN] = now
        return self.get_response(request)


class UserPreferencesMiddleware:
    """Render every page in the signed-in user's time zone, language and 12/24-hour clock."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = request.user
        if user.is_authenticated:
            try:
                timezone.activate(zoneinfo.ZoneInfo(user.time_zone))
            except (zoneinfo.ZoneInfoNotFoundError, ValueError):
                timezone.deactivate()
            # A language no longer offered (French and German were) reads as the default.
            offered = user.language in dict(settings.LANGUAGES)
            language = user.language if offered else settings.LANGUAGE_CODE
            clock.activate(user.clock)
        else:
            language = translation.get_language_from_request(request)
        # Only for this request: the thread goes on to serve other people (and, in the tests,
        # to run other code), none of whom may inherit this person's language.
        try:
            with translation.override(language):
                request.LANGUAGE_CODE = translation.get_language()
                response = self.get_response(request)
                response.headers.setdefault("Content-Language", translation.get_language())
        finally:
            timezone.deactivate()
            clock.deactivate()
        return response


# Paths a therapist or admin without MFA may still use: enrolment itself and leaving.
# The installable app's files (rapport.core.shell), which browsers fetch in the background: they
# hold no one's data, and a background fetch must neither redirect nor count as activity.
APP_SHELL_PATHS = ("/sw.js", "/manifest.webmanifest", "/offline/")
MFA_EXEMPT_PREFIXES = (
    "/accounts/",
    "/static/",
    "/jsi18n/",
    "/healthz",
    "/readyz",
    "/metrics",
    *APP_SHELL_PATHS,
)


class RequireMFAMiddleware:
    """Therapists and admins must enrol a second factor before anything else."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = request.user
        if (
            user.is_authenticated
            and user.requires_mfa
            and not request.path.startswith(MFA_EXEMPT_PREFIXES)
            and user.second_factor_missing()
        ):
            messages.info(
                request,
                _(
                    "Your role requires two-factor authentication. Set up an authenticator app "
                    "to continue."
                ),
            )
            return HttpResponseRedirect(reverse("mfa_activate_totp"))
        return self.get_response(request)
