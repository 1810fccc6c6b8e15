"""Writing and reading conversations: send, correct, retract, mark read, fetch.

Every function takes the acting user and goes through ``access_conversation`` inside its
transaction, so a participant who lost access is refused on the next message, not the next
connect. A message is committed before anyone hears of it: each write returns the events to
publish, and the caller sends them after the transaction (the socket consumer directly, other
callers through ``publish``).

Ordering: messages take their per-conversation ``seq`` under a lock on the conversation row, so
sequence numbers are gap-free and "everything after N" never misses a message that committed late.
"""

from __future__ import annotations

import functools
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection, models, transaction
from django.db.models import F
from django.http import Http404
from django.urls import reverse
from django.utils import timezone

from rapport.accounts.models import User
from rapport.audit.services import Action, record
from rapport.care.models import CareRelationship
from rapport.core import realtime
from rapport.core.realtime import user_group
from rapport.messaging import notifications
from rapport.messaging.access import (
    Sendable,
    access_conversation,
    conversation_for,
    sendable_sql,
)
from rapport.messaging.models import Attachment, Conversation, Message, Participant, Revision
from rapport.messaging.preferences import DEFAULT_DELAY_MINUTES

EDIT_WINDOW = timedelta(minutes=5)
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


def publish(events: list[tuple[str, dict[str, Any]]]) -> None:
    """Send events from synchronous code (views, tasks, the session room) once committed."""
    realtime.publish_all(events)


# --- Shapes sent to browsers ---------------------------------------------------------------------


