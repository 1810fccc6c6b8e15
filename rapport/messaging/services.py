"""Writing and reading conversations: send, correct, retract, mark read, fetch.

Every function takes the acting user and goes through ``access_conversation`` inside its
transaction (a new text message through the same rule in SQL, ``access.sendable_sql``, in
``fast_send``), so a participant who lost access is refused on the next message, not the next
connect. A message is committed before anyone hears of it: each write returns the events to
publish, and the caller sends them through ``rapport.core.realtime`` (the socket consumer with
``publish_now`` before it acknowledges the sender, other callers with ``publish_all``, which
waits for the commit).

Ordering: messages take their per-conversation ``seq`` under a lock on the conversation row, so
sequence numbers are gap-free and "everything after N" never misses a message that committed late.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import F, Sum, Value
from django.db.models.functions import Coalesce
from django.http import Http404
from django.urls import reverse
from django.utils import timezone
from django.utils.formats import number_format
from django.utils.translation import gettext as _

from rapport.accounts.models import User
from rapport.audit.services import Action, record
from rapport.care.models import CareRelationship
from rapport.core.realtime import user_group
from rapport.messaging import notifications
from rapport.messaging.access import (
    access_conversation,
    conversation_for,
    conversations_of,
    ensure_conversations,
)
from rapport.messaging.attachments import unsent_attachment
from rapport.messaging.fast_send import Sent, send_fast
from rapport.messaging.models import Attachment, Conversation, Message, Participant, Revision

EDIT_WINDOW = timedelta(minutes=5)
REUSED_ID = "this id was already used for another message"
MAX_TEXT_CHARS = 8000
HISTORY_PAGE = 200

THERAPIST = "therapist"
CLIENT = "client"


@dataclass
class Outcome:
    """What a write did, and the frames to publish once it has committed.

    ``shown`` is the message as browsers see it (the sender's acknowledgement carries it).
    Frames for one person travel together, in one channel-layer event to the person's group
    (``user-<id>``): their messages sockets show them; their events socket takes the unread
    total for the badge in the navigation.
    """

    message: Message | None = None
    created: bool = False
    shown: dict[str, Any] | None = None
    frames: dict[tuple[int, str], list[dict[str, Any]]] = field(default_factory=dict)

    def tell(self, user_id: int, frame: dict[str, Any], origin: str = "") -> None:
        """Frames with an ``origin`` (the sending socket's channel) are for the sender's other
        messages sockets only; the rest go to all of the person's sockets."""
        self.frames.setdefault((user_id, origin), []).append(frame)

    @property
    def events(self) -> list[tuple[str, dict[str, Any]]]:
        return [
            (
                messages_group(user_id) if origin else user_group(user_id),
                {"type": "inbox.event", "frames": frames, "origin": origin},
            )
            for (user_id, origin), frames in self.frames.items()
        ]


def messages_group(user_id: int) -> str:
    """The group of one person's messages sockets (not their events sockets)."""
    return f"messages-{user_id}"


# --- Shapes sent to browsers ---------------------------------------------------------------------


def role_of(conversation: Conversation, user_id: int) -> str:
    return THERAPIST if user_id == conversation.relationship.therapist_id else CLIENT


def peer_id_of(conversation: Conversation, user: User) -> int:
    relationship = conversation.relationship
    return (
        relationship.client_id
        if user.pk == relationship.therapist_id
        else relationship.therapist_id
    )


def peer_of(conversation: Conversation, user: User) -> User:
    relationship = conversation.relationship
    return relationship.client if user.pk == relationship.therapist_id else relationship.therapist


def attachment_json(attachment: Attachment) -> dict[str, Any]:
    return {
        "id": str(attachment.uid),
        "name": attachment.name,
        "size": attachment.size,
        "type": attachment.content_type,
        "url": reverse("attachment", args=[attachment.uid]),
    }


def message_json(conversation: Conversation, message: Message) -> dict[str, Any]:
    """A message as both participants' browsers see it. A retracted message has no text."""
    role = role_of(conversation, message.sender_id)
    relationship = conversation.relationship
    sender = relationship.therapist if role == THERAPIST else relationship.client
    retracted = message.retracted_at is not None
    attachment = message.attachment if message.attachment_id and not retracted else None
    return {
        "conversation": str(conversation.uid),
        "seq": message.seq,
        "id": str(message.client_uid),
        "from": role,
        "name": sender.full_name,
        "text": "" if retracted else message.body,
        "at": message.created_at.isoformat(),
        "edited_at": message.edited_at.isoformat() if message.edited_at else None,
        "retracted": retracted,
        "visit": str(message.visit.uid) if message.visit_id else None,  # type: ignore[union-attr]
        "attachment": attachment_json(attachment) if attachment is not None else None,
    }


# --- Writing -------------------------------------------------------------------------------------


def clean_text(text: object, *, allow_empty: bool = False) -> str:
    if not isinstance(text, str):
        raise ValidationError(_("The message must be text."))
    text = text.replace("\r\n", "\n").strip()
    if "\x00" in text:
        raise ValidationError(_("The message contains a character that cannot be stored."))
    if not text and not allow_empty:
        raise ValidationError(_("Write a message first."))
    if len(text) > MAX_TEXT_CHARS:
        raise ValidationError(
            _("Messages can be up to %(limit)s characters; this one has %(length)s.")
            % {
                "limit": number_format(MAX_TEXT_CHARS, force_grouping=True),
                "length": number_format(len(text), force_grouping=True),
            }
        )
    return text


def send_message(
    user: User,
    conversation_uid: uuid.UUID | str,
    client_uid: uuid.UUID,
    text: str,
    *,
    attachment_uid: uuid.UUID | None = None,
    origin: str = "",
) -> Outcome:
    """Store a message once and say who should hear of it.

    A repeated ``client_uid`` (a retry after a lost acknowledgement) returns the stored message
    with ``created=False`` and nothing to publish; the same id with another text or attachment
    is refused (``REUSED_ID``). A new text message is stored by
    ``fast_send.send_fast``, which does what ``_store`` does in fewer statements; anything else
    (and whatever it leaves alone) takes ``_store``.
    """
    text = clean_text(text, allow_empty=attachment_uid is not None)
    if attachment_uid is None:
        try:
            uid = uuid.UUID(str(conversation_uid))
        except ValueError:
            raise Http404("No such conversation.") from None
        now = timezone.now()
        sent = send_fast(user, uid, client_uid, text, now, notifications.first_look(now))
        if sent is not None:
            return _sent(user, uid, client_uid, text, now, sent, origin)
    with transaction.atomic():
        conversation = access_conversation(user, conversation_uid, lock=True)
        return _store(conversation, user, client_uid, text, attachment_uid, None, origin)


def _sent(
    user: User,
    conversation_uid: uuid.UUID,
    client_uid: uuid.UUID,
    text: str,
    now: datetime,
    sent: Sent,
    origin: str,
) -> Outcome:
    """What ``_store`` returns for a new text message, from what ``send_fast`` stored."""
    target = sent.target
    role = THERAPIST if user.pk == target.therapist_id else CLIENT
    shown = {
        "conversation": str(conversation_uid),
        "seq": sent.seq,
        "id": str(client_uid),
        "from": role,
        "name": target.therapist_name if role == THERAPIST else target.client_name,
        "text": text,
        "at": now.isoformat(),
        "edited_at": None,
        "retracted": False,
        "visit": None,
        "attachment": None,
    }
    outcome = Outcome(created=True, shown=shown)
    _tell_arrival(outcome, user.pk, sent.peer_id, shown, sent.unread, sent.total, origin)
    return outcome


def _tell_arrival(
    outcome: Outcome,
    sender_id: int,
    peer_id: int,
    shown: dict[str, Any],
    unread: int,
    total: int,
    origin: str,
) -> None:
    """A new message: to the recipient with their unread counts after it (one frame, where the
    counts would otherwise follow in an ``unread`` frame of their own), and to the sender's other
    tabs."""
    outcome.tell(peer_id, {"type": "message", "message": shown, "unread": unread, "total": total})
    outcome.tell(sender_id, {"type": "message", "message": shown}, origin)


def store_visit_chat(
    conversation: Conversation,
    user: User,
    client_uid: uuid.UUID,
    text: str,
    visit: Any,
    *,
    seen_live: bool,
) -> Outcome:
    """Chat typed in a live session (the room has checked the sender is in it).

    ``seen_live``: the other person is in the room and is shown the line as it is sent, so it
    is not unread for them in Messages afterwards."""
    with transaction.atomic():
        locked = (
            Conversation.objects.select_for_update(of=("self",))
            .select_related("relationship__therapist", "relationship__client")
            .get(pk=conversation.pk)
        )
        return _store(
            locked, user, client_uid, clean_text(text), None, visit, "", seen_live=seen_live
        )


def _store(
    conversation: Conversation,
    user: User,
    client_uid: uuid.UUID,
    text: str,
    attachment_uid: uuid.UUID | None,
    visit: Any,
    origin: str,
    *,
    seen_live: bool = False,
) -> Outcome:
    stored = Message.objects.filter(sender=user, client_uid=client_uid).first()
    if stored is not None:
        if not _same_message(stored, conversation, text, attachment_uid):
            raise ValidationError(REUSED_ID)
        stored.conversation = conversation
        return Outcome(message=stored, shown=message_json(conversation, stored))
    attachment = None
    if attachment_uid is not None:
        attachment = unsent_attachment(user, conversation, attachment_uid)
    now = timezone.now()
    seq = conversation.last_seq + 1
    message = Message.objects.create(
        conversation=conversation,
        seq=seq,
        sender=user,
        client_uid=client_uid,
        body=text,
        attachment=attachment,
        visit=visit,
        created_at=now,
    )
    Conversation.objects.filter(pk=conversation.pk).update(last_seq=seq, last_message_at=now)
    conversation.last_seq, conversation.last_message_at = seq, now
    peer = peer_of(conversation, user)
    recipient, _ = Participant.objects.get_or_create(conversation=conversation, user=peer)
    shown = message_json(conversation, message)
    outcome = Outcome(message=message, created=True, shown=shown)
    if seen_live:
        _seen_live(outcome, conversation, recipient, message)
        unread = recipient.unread
    else:
        # One more unread message; the unread-email delay starts unless one is running.
        Participant.objects.filter(pk=recipient.pk).update(
            unread=F("unread") + 1,
            notice_due_at=Coalesce("notice_due_at", Value(notifications.first_look(now))),
        )
        unread = recipient.unread + 1
    _tell_arrival(outcome, user.pk, peer.pk, shown, unread, total_unread(peer), origin)
    return outcome


def _seen_live(
    outcome: Outcome, conversation: Conversation, recipient: Participant, message: Message
) -> None:
    """A chat line its recipient saw in the room as it was sent: it is not counted as unread.
    When nothing from the sender before it is unread, the recipient's read mark moves over it
    (a read receipt, as if they had read it in Messages); otherwise the mark stays where it is,
    so that it never passes a message they have not seen."""
    if recipient.unread != 0:
        return
    recipient.last_read_seq, recipient.read_at = message.seq, message.created_at
    recipient.save(update_fields=["last_read_seq", "read_at"])
    receipt = {
        "type": "read",
        "conversation": str(conversation.uid),
        "by": role_of(conversation, recipient.user_id),
        "seq": message.seq,
        "at": message.created_at.isoformat(),
    }
    outcome.tell(message.sender_id, receipt)
    outcome.tell(recipient.user_id, receipt)


def _same_message(
    stored: Message, conversation: Conversation, text: str, attachment_uid: uuid.UUID | None
) -> bool:
    """A repeated id is a resend of ``stored`` when it carries what was first sent there (a
    later correction does not change that): same conversation, text and attachment."""
    first = stored.revisions.order_by("replaced_at", "pk").first()
    sent_text = first.body if first is not None else stored.body
    sent_attachment = stored.attachment.uid if stored.attachment is not None else None
    return (
        stored.conversation_id == conversation.pk
        and sent_text == text
        and sent_attachment == attachment_uid
    )


def _own_message(user: User, client_uid: uuid.UUID, verb: str) -> tuple[Conversation, Message]:
    message = (
        Message.objects.select_for_update(of=("self",))
        .filter(sender=user, client_uid=client_uid)
        .select_related("conversation")
        .first()
    )
    if message is None:
        raise ValidationError(_("There is no such message of yours."))
    conversation = access_conversation(user, message.conversation.uid)
    if message.retracted_at is not None:
        raise ValidationError(_("That message was retracted."))
    if message.visit_id is not None:
        raise ValidationError(
            _("Chat from a live session cannot be corrected.")
            if verb == "corrected"
            else _("Chat from a live session cannot be retracted.")
        )
    if timezone.now() - message.created_at > EDIT_WINDOW:
        raise ValidationError(
            _("Messages can be corrected within 5 minutes of sending.")
            if verb == "corrected"
            else _("Messages can be retracted within 5 minutes of sending.")
        )
    return conversation, message


def edit_message(user: User, client_uid: uuid.UUID, text: str, *, origin: str = "") -> Outcome:
    """Correct one's own message within 5 minutes; the earlier text is kept as a revision."""
    text = clean_text(text)
    with transaction.atomic():
        conversation, message = _own_message(user, client_uid, "corrected")
        if text == message.body:
            return Outcome(message=message, shown=message_json(conversation, message))
        Revision.objects.create(message=message, kind=Revision.Kind.EDITED, body=message.body)
        message.body, message.edited_at = text, timezone.now()
        message.save(update_fields=["body", "edited_at"])
        record(
            Action.MESSAGE_EDITED,
            actor=user,
            obj=message,
            client=conversation.relationship.client,
            conversation=str(conversation.uid),
            seq=message.seq,
        )
        return _changed(conversation, message, origin)


def retract_message(user: User, client_uid: uuid.UUID, *, origin: str = "") -> Outcome:
    """Take back one's own message within 5 minutes: both see a tombstone, the record keeps it."""
    with transaction.atomic():
        conversation, message = _own_message(user, client_uid, "retracted")
        Revision.objects.create(message=message, kind=Revision.Kind.RETRACTED, body=message.body)
        message.retracted_at = timezone.now()
        message.save(update_fields=["retracted_at"])
        record(
            Action.MESSAGE_RETRACTED,
            actor=user,
            obj=message,
            client=conversation.relationship.client,
            conversation=str(conversation.uid),
            seq=message.seq,
        )
        return _changed(conversation, message, origin)


def _changed(conversation: Conversation, message: Message, origin: str) -> Outcome:
    shown = message_json(conversation, message)
    outcome = Outcome(message=message, created=True, shown=shown)
    relationship = conversation.relationship
    for user_id in (relationship.therapist_id, relationship.client_id):
        outcome.tell(user_id, {"type": "updated", "message": shown}, origin)
    return outcome


def mark_read(user: User, conversation_uid: uuid.UUID | str, seq: int) -> Outcome:
    """``user`` has seen everything up to ``seq``: a read receipt for the other person."""
    with transaction.atomic():
        # Locked, as a send locks it: ``last_seq`` cannot move until this commits.
        conversation = access_conversation(user, conversation_uid, lock=True, people=False)
        me = (
            Participant.objects.select_for_update()
            .filter(conversation=conversation, user=user)
            .first()
        )
        if me is None:
            me = Participant.objects.create(conversation=conversation, user=user)
        upto = min(max(seq, 0), conversation.last_seq)
        outcome = Outcome()
        if upto <= me.last_read_seq:
            return outcome
        now = timezone.now()
        me.last_read_seq, me.read_at = upto, now
        me.unread = (
            0  # read to the newest message (the usual case): nothing after it to count
            if upto == conversation.last_seq
            else Message.objects.filter(conversation=conversation, seq__gt=upto)
            .exclude(sender=user)
            .count()
        )
        if me.unread == 0:
            me.notice_due_at = None  # nothing left to email about: the cycle ends
        me.save(update_fields=["last_read_seq", "read_at", "unread", "notice_due_at"])
        receipt = {
            "type": "read",
            "conversation": str(conversation.uid),
            "by": role_of(conversation, user.pk),
            "seq": upto,
            "at": now.isoformat(),
        }
        outcome.tell(peer_id_of(conversation, user), receipt)
        outcome.tell(user.pk, receipt)
        _tell_unread(outcome, conversation, user, me.unread)
        return outcome


def _tell_unread(outcome: Outcome, conversation: Conversation, user: User, count: int) -> None:
    total = total_unread(user)
    outcome.tell(
        user.pk,
        {"type": "unread", "conversation": str(conversation.uid), "count": count, "total": total},
    )


def typing(user: User, conversation_uid: uuid.UUID | str) -> Outcome:
    conversation = access_conversation(user, conversation_uid, people=False)
    outcome = Outcome()
    outcome.tell(
        peer_id_of(conversation, user),
        {
            "type": "typing",
            "conversation": str(conversation.uid),
            "by": role_of(conversation, user.pk),
        },
    )
    return outcome


# --- Reading -------------------------------------------------------------------------------------


def total_unread(user: User | int) -> int:
    """Unread messages across the user's open conversations (the badge in the navigation)."""
    user_id = user if isinstance(user, int) else user.pk
    relationship = "conversation__relationship__"
    total: int = Participant.objects.filter(
        user_id=user_id,
        **{
            f"{relationship}status": CareRelationship.Status.ACTIVE,
            f"{relationship}therapist__is_active": True,
            f"{relationship}client__is_active": True,
        },
    ).aggregate(total=Coalesce(Sum("unread"), 0))["total"]
    return total


def messages_after(
    user: User, conversation_uid: uuid.UUID | str, after: int, limit: int = HISTORY_PAGE
) -> tuple[Conversation, list[Message], bool]:
    """Messages with ``seq > after`` in order, at most ``limit``; and whether more follow."""
    conversation = access_conversation(user, conversation_uid)
    rows = list(
        Message.objects.filter(conversation=conversation, seq__gt=after)
        .select_related("attachment", "visit")
        .order_by("seq")[: limit + 1]
    )
    return conversation, rows[:limit], len(rows) > limit


def changed_since(
    conversation: Conversation, upto: int, since: datetime, limit: int = HISTORY_PAGE
) -> list[Message]:
    """Messages up to ``seq`` ``upto`` corrected or retracted after ``since`` (a page that was
    offline shows them as they are now)."""
    from django.db.models import Q

    return list(
        Message.objects.filter(conversation=conversation, seq__lte=upto)
        .filter(Q(edited_at__gt=since) | Q(retracted_at__gt=since))
        .select_related("attachment", "visit")
        .order_by("seq")[:limit]
    )


def messages_before(
    conversation: Conversation, before: int | None, limit: int = 50
) -> tuple[list[Message], bool]:
    """The newest ``limit`` messages before ``seq`` ``before`` (all when None), oldest first."""
    rows = Message.objects.filter(conversation=conversation)
    if before is not None:
        rows = rows.filter(seq__lt=before)
    page = list(
        rows.select_related("attachment", "visit")
        .prefetch_related("revisions")
        .order_by("-seq")[: limit + 1]
    )
    return list(reversed(page[:limit])), len(page) > limit


@dataclass
class InboxRow:
    conversation: Conversation
    peer: User
    unread: int
    last_message_at: datetime | None


def inbox(user: User) -> list[InboxRow]:
    """The user's conversations, newest activity first (never-used ones last, by name)."""
    ensure_conversations(user)
    conversations = list(
        conversations_of(user).select_related("relationship__therapist", "relationship__client")
    )
    unread = dict(
        Participant.objects.filter(user=user, conversation__in=conversations).values_list(
            "conversation_id", "unread"
        )
    )
    rows = [
        InboxRow(c, peer_of(c, user), unread.get(c.pk, 0), c.last_message_at) for c in conversations
    ]
    epoch = datetime.min.replace(tzinfo=UTC)
    rows.sort(key=lambda row: row.peer.full_name)
    rows.sort(key=lambda row: row.last_message_at or epoch, reverse=True)
    return rows


def welcome(user: User) -> dict[str, Any]:
    """The messages socket's first frame: the user's open conversations (how a client learns
    their ids), newest activity first, and the unread counts."""
    rows = inbox(user)
    unread = {str(row.conversation.uid): row.unread for row in rows if row.unread}
    return {
        "type": "welcome",
        "conversations": [
            {
                "id": str(row.conversation.uid),
                "with": row.peer.full_name,
                "unread": row.unread,
                "last_seq": row.conversation.last_seq,
            }
            for row in rows
        ],
        "unread": unread,
        "total": sum(unread.values()),
    }


def participants_read(conversation: Conversation) -> dict[int, int]:
    """How far each participant has read (user id → seq), for read receipts."""
    return dict(
        Participant.objects.filter(conversation=conversation).values_list(
            "user_id", "last_read_seq"
        )
    )


def check_participant(conversation: Conversation, user: User) -> None:
    if user.pk not in (conversation.relationship.therapist_id, conversation.relationship.client_id):
        raise PermissionDenied("not a participant")


__all__ = [
    "conversation_for",
    "edit_message",
    "inbox",
    "mark_read",
    "messages_after",
    "retract_message",
    "send_message",
    "typing",
]
