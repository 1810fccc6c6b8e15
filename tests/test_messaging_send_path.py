"""The text send path of the database in use (statement by statement on SQLite, one prepared
statement on PostgreSQL): both people sending at once get every message stored once, gap-free
sequence numbers and right counts; a conversation from before participants existed gets its
recipient's row on the first message."""

from __future__ import annotations

import threading
import uuid
from datetime import timedelta
from typing import Any

import pytest
from django.db import IntegrityError, connection, connections
from django.http import Http404
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from rapport.care.models import CareRelationship
from rapport.messaging import services
from rapport.messaging.access import conversation_for
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


def test_messages_while_the_email_delay_runs(
    client_a: Any, client_b: Any, therapist_x: Any
) -> None:
    """After the first message of a delay, PostgreSQL sends a message as one statement that is
    its own transaction; repeats, refusals and a delay that lost its task take the full path."""
    conversation = conversation_for(
        CareRelationship.objects.get(client=client_a, therapist=therapist_x)
    )

    def recipient() -> Participant:
        return Participant.objects.get(conversation=conversation, user=therapist_x)

    def send(ident: uuid.UUID | None = None, sender: Any = client_a) -> services.Outcome:
        return services.send_message(sender, conversation.uid, ident or uuid.uuid4(), "hello")

    send()  # the first: the delay starts, its task is queued
    due = recipient().notice_due_at
    assert due is not None and DBTaskResult.objects.count() == 1
    for n in (2, 3, 4):
        with CaptureQueriesContext(connection) as queries:
            outcome = send()
        (frame,) = outcome.frames[(therapist_x.pk, "")]
        assert (frame["message"]["seq"], frame["unread"], frame["total"]) == (n, n, n)
        if connection.vendor == "postgresql":
            assert len(queries) == 1 and "running AS" in queries[0]["sql"]

    ident = uuid.uuid4()
    assert send(ident).created and not send(ident).created  # a repeat: stored once
    with pytest.raises(Http404):
        send(sender=client_b)  # not a participant: refused, nothing stored
    assert Message.objects.filter(conversation=conversation).count() == 5
    assert (recipient().unread, recipient().notice_due_at) == (5, due)
    assert DBTaskResult.objects.count() == 1

    # A delay whose time passed long ago lost its task: the next message starts a new one.
    Participant.objects.filter(pk=recipient().pk).update(
        notice_due_at=timezone.now() - timedelta(hours=2)
    )
    send()
    restarted = recipient().notice_due_at
    assert restarted is not None and restarted > timezone.now() and recipient().unread == 6
    assert DBTaskResult.objects.count() == 2


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