def role_of(conversation: Conversation, user_id: int) -> str:
    return THERAPIST if user_id == conversation.relationship.therapist_id else CLIENT


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
        raise ValidationError("The message must be text.")
    text = text.replace("\r\n", "\n").strip()
    if "\x00" in text:
        raise ValidationError("The message contains a character that cannot be stored.")
    if not text and not allow_empty:
        raise ValidationError("Write a message first.")
    if len(text) > MAX_TEXT_CHARS:
        raise ValidationError(
            f"Messages can be up to {MAX_TEXT_CHARS:,} characters; this one has {len(text):,}."
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
    with ``created=False`` and nothing to publish.
    """
    text = clean_text(text, allow_empty=attachment_uid is not None)
    if attachment_uid is None:
        return _send_text(user, uuid.UUID(str(conversation_uid)), client_uid, text, origin)
    with transaction.atomic():
        conversation = access_conversation(user, conversation_uid, lock=True)
        return _store(conversation, user, client_uid, text, attachment_uid, None, origin)


def _db(model: type[models.Model], name: str, value: Any) -> Any:
    """``value`` as the database stores it in ``model.name`` (encrypted for encrypted fields)."""
    column = model._meta.get_field(name)
    if not isinstance(column, models.Field):
        raise TypeError(f"{name} is not a column")
    return column.get_db_prep_save(value, connection)


def _send_text(
    user: User, conversation_uid: uuid.UUID, client_uid: uuid.UUID, text: str, origin: str
) -> Outcome:
    """The hot path of ``send_message`` (a text message) in raw SQL: four statements on SQLite,
    one on PostgreSQL (where each statement is a round trip to the server).

    It does what ``_store`` does; building ORM queries cost several times more than running them,
    and this runs hundreds of times a second. A repeated id takes the ORM path.

    On PostgreSQL, when the recipient's unread-email delay is already running (every message
    after the first until that email is due), nothing else has to happen in the transaction: the
    one statement is sent on its own and is the transaction (one round trip instead of three,
    with BEGIN and COMMIT). Otherwise — the first message of a delay, a repeated id, a refusal —
    it changes nothing and the transaction below does the work.
    """
    now = timezone.now()
    sent = None
    if connection.vendor == "postgresql" and connection.get_autocommit():
        sent = _insert_while_notice_runs(user, conversation_uid, client_uid, text, now)
    if sent is None:
        with transaction.atomic():
            if connection.vendor == "postgresql":
                sent = _insert_in_one_statement(user, conversation_uid, client_uid, text, now)
            else:
                sent = _insert_statement_by_statement(user, conversation_uid, client_uid, text, now)
            if sent is None:  # a repeated id: the stored message, through the ORM
                chat = access_conversation(user, conversation_uid, lock=True)
                return _store(chat, user, client_uid, text, None, None, origin)
            if sent.participant_id is None:  # a conversation from before participants existed
                Participant.objects.get_or_create(
                    conversation_id=sent.target.pk, user_id=sent.peer_id
                )
                bumped = _count_unread(sent.target.pk, sent.peer_id, now)
                if bumped is None:
                    raise RuntimeError("the recipient has no participant row")
                sent.participant_id, sent.unread, sent.started = bumped
                sent.total = total_unread(sent.peer_id)
            if sent.started:
                notifications.cycle_started(sent.participant_id, now)
    target, peer_id = sent.target, sent.peer_id
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
    _tell_arrival(outcome, user.pk, peer_id, shown, sent.unread, sent.total, origin)
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


@dataclass
class Sent:
    """What the send statements stored (a repeated id gives None instead)."""

    target: Sendable
    seq: int
    peer_id: int
    participant_id: int | None  # None: the recipient has no participant row yet
    unread: int = 0  # the recipient's count in this conversation
    started: bool = False  # an unread-email cycle began with this message
    total: int = 0  # the recipient's unread messages in all open conversations


def _tables() -> tuple[str, str, str]:
    return Message._meta.db_table, Conversation._meta.db_table, Participant._meta.db_table


def _peer(user: User, target: Sendable) -> int:
    return target.client_id if user.pk == target.therapist_id else target.therapist_id


def _insert_statement_by_statement(
    user: User, conversation_uid: uuid.UUID, client_uid: uuid.UUID, text: str, now: datetime
) -> Sent | None:
    """SQLite: the access check, then the writes one by one (four statements in the transaction),
    on the driver's own cursor: Django's cursor wrapper cost more per statement than SQLite took
    to run it, on the database thread, holding the interpreter lock the sockets need.

    A repeated id inserts nothing (``ON CONFLICT DO NOTHING``) and gives None. The recipient's
    total comes back with their count: the other open conversations' counts plus this one's."""
    if not user.is_active:
        raise Http404("No such conversation.")
    access_sql, access_params = sendable_sql(user, conversation_uid)
    insert_sql, moved_sql, bumped_sql = _sqlite_send_statements()
    connection.ensure_connection()
    cursor = connection.connection.cursor()
    # Driver errors become Django's (IntegrityError, OperationalError …) and mark a connection
    # that may be broken, as on Django's own cursors (rapport.core.db closes such connections).
    with connection.wrap_database_errors:
        try:
            cursor.execute(_qmark(access_sql), access_params)
            row = cursor.fetchone()
            if row is None:
                raise Http404("No such conversation.")
            target = Sendable(row[0], conversation_uid, row[1], row[2], row[3], row[4], row[5])
            seq = target.last_seq + 1
            when = _db(Message, "created_at", now)
            client_uid_db, body = _db(Message, "client_uid", client_uid), _db(Message, "body", text)
            cursor.execute(insert_sql, [target.pk, seq, user.pk, client_uid_db, body, when])
            if cursor.rowcount == 0:
                return None
            cursor.execute(moved_sql, [seq, when, target.pk])
            peer_id = _peer(user, target)
            due, stale = _notice_times(now)
            active = CareRelationship.Status.ACTIVE.value
            cursor.execute(bumped_sql, [stale, due, target.pk, peer_id, due, active, True, True])
            bumped = cursor.fetchone()
        finally:
            cursor.close()
    if bumped is None:
        return Sent(target, seq, peer_id, None)
    participant_id, unread, started, others = bumped
    return Sent(target, seq, peer_id, participant_id, unread, bool(started), int(others) + unread)


_qmarked: dict[str, str] = {}


def _qmark(sql: str) -> str:
    """Django's ``%s`` placeholders as the sqlite3 driver's ``?`` (converted once per query)."""
    converted = _qmarked.get(sql)
    if converted is None:
        converted = _qmarked[sql] = sql.replace("%s", "?")
    return converted


@functools.cache
def _sqlite_send_statements() -> tuple[str, str, str]:
    """The send path's writes on SQLite, with ``?`` placeholders: the insert (nothing on a
    repeated id), the conversation's sequence, and the recipient's count and email delay with
    their unread messages in their other open conversations."""
    message, conversation, participant = _tables()
    others, _ = _total_unread_sql("%s", [])
    others = others.replace(
        "WHERE pa.user_id = %s",
        f"WHERE pa.user_id = {participant}.user_id AND pa.id <> {participant}.id",
    )
    insert = (
        f"INSERT INTO {message} (conversation_id, seq, sender_id, client_uid, "  # noqa: S608 (tables from model metadata)
        "body, attachment_id, visit_id, created_at, edited_at, retracted_at) "
        "VALUES (%s, %s, %s, %s, %s, NULL, NULL, %s, NULL, NULL) "
        "ON CONFLICT (sender_id, client_uid) DO NOTHING"
    )
    moved = f"UPDATE {conversation} SET last_seq = %s, last_message_at = %s WHERE id = %s"  # noqa: S608 (tables from model metadata)
    bumped = (
        f"UPDATE {participant} SET unread = unread + 1, notice_due_at = CASE "  # noqa: S608 (tables from model metadata)
        "WHEN notice_due_at IS NULL OR notice_due_at < %s THEN %s ELSE notice_due_at END "
        "WHERE conversation_id = %s AND user_id = %s "
        f"RETURNING id, unread, CASE WHEN notice_due_at = %s THEN 1 ELSE 0 END, ({others})"
    )
    return _qmark(insert), _qmark(moved), _qmark(bumped)


def _notice_times(now: datetime) -> tuple[Any, Any]:
    """(default due time, "stale before") as the database stores them."""
    due = _db(Message, "created_at", now + timedelta(minutes=DEFAULT_DELAY_MINUTES))
    return due, _db(Message, "created_at", now - notifications.STALE_AFTER)


def _count_unread(
    conversation_id: int, peer_id: int, now: datetime
) -> tuple[int, int, bool] | None:
    """One more unread message for ``peer_id``, and the unread email's delay if none is
    running: (participant id, unread, whether a cycle started), None without a participant."""
    _, _, participant = _tables()
    due, stale = _notice_times(now)
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {participant} SET unread = unread + 1, notice_due_at = CASE "  # noqa: S608 (tables from model metadata)
            "WHEN notice_due_at IS NULL OR notice_due_at < %s THEN %s ELSE notice_due_at END "
            "WHERE conversation_id = %s AND user_id = %s "
            "RETURNING id, unread, CASE WHEN notice_due_at = %s THEN 1 ELSE 0 END",
            [stale, due, conversation_id, peer_id, due],
        )
        row = cursor.fetchone()
    return None if row is None else (row[0], row[1], bool(row[2]))


def _prepared_cursor() -> Any:
    """A PostgreSQL cursor whose statements are prepared once per connection and then reused:
    parameters go to the server separately (server-side binding), so the server parses and plans
    the send statement once instead of for every message. Django's own cursors bind on the client
    and never prepare (a connection pooler in transaction mode could not keep prepared
    statements; docs/deployment.md says what that needs)."""
    import psycopg

    connection.ensure_connection()
    raw = connection.connection
    if raw.prepare_threshold is None:
        raw.prepare_threshold = 0  # prepare on first use; only this cursor binds on the server
    cursor = psycopg.Cursor(raw)
    if connection.queries_logged:  # as Django's own cursors: logged when DEBUG or a test asks
        return connection.make_debug_cursor(cursor)  # type: ignore[arg-type]  # stubs say CursorWrapper; it wraps a driver cursor
    return connection.make_cursor(cursor)  # type: ignore[arg-type]  # as above


# In the send statements: the recipient, from the access check's row (``target``) and the sender.
_PEER_SQL = "CASE WHEN target.therapist_id = %s THEN target.client_id ELSE target.therapist_id END"


def _target_and_total(
    user: User, conversation_uid: uuid.UUID
) -> tuple[str, list[Any], str, list[Any]]:
    """For PostgreSQL's send statements: the access check (the CTE ``target``) and the
    recipient's unread total as of before the statement, each with its parameters."""
    target_sql, target_params = sendable_sql(user, conversation_uid)
    total_sql, total_params = _total_unread_sql(_PEER_SQL, [user.pk])
    return target_sql, target_params, total_sql, total_params


