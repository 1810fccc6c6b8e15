"""The one optimised way to store a text message: ``send_fast``, in SQL, one version per database.

It does exactly what the reference implementation, ``services._store`` (the ORM), does for a
new text message: the access check, the message with the next sequence number, the
conversation's ``last_seq``, the recipient's unread count and the start of their unread-email
delay, and their counts afterwards. It exists because building those ORM queries costs several
times more than running them, and a practice's busiest server sends hundreds a second
(``bench/message_delivery.py``). ``tests/test_messaging_send_path.py`` runs both on the same
inputs and compares every stored column and every count: a change to the rules of sending is
made in ``_store`` and here, and that test says when the two differ.

Whatever is not a plain new text message — a repeated id, a refusal, a recipient without a
participant row — stores nothing here and gives None: the ORM path then decides.
"""

from __future__ import annotations

import functools
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import connection, models, transaction

from rapport.accounts.models import User
from rapport.care.models import CareRelationship
from rapport.messaging.access import Sendable, sendable_sql
from rapport.messaging.models import Conversation, Message, Participant


@dataclass
class Sent:
    """What ``send_fast`` stored: the conversation as checked, the new message's ``seq``, and
    the recipient with their unread counts (this conversation; all their open ones)."""

    target: Sendable
    seq: int
    peer_id: int
    unread: int
    total: int


def send_fast(
    user: User,
    conversation_uid: uuid.UUID,
    client_uid: uuid.UUID,
    text: str,
    now: datetime,
    notice_due: datetime,
) -> Sent | None:
    """Store a new text message as ``services._store`` would; None when it stored nothing.

    ``notice_due`` is when the recipient's unread-email check is due if no delay is running."""
    if not user.is_active:
        return None
    if connection.vendor == "postgresql":
        return _one_statement(user, conversation_uid, client_uid, text, now, notice_due)
    return _statement_by_statement(user, conversation_uid, client_uid, text, now, notice_due)


def _db(model: type[models.Model], name: str, value: Any) -> Any:
    """``value`` as the database stores it in ``model.name`` (encrypted for encrypted fields)."""
    column = model._meta.get_field(name)
    if not isinstance(column, models.Field):
        raise TypeError(f"{name} is not a column")
    return column.get_db_prep_save(value, connection)


def _tables() -> tuple[str, str, str]:
    return Message._meta.db_table, Conversation._meta.db_table, Participant._meta.db_table


def _peer(user: User, target: Sendable) -> int:
    return target.client_id if user.pk == target.therapist_id else target.therapist_id


def _total_sql(who: str) -> tuple[str, list[Any]]:
    """The recipient's unread messages across their open conversations (``services.total_unread``
    in SQL); ``who`` is an SQL expression for the recipient's id."""
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
    return sql, [CareRelationship.Status.ACTIVE.value, True, True]


# --- SQLite: four statements in the send transaction ------------------------------------------


@functools.cache
def _sqlite_statements() -> tuple[str, str, str]:
    """The insert (nothing on a repeated id), the conversation's sequence, and the recipient's
    count and email delay, returning their count and their unread messages in their other open
    conversations."""
    message, conversation, participant = _tables()
    # The recipient's other rows: what a subquery in RETURNING sees of the row being changed
    # is not something to rely on.
    others, _ = _total_sql(f"{participant}.user_id")
    others += f" AND pa.id <> {participant}.id"
    insert = (
        f"INSERT INTO {message} (conversation_id, seq, sender_id, client_uid, "  # noqa: S608 (tables from model metadata)
        "body, attachment_id, visit_id, created_at, edited_at, retracted_at) "
        "VALUES (%s, %s, %s, %s, %s, NULL, NULL, %s, NULL, NULL) "
        "ON CONFLICT (sender_id, client_uid) DO NOTHING"
    )
    moved = f"UPDATE {conversation} SET last_seq = %s, last_message_at = %s WHERE id = %s"  # noqa: S608 (tables from model metadata)
    bumped = (
        f"UPDATE {participant} SET unread = unread + 1, "  # noqa: S608 (tables from model metadata)
        "notice_due_at = COALESCE(notice_due_at, %s) "
        f"WHERE conversation_id = %s AND user_id = %s RETURNING unread, ({others})"
    )
    return insert, moved, bumped


