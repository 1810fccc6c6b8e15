"""Health (liveness and readiness), metrics, and the error pages."""

from __future__ import annotations

import hmac
import sys

from django.conf import settings
from django.db import InterfaceError, OperationalError
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.template.loader import render_to_string
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods

from rapport.core.health import readiness
from rapport.core.metrics import exposition


@never_cache
@require_http_methods(["GET", "HEAD"])
def healthz(request: HttpRequest) -> HttpResponse:
    """Liveness: this process answers. It asks nothing else, so that an outage of the database
    or Redis (``/readyz``) does not get every server process restarted."""
    return JsonResponse({"status": "ok"})


@never_cache
@require_http_methods(["GET", "HEAD"])
def readyz(request: HttpRequest) -> HttpResponse:
    """Readiness: every check of ``rapport.core.health`` with its own status; 503 when one
    fails."""
    ready, checks = readiness()
    response = JsonResponse(
        {"status": "ok" if ready else "failing", "checks": checks}, status=200 if ready else 503
    )
    # A probe every few seconds through an outage is not an error line each time: the outage
    # is in the answer, and in the log of whatever failed.
    response._has_been_logged = True  # type: ignore[attr-defined]
    return response


@never_cache
@require_http_methods(["GET", "HEAD"])
def metrics(request: HttpRequest) -> HttpResponse:
    """Prometheus metrics, for the bearer of ``RAPPORT_METRICS_TOKEN`` only: without a token
    configured there is no such page."""
    token = settings.RAPPORT_METRICS_TOKEN
    if not token:
        raise Http404
    scheme, _space, sent = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(sent.encode(), token.encode()):
        return HttpResponse("A valid metrics token is required.\n", status=403)
    body, content_type = exposition()
    return HttpResponse(body, content_type=content_type)


def not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    return render(request, "404.html", status=404)


def forbidden(request: HttpRequest, exception: Exception) -> HttpResponse:
    return render(request, "403.html", status=403)


def bad_request(request: HttpRequest, exception: Exception) -> HttpResponse:
    return render(request, "400.html", status=400)


RETRY_AFTER_SECONDS = 30


def server_error(request: HttpRequest) -> HttpResponse:
    """The page for an unhandled error. It must render when nothing else works, so it asks
    neither the database nor the request's context processors (the practice's name comes from
    the settings). A database that cannot be reached answers 503 with ``Retry-After``: the
    person (or the proxy) may try again shortly."""
    error = sys.exception()  # Django calls this handler while the exception is being handled
    # Unreachable, restarting, out of connections, locked: not a bug in this request.
    unavailable = isinstance(error, (OperationalError, InterfaceError))
    template, status = ("503.html", 503) if unavailable else ("500.html", 500)
    page = render_to_string(template, {"practice_name": settings.RAPPORT_PRACTICE_NAME})
    response = HttpResponse(page, status=status)
    if unavailable:
        response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response


def csrf_failure(request: HttpRequest, reason: str = "") -> HttpResponse:
    return render(request, "403_csrf.html", status=403)