def _insert_while_notice_runs(
    user: User, conversation_uid: uuid.UUID, client_uid: uuid.UUID, text: str, now: datetime
) -> Sent | None:
    """PostgreSQL, outside a transaction: ``_insert_in_one_statement`` for a recipient whose
    email delay runs (``notice_due_at`` set and not stale), as a statement that is a transaction
    of its own. It locks the conversation row and then the recipient's row (the order of the
    full path; marking read locks that row too), and stores nothing — giving None — unless the
    delay runs, the id is new and the sender may write here: the full path then decides."""
    if not user.is_active:
        return None
    message, conversation, participant = _tables()
    target_sql, target_params, total_sql, total_params = _target_and_total(user, conversation_uid)
    when = _db(Message, "created_at", now)
    _, stale = _notice_times(now)
    sql = (
        f"WITH target AS ({target_sql}), "  # noqa: S608 (tables from model metadata)
        f"running AS (SELECT pa.id FROM {participant} pa JOIN target "
        f"ON pa.conversation_id = target.id WHERE pa.user_id = {_PEER_SQL} "
        "AND pa.notice_due_at >= %s FOR UPDATE OF pa), "
        f"stored AS (INSERT INTO {message} (conversation_id, seq, sender_id, client_uid, body, "
        "attachment_id, visit_id, created_at, edited_at, retracted_at) "
        "SELECT target.id, target.last_seq + 1, %s, %s, %s, NULL, NULL, %s, NULL, NULL "
        "FROM target, running ON CONFLICT (sender_id, client_uid) DO NOTHING "
        "RETURNING conversation_id, seq), "
        f"moved AS (UPDATE {conversation} SET last_seq = stored.seq, last_message_at = %s "
        f"FROM stored WHERE {conversation}.id = stored.conversation_id RETURNING 1), "
        f"bumped AS (UPDATE {participant} pa SET unread = pa.unread + 1 FROM stored, running "
        "WHERE pa.id = running.id RETURNING pa.id, pa.unread) "
        "SELECT target.id, target.last_seq, target.therapist_id, target.client_id, "
        f"target.therapist_name, target.client_name, stored.seq, bumped.id, bumped.unread, "
        f"({total_sql}) FROM target JOIN stored ON TRUE JOIN bumped ON TRUE"
    )
    params = [
        *target_params,
        user.pk,
        stale,
        user.pk,
        _db(Message, "client_uid", client_uid),
        _db(Message, "body", text),
        when,
        when,
        *total_params,
    ]
    with _prepared_cursor() as cursor:
        cursor.execute(sql, params)
        row = cursor.fetchone()
    if row is None:
        return None
    target = Sendable(row[0], conversation_uid, row[1], row[2], row[3], row[4], row[5])
    seq, participant_id, unread, total = row[6:]
    return Sent(target, seq, _peer(user, target), participant_id, unread, False, int(total) + 1)


