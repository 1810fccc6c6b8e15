"""Inbox and conversation pages (being written)."""

from django.http import Http404, HttpRequest, HttpResponse


def inbox(request: HttpRequest) -> HttpResponse:
    raise Http404


def conversation(request: HttpRequest, conversation_id: object) -> HttpResponse:
    raise Http404