def _statement_by_statement(
    user: User,
    conversation_uid: uuid.UUID,
    client_uid: uuid.UUID,
    text: str,
    now: datetime,
    notice_due: datetime,
) -> Sent | None:
    insert_sql, moved_sql, bumped_sql = _sqlite_statements()
    _, total_params = _total_sql("")
    access_sql, access_params = sendable_sql(user, conversation_uid)
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(access_sql, access_params)
        row = cursor.fetchone()
        if row is None:
            return None
        target = Sendable(row[0], conversation_uid, *row[1:])
        seq, peer_id = target.last_seq + 1, _peer(user, target)
        when = _db(Message, "created_at", now)
        cursor.execute(
            insert_sql,
            [
                target.pk,
                seq,
                user.pk,
                _db(Message, "client_uid", client_uid),
                _db(Message, "body", text),
                when,
            ],
        )
        if cursor.rowcount == 0:  # a repeated id
            return None
        cursor.execute(moved_sql, [seq, when, target.pk])
        due = _db(Participant, "notice_due_at", notice_due)
        cursor.execute(bumped_sql, [due, target.pk, peer_id, *total_params])
        bumped = cursor.fetchone()
        if bumped is None:  # no participant row: undo, and let the ORM path make it
            transaction.set_rollback(True)
            return None
    unread, others = bumped
    return Sent(target, seq, peer_id, unread, int(others) + unread)


# --- PostgreSQL: one statement (one round trip), a transaction of its own ---------------------

# The recipient, from the access check's row (``target``) and the sender.
_PEER_SQL = "CASE WHEN target.therapist_id = %s THEN target.client_id ELSE target.therapist_id END"


def _one_statement(
    user: User,
    conversation_uid: uuid.UUID,
    client_uid: uuid.UUID,
    text: str,
    now: datetime,
    notice_due: datetime,
) -> Sent | None:
    """The access check locks the conversation row and ``recipient`` the recipient's row (the
    order of the ORM path); the insert skips a repeated id, and the rest changes only if it
    inserted. The recipient's total is read as of before the statement, plus the new message."""
    message, conversation, participant = _tables()
    target_sql, target_params = sendable_sql(user, conversation_uid)
    total_sql, total_params = _total_sql(_PEER_SQL)
    when = _db(Message, "created_at", now)
    sql = (
        f"WITH target AS ({target_sql}), "  # noqa: S608 (tables from model metadata)
        f"recipient AS (SELECT pa.id FROM {participant} pa JOIN target "
        f"ON pa.conversation_id = target.id WHERE pa.user_id = {_PEER_SQL} FOR UPDATE OF pa), "
        f"stored AS (INSERT INTO {message} (conversation_id, seq, sender_id, client_uid, body, "
        "attachment_id, visit_id, created_at, edited_at, retracted_at) "
        "SELECT target.id, target.last_seq + 1, %s, %s, %s, NULL, NULL, %s, NULL, NULL "
        "FROM target, recipient ON CONFLICT (sender_id, client_uid) DO NOTHING "
        "RETURNING conversation_id, seq), "
        f"moved AS (UPDATE {conversation} SET last_seq = stored.seq, last_message_at = %s "
        f"FROM stored WHERE {conversation}.id = stored.conversation_id RETURNING 1), "
        f"bumped AS (UPDATE {participant} pa SET unread = pa.unread + 1, "
        "notice_due_at = COALESCE(pa.notice_due_at, %s) FROM stored, recipient "
        "WHERE pa.id = recipient.id RETURNING pa.unread) "
        "SELECT target.id, target.last_seq, target.therapist_id, target.client_id, "
        f"target.therapist_name, target.client_name, stored.seq, bumped.unread, ({total_sql}) "
        "FROM target JOIN stored ON TRUE JOIN bumped ON TRUE"
    )
    params = [
        *target_params,
        user.pk,
        user.pk,
        _db(Message, "client_uid", client_uid),
        _db(Message, "body", text),
        when,
        when,
        _db(Participant, "notice_due_at", notice_due),
        user.pk,
        *total_params,
    ]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        row = cursor.fetchone()
    if row is None:  # refused, a repeated id, or no participant row: nothing was stored
        return None
    target = Sendable(row[0], conversation_uid, *row[1:6])
    seq, unread, total = row[6:]
    return Sent(target, seq, _peer(user, target), unread, int(total) + 1)