def _insert_in_one_statement(
    user: User, conversation_uid: uuid.UUID, client_uid: uuid.UUID, text: str, now: datetime
) -> Sent | None:
    """PostgreSQL: the same checks and writes as ``_insert_statement_by_statement`` in one
    statement (one round trip): the access check locks the conversation row, the insert skips a
    repeated id, and the conversation and the recipient's count change only when it inserted.
    The recipient's total is read from before the statement, so it gets the new message added."""
    if not user.is_active:
        raise Http404("No such conversation.")
    message, conversation, participant = _tables()
    target_sql, target_params, total_sql, total_params = _target_and_total(user, conversation_uid)
    when = _db(Message, "created_at", now)
    due, stale = _notice_times(now)
    sql = (
        f"WITH target AS ({target_sql}), "  # noqa: S608 (tables from model metadata)
        f"stored AS (INSERT INTO {message} (conversation_id, seq, sender_id, client_uid, body, "
        "attachment_id, visit_id, created_at, edited_at, retracted_at) "
        "SELECT target.id, target.last_seq + 1, %s, %s, %s, NULL, NULL, %s, NULL, NULL "
        "FROM target ON CONFLICT (sender_id, client_uid) DO NOTHING "
        "RETURNING conversation_id, seq), "
        f"moved AS (UPDATE {conversation} SET last_seq = stored.seq, last_message_at = %s "
        f"FROM stored WHERE {conversation}.id = stored.conversation_id RETURNING 1), "
        f"bumped AS (UPDATE {participant} pa SET unread = pa.unread + 1, notice_due_at = CASE "
        "WHEN pa.notice_due_at IS NULL OR pa.notice_due_at < %s THEN %s "
        "ELSE pa.notice_due_at END FROM stored, target "
        f"WHERE pa.conversation_id = stored.conversation_id AND pa.user_id = {_PEER_SQL} "
        "RETURNING pa.id, pa.unread, CASE WHEN pa.notice_due_at = %s THEN 1 ELSE 0 END AS started) "
        f"SELECT target.id, target.last_seq, target.therapist_id, target.client_id, "
        f"target.therapist_name, target.client_name, stored.seq, bumped.id, bumped.unread, "
        f"bumped.started, ({total_sql}) "
        "FROM target LEFT JOIN stored ON TRUE LEFT JOIN bumped ON TRUE"
    )
    params = [
        *target_params,
        user.pk,
        _db(Message, "client_uid", client_uid),
        _db(Message, "body", text),
        when,
        when,
        stale,
        due,
        user.pk,
        due,
        *total_params,
    ]
    with _prepared_cursor() as cursor:
        cursor.execute(sql, params)
        row = cursor.fetchone()
    if row is None:
        raise Http404("No such conversation.")
    target = Sendable(row[0], conversation_uid, row[1], row[2], row[3], row[4], row[5])
    seq, participant_id, unread, started, total = row[6:]
    if seq is None:
        return None
    peer_id = _peer(user, target)
    if participant_id is None:
        return Sent(target, seq, peer_id, None)
    return Sent(target, seq, peer_id, participant_id, unread, bool(started), int(total) + 1)


