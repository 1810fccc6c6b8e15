"""The inbox and the conversation page.

Both work without JavaScript: the conversation page renders the newest messages, links to earlier
ones and sends through an ordinary form (with a server-made id, so a double submit stores once).
``conversation.js`` then takes over: live delivery, typing, receipts, an offline queue and uploads
with progress over the messages socket.
"""

from __future__ import annotations

import uuid
from typing import Any

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from rapport.accounts.models import Practice, User
from rapport.core import realtime
from rapport.crisis.resources import resources_for
from rapport.messaging import services
from rapport.messaging.access import access_conversation, audit_messages_read
from rapport.messaging.attachments import store_attachment
from rapport.messaging.models import Conversation, Message
from rapport.messaging.office_hours import expectation

PAGE = 50


def _user(request: HttpRequest) -> User:
    return request.user  # type: ignore[return-value]


def _participant_only(user: User) -> None:
    if not (user.is_therapist or user.is_client):
        raise PermissionDenied("Messages are between clients and their therapists.")


@login_required
@require_http_methods(["GET"])
def inbox(request: HttpRequest) -> HttpResponse:
    user = _user(request)
    _participant_only(user)
    rows = services.inbox(user)
    return render(
        request,
        "messaging/inbox.html",
        {"rows": rows, "total": sum(row.unread for row in rows)},
    )


@login_required
@require_http_methods(["GET", "POST"])
def conversation(request: HttpRequest, conversation_id: uuid.UUID) -> HttpResponse:
    user = _user(request)
    _participant_only(user)
    chat = access_conversation(user, conversation_id)
    error = ""
    text = ""
    if request.method == "POST":
        text = request.POST.get("text", "")
        try:
            _send_from_form(request, user, chat)
        except ValidationError as exc:
            error = " ".join(exc.messages)
        else:
            return redirect(reverse("conversation", args=[chat.uid]) + "#latest")
    before = _before(request)
    shown, earlier = services.messages_before(chat, before, PAGE)
    if shown:
        audit_messages_read(user, chat, request=request)
    read = services.participants_read(chat)
    # Read receipts only move forward: a page with nothing new to this reader (most visits)
    # writes nothing and takes no lock.
    if before is None and shown and shown[-1].seq > read.get(user.pk, 0):
        realtime.publish_all(services.mark_read(user, chat.uid, shown[-1].seq).events)
    return render(
        request,
        "messaging/conversation.html",
        _conversation_context(
            user, chat, shown, earlier, read, before=before, error=error, text=text
        ),
        status=400 if error else 200,
    )


def _before(request: HttpRequest) -> int | None:
    raw = request.GET.get("before", "")
    if not raw:
        return None
    # ASCII digits only ("²" is a digit to isdigit), and no more than a sequence number holds.
    if not (raw.isascii() and raw.isdigit()) or len(raw) > 18:
        raise Http404("No such page of messages.")
    return int(raw)


def _send_from_form(request: HttpRequest, user: User, chat: Conversation) -> None:
    try:
        ident = uuid.UUID(request.POST.get("id", ""))
    except ValueError:
        raise ValidationError(_("The form was incomplete; please send again.")) from None
    upload = request.FILES.get("file")
    attachment_uid = None
    if upload is not None:
        attachment_uid = store_attachment(user, chat.uid, upload).uid
    outcome = services.send_message(
        user, chat.uid, ident, request.POST.get("text", ""), attachment_uid=attachment_uid
    )
    realtime.publish_all(outcome.events)


def _conversation_context(
    user: User,
    chat: Conversation,
    shown: list[Message],
    earlier: bool,
    read: dict[int, int],
    *,
    before: int | None = None,
    error: str,
    text: str,
) -> dict[str, Any]:
    """``read``: how far each participant has read (``services.participants_read``)."""
    relationship = chat.relationship
    peer = services.peer_of(chat, user)
    practice = Practice.get()
    rows = [
        {
            "message": message,
            "mine": message.sender_id == user.pk,
            "from": services.role_of(chat, message.sender_id),
            "name": (
                relationship.therapist
                if message.sender_id == relationship.therapist_id
                else relationship.client
            ).full_name,
            "editable_until": (message.created_at + services.EDIT_WINDOW).isoformat(),
        }
        for message in shown
    ]
    now = timezone.now()
    return {
        "chat": chat,
        "peer": peer,
        "rows": rows,
        "earlier": earlier,
        "first_seq": shown[0].seq if shown else None,
        # An earlier page (?before=) shows history only: writing happens on the newest page.
        "history_page": before is not None,
        "peer_read_seq": read.get(peer.pk, 0),
        "expectation": expectation(relationship.therapist, now, viewer=user),
        # The client's crisis help, whichever of the two is reading.
        "crisis_help": resources_for(relationship.client),
        "limit_mb": practice.message_attachment_limit_mb,
        "error": error,
        "text": text,
        "new_id": uuid.uuid4(),
        "config": {
            "conversation": str(chat.uid),
            "role": services.role_of(chat, user.pk),
            "me": user.full_name,
            "peer": peer.full_name,
            "time_zone": user.time_zone,
            "last_seq": shown[-1].seq if shown else chat.last_seq,
            "rendered_at": now.isoformat(),
            "peer_read_seq": read.get(peer.pk, 0),
            "upload_url": reverse("attachment_upload", args=[chat.uid]),
            "edit_minutes": int(services.EDIT_WINDOW.total_seconds() // 60),
            "limit_bytes": practice.message_attachment_limit_mb * 1024 * 1024,
        },
    }
