"""Messaging settings page (being written)."""

from django.http import Http404, HttpRequest, HttpResponse


def messaging_settings(request: HttpRequest) -> HttpResponse:
    raise Http404