def store_visit_chat(
    conversation: Conversation, user: User, client_uid: uuid.UUID, text: str, visit: Any
) -> Outcome:
    """Chat typed in a live session (the room has checked the sender is in it)."""
    with transaction.atomic():
        locked = (
            Conversation.objects.select_for_update(of=("self",))
            .select_related("relationship__therapist", "relationship__client")
            .get(pk=conversation.pk)
        )
        return _store(locked, user, client_uid, clean_text(text), None, visit, "")


def _store(
    conversation: Conversation,
    user: User,
    client_uid: uuid.UUID,
    text: str,
    attachment_uid: uuid.UUID | None,
    visit: Any,
    origin: str,
) -> Outcome:
    stored = Message.objects.filter(sender=user, client_uid=client_uid).first()
    if stored is not None:
        if stored.conversation_id != conversation.pk:
            raise ValidationError("That message id is already used.")
        stored.conversation = conversation
        return Outcome(message=stored, shown=message_json(conversation, stored))
    attachment = None
    if attachment_uid is not None:
        from rapport.messaging.attachments import unsent_attachment

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
    recipient = Participant.objects.filter(conversation=conversation, user=peer).first()
    if recipient is None:
        recipient = Participant.objects.create(conversation=conversation, user=peer)
    Participant.objects.filter(pk=recipient.pk).update(unread=F("unread") + 1)
    notifications.message_arrived(recipient.pk, now)
    shown = message_json(conversation, message)
    outcome = Outcome(message=message, created=True, shown=shown)
    unread, total = recipient.unread + 1, total_unread(peer)
    _tell_arrival(outcome, user.pk, peer.pk, shown, unread, total, origin)
    return outcome


