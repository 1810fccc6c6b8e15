"""Who may read and write a conversation: its two participants, while their care is active.

Every view, socket message and task that touches a conversation, its messages or its attachments
comes through here. Outsiders get a 404 (no hint that a conversation exists); the answer is taken
from the database each time, so a care relationship that ended closes the conversation at once,
also for sockets that are already open.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from django.db import connection, transaction
from django.db.models import QuerySet
from django.http import Http404, HttpRequest

from rapport.accounts.models import User
from rapport.audit.services import Action, record
from rapport.care.access import Reach
from rapport.care.models import CareRelationship
from rapport.messaging.models import Conversation, Participant


def _reachable(user: User) -> QuerySet[Conversation]:
    if not user.is_active or not (user.is_therapist or user.is_client):
        return Conversation.objects.none()
    mine = (
        {"relationship__therapist": user} if user.is_therapist else {"relationship__client": user}
    )
    return Conversation.objects.filter(
        relationship__status=CareRelationship.Status.ACTIVE,
        relationship__client__is_active=True,
        relationship__therapist__is_active=True,
        **mine,
    )


def access_conversation(
    user: User, conversation_uid: uuid.UUID | str, *, lock: bool = False, people: bool = True
) -> Conversation:
    """The conversation if ``user`` is one of its participants now; otherwise 404.

    ``lock=True`` (inside a transaction) also locks the conversation row: messages take their
    sequence numbers under it. ``people=False`` leaves the two people unloaded (their ids are on
    the relationship) for callers that need no names: receipts and typing hints, which come as
    often as messages.
    """
    try:
        uid = uuid.UUID(str(conversation_uid))
    except ValueError:
        raise Http404("No such conversation.") from None
    rows = _reachable(user).select_related(
        *(("relationship__therapist", "relationship__client") if people else ("relationship",))
    )
    if lock:
        rows = rows.select_for_update(of=("self",))
    conversation = rows.filter(uid=uid).first()
    if conversation is None:
        raise Http404("No such conversation.")
    return conversation


@dataclass(frozen=True)
class Sendable:
    """A conversation locked for sending, as the send path needs it (no model instances)."""

    pk: int
    uid: uuid.UUID
    last_seq: int
    therapist_id: int
    client_id: int
    therapist_name: str
    client_name: str


def sendable_sql(user: User, conversation_uid: uuid.UUID) -> tuple[str, list[Any]]:
    """The rule of ``access_conversation(user, uid, lock=True)`` as one SQL query and its
    parameters: the conversation's row (locked), its last seq and the two people.

    The same rule — ``user`` is the client or therapist of an active care relationship, both
    accounts active — written out in SQL for ``fast_send.send_fast``, because a message is sent
    hundreds of times a second and building the ORM query cost more than running it.
    ``tests/test_messaging_send_path.py`` runs that function and the ORM path on the same inputs
    (outsiders, ended care, deactivated accounts among them) on both databases."""
    conversation, relationship = Conversation._meta, CareRelationship._meta
    people = User._meta.db_table
    uid_field = conversation.get_field("uid")
    lock = " FOR UPDATE OF c" if connection.features.has_select_for_update_of else ""
    sql = (
        "SELECT c.id, c.last_seq, r.therapist_id, r.client_id, "  # noqa: S608 (tables from model metadata)
        "t.full_name AS therapist_name, p.full_name AS client_name "
        f"FROM {conversation.db_table} c "
        f"JOIN {relationship.db_table} r ON r.id = c.relationship_id "
        f"JOIN {people} t ON t.id = r.therapist_id "
        f"JOIN {people} p ON p.id = r.client_id "
        f"WHERE c.uid = %s AND r.status = %s AND t.is_active = %s AND p.is_active = %s "
        f"AND (r.therapist_id = %s OR r.client_id = %s){lock}"
    )
    params = [
        uid_field.get_db_prep_value(conversation_uid, connection),
        CareRelationship.Status.ACTIVE.value,
        True,
        True,
        user.pk,
        user.pk,
    ]
    return sql, params


def audit_messages_read(
    user: User, conversation: Conversation, *, request: HttpRequest | None = None
) -> None:
    """Messages shown to the conversation's therapist are a read of the client's record,
    audited like the record's other reads (what was read: messages), whether a page or the
    socket showed them. The client reading their own is not audited."""
    relationship = conversation.relationship
    if user.pk != relationship.therapist_id:
        return
    record(
        Action.CLIENT_RECORD_VIEWED,
        actor=user,
        request=request,
        obj=conversation,
        client=relationship.client,
        purpose="messages",
        via=Reach.CARE,
    )


def conversations_of(user: User) -> QuerySet[Conversation]:
    """Every conversation ``user`` may open now."""
    return _reachable(user)


def conversation_for(relationship: CareRelationship) -> Conversation:
    """The relationship's conversation, made (with its two participants) on first use."""
    existing = Conversation.objects.filter(relationship=relationship).first()
    if existing is not None:
        return existing
    with transaction.atomic():
        conversation, _ = Conversation.objects.get_or_create(relationship=relationship)
        for user_id in (relationship.therapist_id, relationship.client_id):
            Participant.objects.get_or_create(conversation=conversation, user_id=user_id)
    return conversation


def ensure_conversations(user: User) -> None:
    """Make the missing conversations of ``user``'s active care relationships."""
    field = "therapist" if user.is_therapist else "client"
    missing = CareRelationship.objects.filter(
        **{field: user}, status=CareRelationship.Status.ACTIVE, conversation__isnull=True
    )
    for relationship in missing:
        conversation_for(relationship)
