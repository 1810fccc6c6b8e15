"""Sending a message on the database in use: both people sending at once get every message
stored once, gap-free sequence numbers and right counts; a recipient without a participant row
gets one on the first message.

The differential test runs the optimised statements (``fast_send.send_fast``) and the reference
implementation (``services._store``, the ORM) on the same inputs and compares every stored
column and every count they return."""

from __future__ import annotations

import threading
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import time_machine
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connections, transaction
from django.http import Http404

from rapport.care.models import CareRelationship
from rapport.messaging import notifications, services
from rapport.messaging.access import access_conversation, conversation_for
from rapport.messaging.fast_send import Sent, send_fast
from rapport.messaging.models import Conversation, Message, Participant

pytestmark = pytest.mark.django_db(transaction=True)

PER_PERSON = 40


def test_both_sides_sending_at_once_get_gap_free_numbers(client_a: Any, therapist_x: Any) -> None:
    relationship = CareRelationship.objects.get(client=client_a, therapist=therapist_x)
    conversation = conversation_for(relationship)
    start = threading.Barrier(2)
    acked: dict[str, list[int]] = {"client": [], "therapist": []}
    failures: list[BaseException] = []

    def send_all(user: Any, role: str) -> None:
        try:
            start.wait(timeout=10)
            for n in range(PER_PERSON):
                ident = uuid.uuid4()
                outcome = services.send_message(user, conversation.uid, ident, f"{role} {n}")
                assert outcome.created and outcome.shown is not None
                acked[role].append(outcome.shown["seq"])
                # A resend of the same id is stored once and answered with the same number.
                again = services.send_message(user, conversation.uid, ident, f"{role} {n}")
                assert not again.created and again.shown is not None
                assert again.shown["seq"] == outcome.shown["seq"]
        except BaseException as failure:  # reported by the main thread
            failures.append(failure)
        finally:
            connections.close_all()

    threads = [
        threading.Thread(target=send_all, args=(client_a, "client")),
        threading.Thread(target=send_all, args=(therapist_x, "therapist")),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not failures, failures

    rows = list(Message.objects.filter(conversation=conversation).order_by("seq"))
    assert [row.seq for row in rows] == list(range(1, 2 * PER_PERSON + 1))
    assert sorted(acked["client"] + acked["therapist"]) == list(range(1, 2 * PER_PERSON + 1))
    for role, user in (("client", client_a), ("therapist", therapist_x)):
        own = [row for row in rows if row.sender_id == user.pk]
        assert [row.body for row in own] == [f"{role} {n}" for n in range(PER_PERSON)]
        assert [row.seq for row in own] == acked[role]
    conversation.refresh_from_db()
    assert conversation.last_seq == 2 * PER_PERSON
    unread = dict(
        Participant.objects.filter(conversation=conversation).values_list("user_id", "unread")
    )
    assert unread == {client_a.pk: PER_PERSON, therapist_x.pk: PER_PERSON}
    assert services.total_unread(client_a) == PER_PERSON


def test_a_conversation_without_the_recipients_row_gets_it(client_a: Any, therapist_x: Any) -> None:
    relationship = CareRelationship.objects.get(client=client_a, therapist=therapist_x)
    conversation = conversation_for(relationship)
    Participant.objects.filter(conversation=conversation, user=therapist_x).delete()

    outcome = services.send_message(client_a, conversation.uid, uuid.uuid4(), "hello")

    assert outcome.created and outcome.shown is not None and outcome.shown["seq"] == 1
    row = Participant.objects.get(conversation=conversation, user=therapist_x)
    assert row.unread == 1 and row.notice_due_at is not None
    assert services.total_unread(therapist_x) == 1
    assert Message.objects.filter(conversation=conversation).count() == 1


def test_the_recipients_frame_counts_every_open_conversation(
    client_a: Any, client_b: Any, therapist_x: Any
) -> None:
    """The recipient's ``message`` frame carries their count in this conversation and their
    total over the conversations they can still open (not those of ended care)."""
    from tests.conftest import make_user

    client_c = make_user("client.c@example.test", "client", "Cleo Client")
    chats = {
        client: conversation_for(
            CareRelationship.objects.create(therapist=therapist_x, client=client)
        )
        for client in (client_b, client_c)
    }
    chats[client_a] = conversation_for(
        CareRelationship.objects.get(client=client_a, therapist=therapist_x)
    )

    def counts(client: Any) -> tuple[int, int]:
        outcome = services.send_message(client, chats[client].uid, uuid.uuid4(), "hello")
        (frame,) = outcome.frames[(therapist_x.pk, "")]
        assert frame["type"] == "message" and frame["message"] == outcome.shown
        # The sender's own tabs get the message without anybody's counts.
        assert outcome.frames[(client.pk, "")] == [{"type": "message", "message": outcome.shown}]
        return frame["unread"], frame["total"]

    assert counts(client_a) == (1, 1)
    assert counts(client_a) == (2, 2)
    assert counts(client_b) == (1, 3)
    assert counts(client_c) == (1, 4)
    CareRelationship.objects.filter(client=client_c).update(status=CareRelationship.Status.ENDED)
    assert counts(client_b) == (2, 4)  # Cleo's unread message no longer counts
    assert services.total_unread(therapist_x) == 4


def test_a_failing_statement_is_djangos_error_and_keeps_nothing(
    client_a: Any, therapist_x: Any
) -> None:
    """A database error in the send statements (here a sequence number taken twice) reaches
    callers as Django's error, on both send paths, and the transaction keeps nothing of it."""
    conversation = conversation_for(
        CareRelationship.objects.get(client=client_a, therapist=therapist_x)
    )
    services.send_message(client_a, conversation.uid, uuid.uuid4(), "first")
    services.send_message(client_a, conversation.uid, uuid.uuid4(), "second")
    Conversation.objects.filter(pk=conversation.pk).update(last_seq=1)  # as if seq 2 were free

    with pytest.raises(IntegrityError):
        services.send_message(client_a, conversation.uid, uuid.uuid4(), "third")

    assert Message.objects.filter(conversation=conversation).count() == 2
    assert Conversation.objects.get(pk=conversation.pk).last_seq == 1
    assert Participant.objects.get(conversation=conversation, user=therapist_x).unread == 2


# --- The optimised statements against the ORM path --------------------------------------------

FROZEN = datetime(2030, 3, 4, 10, 0, tzinfo=UTC)


def _rows() -> dict[str, list[tuple[Any, ...]]]:
    """Every stored column of every message, conversation and participant (bodies decrypted;
    surrogate ids left out: PostgreSQL does not roll its sequences back), in a stable order."""

    def rows(model: Any, order: list[str]) -> list[tuple[Any, ...]]:
        names = [f.attname for f in model._meta.concrete_fields if f.attname != "id"]
        return [
            tuple(row[name] for name in names)
            for row in model.objects.order_by(*order).values(*names)
        ]

    return {
        "message": rows(Message, ["conversation_id", "seq"]),
        "conversation": rows(Conversation, ["uid"]),
        "participant": rows(Participant, ["conversation_id", "user_id"]),
    }


@dataclass
class Tried:
    """What one way of sending did: its result (or the refusal it raised) and the rows after."""

    result: Any
    rows: dict[str, list[tuple[Any, ...]]]


def _try(send: Any) -> Tried:
    """Run ``send()`` and undo it, keeping what it returned and what it stored."""
    with transaction.atomic():
        try:
            result = send()
        except (Http404, ValidationError) as refusal:
            result = refusal
        tried = Tried(result, _rows())
        transaction.set_rollback(True)
    return tried


def _orm_send(user: Any, uid: uuid.UUID, ident: uuid.UUID, text: str) -> services.Outcome:
    with transaction.atomic():
        conversation = access_conversation(user, uid, lock=True)
        return services._store(conversation, user, ident, text, None, None, "")


def _shown(outcome: services.Outcome) -> tuple[Any, ...]:
    return outcome.created, outcome.shown, outcome.frames


@pytest.fixture
def world(client_a: Any, client_b: Any, therapist_x: Any) -> dict[str, Any]:
    """Alice's conversation with Xena, where Xena already has unread messages elsewhere: in an
    open conversation (with Bob) and in one whose care ended (with Cleo)."""
    from tests.conftest import make_user

    client_c = make_user("client.c@example.test", "client", "Cleo Client")
    chats = {
        client: conversation_for(
            CareRelationship.objects.get_or_create(therapist=therapist_x, client=client)[0]
        )
        for client in (client_a, client_b, client_c)
    }
    with time_machine.travel(FROZEN - timedelta(hours=1), tick=False):
        for client, count in ((client_b, 2), (client_c, 3), (client_a, 1)):
            for n in range(count):
                services.send_message(client, chats[client].uid, uuid.uuid4(), f"earlier {n}")
        services.send_message(therapist_x, chats[client_a].uid, uuid.uuid4(), "a reply")
    CareRelationship.objects.filter(client=client_c).update(status=CareRelationship.Status.ENDED)
    return {"chat": chats[client_a], "alice": client_a, "bob": client_b, "xena": therapist_x}


def _recipient(world: dict[str, Any]) -> Any:
    return Participant.objects.filter(conversation=world["chat"], user=world["xena"])


def _fresh(world: dict[str, Any]) -> None:
    """Xena has read everything in this conversation: no email cycle runs."""
    services.mark_read(world["xena"], world["chat"].uid, world["chat"].last_seq + 10)


def _cycle_running(world: dict[str, Any]) -> None:
    _recipient(world).update(notice_due_at=FROZEN + timedelta(minutes=3))


def _cycle_overdue(world: dict[str, Any]) -> None:
    """A cycle the worker has not got to yet (it was down): it stays due as it was."""
    _recipient(world).update(notice_due_at=FROZEN - timedelta(minutes=30))


def _without_participant_row(world: dict[str, Any]) -> None:
    _recipient(world).delete()


def _ended_care(world: dict[str, Any]) -> None:
    CareRelationship.objects.filter(client=world["alice"]).update(
        status=CareRelationship.Status.ENDED
    )


def _repeated_id(world: dict[str, Any]) -> None:
    """The same message sent before: the test's send is a resend."""
    services.send_message(world["alice"], world["chat"].uid, REPEATED, TEXT)


def _reused_id(world: dict[str, Any]) -> None:
    """Another message sent before with the id the test's send uses."""
    services.send_message(world["alice"], world["chat"].uid, REPEATED, "the first try")


def _deactivated_therapist(world: dict[str, Any]) -> None:
    User = type(world["xena"])
    User.objects.filter(pk=world["xena"].pk).update(is_active=False)


REPEATED = uuid.UUID("0b8a4c3e-64d9-4f6e-9c53-0f4b3f0e2a11")
TEXT = "Could we talk about Thursday?\nI have an idea."

# (name, set-up, sender, whether the optimised statements store it themselves)
CASES = [
    ("a message that starts an email cycle", _fresh, "alice", True),
    ("a message while a cycle runs", _cycle_running, "alice", True),
    ("a message while a cycle is overdue", _cycle_overdue, "alice", True),
    ("the therapist's message", None, "xena", True),
    ("a repeated id", _repeated_id, "alice", False),
    ("an id used for another text", _reused_id, "alice", False),
    ("an outsider", None, "bob", False),
    ("ended care", _ended_care, "alice", False),
    ("a deactivated recipient", _deactivated_therapist, "alice", False),
    ("a recipient without a participant row", _without_participant_row, "alice", False),
]


@pytest.mark.parametrize(
    ("setup", "sender", "stored_by_statements"),
    [case[1:] for case in CASES],
    ids=[case[0] for case in CASES],
)
def test_the_optimised_statements_store_what_the_orm_path_stores(
    world: dict[str, Any], setup: Any, sender: str, stored_by_statements: bool
) -> None:
    if setup is not None:
        setup(world)
    user = type(world["alice"]).objects.get(pk=world[sender].pk)
    uid = world["chat"].uid
    ident = REPEATED if setup in (_repeated_id, _reused_id) else uuid.uuid4()
    text = TEXT
    with time_machine.travel(FROZEN, tick=False):
        before = _rows()
        due = notifications.first_look(FROZEN)
        fast = _try(lambda: send_fast(user, uid, ident, text, FROZEN, due))
        orm = _try(lambda: _orm_send(user, uid, ident, text))
        chosen = _try(lambda: services.send_message(user, uid, ident, text))

    if stored_by_statements:
        sent = fast.result
        assert isinstance(sent, Sent)
        assert fast.rows == orm.rows != before
        (frame,) = orm.result.frames[(sent.peer_id, "")]
        assert (frame["message"]["seq"], frame["unread"], frame["total"]) == (
            sent.seq,
            sent.unread,
            sent.total,
        )
    else:
        assert fast.result is None and fast.rows == before  # left to the ORM path
    # What a caller gets, the statements' way or the ORM's, is the same, to the last count.
    assert chosen.rows == orm.rows
    if isinstance(orm.result, Http404 | ValidationError):
        assert type(chosen.result) is type(orm.result) and orm.rows == before
    else:
        assert _shown(chosen.result) == _shown(orm.result)


def test_the_differential_test_sees_a_difference(world: dict[str, Any]) -> None:
    """The comparison above is not blind: one column written differently shows."""
    _fresh(world)
    uid, alice, ident = world["chat"].uid, world["alice"], uuid.uuid4()
    due = notifications.first_look(FROZEN)
    with time_machine.travel(FROZEN, tick=False):
        fast = _try(lambda: send_fast(alice, uid, ident, "hello", FROZEN, due))
        later = _try(lambda: send_fast(alice, uid, ident, "hello", FROZEN, due + timedelta(1)))
    assert fast.rows["message"] == later.rows["message"]
    assert fast.rows["participant"] != later.rows["participant"]


def test_a_cycle_starts_with_a_message_and_ends_when_everything_is_read(
    world: dict[str, Any],
) -> None:
    """On both paths the first unread message sets the recipient's email check to the first
    look; later ones leave it; reading everything ends it, and the next message starts anew."""
    chat, alice, xena = world["chat"], world["alice"], world["xena"]
    _fresh(world)
    assert _recipient(world).get().notice_due_at is None
    with time_machine.travel(FROZEN, tick=False) as clock:
        services.send_message(alice, chat.uid, uuid.uuid4(), "text")  # the statements
        assert _recipient(world).get().notice_due_at == notifications.first_look(FROZEN)
        clock.shift(timedelta(minutes=1))
        with transaction.atomic():  # an attachment-less message through the ORM path
            _orm_send(alice, chat.uid, uuid.uuid4(), "more")
        assert _recipient(world).get().notice_due_at == notifications.first_look(FROZEN)
        chat.refresh_from_db()
        services.mark_read(xena, chat.uid, chat.last_seq - 1)  # not everything: still running
        assert _recipient(world).get().notice_due_at == notifications.first_look(FROZEN)
        services.mark_read(xena, chat.uid, chat.last_seq)
        assert _recipient(world).get().notice_due_at is None
        clock.shift(timedelta(minutes=1))
        services.send_message(alice, chat.uid, uuid.uuid4(), "again")
        later = FROZEN + timedelta(minutes=2)
        assert _recipient(world).get().notice_due_at == notifications.first_look(later)
