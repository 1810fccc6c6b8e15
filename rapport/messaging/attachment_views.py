"""Attachment upload (JSON, for the conversation page's script) and download."""

from __future__ import annotations

import io
import uuid
from typing import Any

from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import InMemoryUploadedFile
from django.core.files.uploadhandler import FileUploadHandler, StopUpload
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import reverse
from django.utils.http import content_disposition_header
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt, csrf_protect
from django.views.decorators.http import require_http_methods, require_POST

from rapport.accounts.models import User
from rapport.messaging import attachments
from rapport.messaging.access import access_conversation

# Room for the multipart framing around the file when the request size is checked up front.
MULTIPART_ALLOWANCE = 64 * 1024


class KeepInMemory(FileUploadHandler):
    """Holds uploads in memory up to ``limit`` bytes in all: Django's default handler would put a
    large file's plaintext in a named temporary file, which a crash can leave behind."""

    def __init__(self, request: HttpRequest, limit: int) -> None:
        super().__init__(request)
        self.limit = limit
        self.received = 0
        self.too_large = False
        self.buffer = io.BytesIO()

    def new_file(self, *args: Any, **kwargs: Any) -> None:
        super().new_file(*args, **kwargs)
        self.buffer = io.BytesIO()

    def receive_data_chunk(self, raw_data: bytes, start: int) -> None:
        self.received += len(raw_data)
        if self.received > self.limit:
            self.too_large = True
            raise StopUpload(connection_reset=False)
        self.buffer.write(raw_data)

    def file_complete(self, file_size: int) -> InMemoryUploadedFile:
        self.buffer.seek(0)
        return InMemoryUploadedFile(
            file=self.buffer,
            field_name=self.field_name,
            name=self.file_name,
            content_type=self.content_type,
            size=file_size,
            charset=self.charset,
            content_type_extra=self.content_type_extra,
        )


def _declared_size(request: HttpRequest) -> int:
    try:
        return int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return 0


def _refused(error: ValidationError) -> JsonResponse:
    return JsonResponse({"error": " ".join(error.messages)}, status=400)


@login_required
@require_POST
@csrf_exempt  # checked in _receive, once the upload handler is in place
def upload(request: HttpRequest, conversation_id: uuid.UUID) -> HttpResponse:
    user: User = request.user  # type: ignore[assignment]
    access_conversation(user, conversation_id)  # outsiders learn nothing, not even the limit
    limit = attachments.size_limit()
    declared = _declared_size(request)
    if declared > limit + MULTIPART_ALLOWANCE:
        # Refused before the body is read.
        try:
            attachments.check_size(declared, limit)
        except ValidationError as exc:
            return _refused(exc)
    handler = KeepInMemory(request, limit)
    request.upload_handlers = [handler]
    return _receive(request, conversation_id, handler)


@csrf_protect
def _receive(
    request: HttpRequest, conversation_id: uuid.UUID, handler: KeepInMemory
) -> HttpResponse:
    user: User = request.user  # type: ignore[assignment]
    uploaded = request.FILES.get("file")
    try:
        if handler.too_large:
            attachments.check_size(max(handler.received, _declared_size(request)), handler.limit)
        if uploaded is None:
            raise ValidationError(_("Choose a file to attach."), code="missing")
        attachment = attachments.store_attachment(user, conversation_id, uploaded, request=request)
    except ValidationError as exc:
        return _refused(exc)
    return JsonResponse(
        {
            "id": str(attachment.uid),
            "name": attachment.name,
            "size": attachment.size,
            "type": attachment.content_type,
            "url": reverse("attachment", args=[attachment.uid]),
        },
        status=201,
    )


@login_required
@require_http_methods(["GET"])
def download(request: HttpRequest, attachment_id: uuid.UUID) -> HttpResponse:
    user: User = request.user  # type: ignore[assignment]
    attachment, data = attachments.open_attachment(user, attachment_id, request=request)
    response = HttpResponse(data, content_type=attachment.content_type)
    response["Content-Disposition"] = content_disposition_header(True, attachment.name)
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "private, no-store"
    # Should a browser ever render it anyway: no script, no network, no embedding elsewhere.
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    response["Cross-Origin-Resource-Policy"] = "same-origin"
    return response
