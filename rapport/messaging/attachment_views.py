"""Attachment upload and download (being written)."""

from django.http import Http404, HttpRequest, HttpResponse


def upload(request: HttpRequest, conversation_id: object) -> HttpResponse:
    raise Http404


def download(request: HttpRequest, attachment_id: object) -> HttpResponse:
    raise Http404
