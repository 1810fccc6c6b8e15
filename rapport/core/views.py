"""The health check and the error pages."""

from __future__ import annotations

import sys

from django.conf import settings
from django.db import InterfaceError, OperationalError, connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.template.loader import render_to_string
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods


@never_cache
@require_http_methods(["GET", "HEAD"])
def healthz(request: HttpRequest) -> HttpResponse:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return JsonResponse({"status": "ok"})


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