def _own_message(user: User, client_uid: uuid.UUID, verb: str) -> tuple[Conversation, Message]:
    message = (
        Message.objects.select_for_update(of=("self",))
        .filter(sender=user, client_uid=client_uid)
        .select_related("conversation")
        .first()
    )
    if message is None:
        raise ValidationError("There is no such message of yours.")
    conversation = access_conversation(user, message.conversation.uid)
    if message.retracted_at is not None:
        raise ValidationError("That message was retracted.")
    if message.visit_id is not None:
        raise ValidationError(f"Chat from a live session cannot be {verb}.")
    if timezone.now() - message.created_at > EDIT_WINDOW:
        raise ValidationError(f"Messages can be {verb} within 5 minutes of sending.")
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
        conversation = access_conversation(user, conversation_uid)
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
            Message.objects.filter(conversation=conversation, seq__gt=upto)
            .exclude(sender=user)
            .count()
        )
        me.save(update_fields=["last_read_seq", "read_at", "unread"])
        peer = peer_of(conversation, user)
        receipt = {
            "type": "read",
            "conversation": str(conversation.uid),
            "by": role_of(conversation, user.pk),
            "seq": upto,
            "at": now.isoformat(),
        }
        outcome.tell(peer.pk, receipt)
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
    conversation = access_conversation(user, conversation_uid)
    outcome = Outcome()
    outcome.tell(
        peer_of(conversation, user).pk,
        {
            "type": "typing",
            "conversation": str(conversation.uid),
            "by": role_of(conversation, user.pk),
        },
    )
    return outcome


# --- Reading -------------------------------------------------------------------------------------


def _total_unread_sql(who: str, who_params: list[Any]) -> tuple[str, list[Any]]:
    """Unread messages of the user ``who`` (an SQL expression) across their open conversations."""
    participant, conversation = Participant._meta.db_table, Conversation._meta.db_table
    relationship, people = CareRelationship._meta.db_table, User._meta.db_table
    sql = (
        f"SELECT COALESCE(SUM(pa.unread), 0) FROM {participant} pa "  # noqa: S608 (tables from model metadata)
        f"JOIN {conversation} c ON c.id = pa.conversation_id "
        f"JOIN {relationship} r ON r.id = c.relationship_id "
        f"JOIN {people} t ON t.id = r.therapist_id "
        f"JOIN {people} p ON p.id = r.client_id "
        f"WHERE pa.user_id = {who} AND r.status = %s AND t.is_active = %s AND p.is_active = %s"
    )
    return sql, [*who_params, CareRelationship.Status.ACTIVE.value, True, True]


def total_unread(user: User | int) -> int:
    """Unread messages across the user's open conversations (the badge in the navigation)."""
    user_id = user if isinstance(user, int) else user.pk
    sql, params = _total_unread_sql("%s", [user_id])
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        row = cursor.fetchone()
    return int(row[0]) if row else 0


def _open_ids(user: User) -> Any:
    from rapport.messaging.access import conversations_of

    return conversations_of(user).values("pk")


def unread_by_conversation(user: User) -> dict[str, int]:
    rows = Participant.objects.filter(
        user=user, conversation__in=_open_ids(user), unread__gt=0
    ).values_list("conversation__uid", "unread")
    return {str(uid): count for uid, count in rows}


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
    from rapport.messaging.access import conversations_of, ensure_conversations

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
    "publish",
    "retract_message",
    "send_message",
    "typing",
]
