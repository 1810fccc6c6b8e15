"""Unread-message emails, end to end: a real SMTP server (aiosmtpd), the real task worker
(``db_worker``) and time moved with time-machine.

Messages are sent and read through ``rapport.messaging.services``, as the pages and sockets do.
Every email is checked for what it must not carry: who wrote, and what.
"""

from __future__ import annotations

import threading
import uuid
from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django_tasks_db.models import DBTaskResult

from rapport.accounts.models import User
from rapport.care.models import CareRelationship
from rapport.core.worker import every
from rapport.messaging import notifications, services
from rapport.messaging.access import conversation_for
from rapport.messaging.models import Conversation, Participant
from rapport.messaging.notifications import send_due_notices
from rapport.messaging.preferences import settings_for
from tests.mail import Inbox, body_of, text_of
from tests.worker import run_task_worker

CLIENT_ZONE = "America/Los_Angeles"
SECRET = "CANARY-I-stopped-taking-the-pills-4b1e"
# A Wednesday evening in Los Angeles, far from any daylight-saving change.
START = datetime(2030, 1, 16, 18, 0, tzinfo=ZoneInfo(CLIENT_ZONE))

pytestmark = pytest.mark.django_db(transaction=True)


def conversation_of(therapist: User, client: User) -> Conversation:
    return conversation_for(CareRelationship.objects.get(therapist=therapist, client=client))


def write(sender: User, conversation: Conversation, text: str = SECRET) -> None:
    sender.refresh_from_db()
    services.send_message(sender, conversation.uid, uuid.uuid4(), text)


def read_all(reader: User, conversation: Conversation) -> None:
    conversation.refresh_from_db()
    services.mark_read(reader, conversation.uid, conversation.last_seq)


def check_content_free(message: Any, recipient: User, sender: User) -> None:
    """Addressed to ``recipient``; nothing about who wrote or what."""
    everything = text_of(message)
    assert str(message["To"]) == recipient.email
    assert message["Subject"] == "You have new messages in Rapport"
    assert message["Auto-Submitted"] == "auto-generated"
    for secret in (SECRET, sender.full_name, sender.email, *sender.full_name.split()):
        assert secret not in everything
    body = body_of(message)
    assert "http://127.0.0.1:8000/messages/" in body
    assert "http://127.0.0.1:8000/settings/messages/" in body


def participant(conversation: Conversation, user: User) -> Participant:
    return Participant.objects.get(conversation=conversation, user=user)


@pytest.fixture
def chat(therapist_x: User, client_a: User) -> Conversation:
    User.objects.filter(pk=client_a.pk).update(time_zone=CLIENT_ZONE)
    client_a.refresh_from_db()
    return conversation_of(therapist_x, client_a)


def test_one_content_free_email_after_the_delay_and_only_once(
    smtp: Inbox, chat: Conversation, therapist_x: User, client_a: User
) -> None:
    with time_machine.travel(START, tick=False) as clock:
        write(therapist_x, chat)
        clock.shift(timedelta(minutes=3))
        write(therapist_x, chat, "second")
        clock.shift(timedelta(minutes=3))
        write(therapist_x, chat, "third")
        # Three messages, one cycle, nothing queued: the first message set the first look.
        assert participant(chat, client_a).notice_due_at == notifications.first_look(START)
        assert DBTaskResult.objects.count() == 0
        clock.move_to(START + timedelta(minutes=9, seconds=50))
        run_task_worker()
        assert smtp.take() == []

        clock.move_to(START + timedelta(minutes=10, seconds=1))
        run_task_worker()
        [message] = smtp.take()
        check_content_free(message, client_a, therapist_x)
        assert participant(chat, client_a).notice_due_at is None
        assert participant(chat, client_a).notified_seq == 3

        # A second run of the worker, and the same task run again by hand: nothing more.
        run_task_worker()
        assert notifications.deliver_unread_notice(participant(chat, client_a).pk) is False
        clock.shift(timedelta(hours=5))
        run_task_worker()
        assert smtp.take() == []


def test_read_in_time_means_no_email(
    smtp: Inbox, chat: Conversation, therapist_x: User, client_a: User
) -> None:
    with time_machine.travel(START, tick=False) as clock:
        write(therapist_x, chat)
        clock.shift(timedelta(minutes=4))
        read_all(client_a, chat)
        clock.shift(timedelta(minutes=20))
        run_task_worker()
        assert smtp.take() == []
        assert participant(chat, client_a).notice_due_at is None


def test_a_message_after_reading_waits_its_own_delay(
    smtp: Inbox, chat: Conversation, therapist_x: User, client_a: User
) -> None:
    with time_machine.travel(START, tick=False) as clock:
        write(therapist_x, chat)
        clock.shift(timedelta(minutes=4))
        read_all(client_a, chat)
        clock.shift(timedelta(minutes=4))
        write(therapist_x, chat, "later")  # 8 minutes in: due at 18 minutes
        clock.move_to(START + timedelta(minutes=10, seconds=1))
        run_task_worker()
        assert smtp.take() == []
        # The first look (5 minutes after it) finds the person's delay (10) not yet over.
        clock.move_to(START + timedelta(minutes=13, seconds=1))
        run_task_worker()
        assert smtp.take() == []
        assert participant(chat, client_a).notice_due_at == START + timedelta(minutes=18)
        clock.move_to(START + timedelta(minutes=18, seconds=1))
        run_task_worker()
        [message] = smtp.take()
        check_content_free(message, client_a, therapist_x)


def test_quiet_hours_hold_the_email_until_they_end(
    smtp: Inbox, chat: Conversation, therapist_x: User, client_a: User
) -> None:
    prefs = settings_for(client_a)
    prefs.quiet_from, prefs.quiet_until = time(22), time(7)
    prefs.save()
    evening = START.replace(hour=21, minute=55)
    morning = (evening + timedelta(days=1)).replace(hour=7, minute=0)
    with time_machine.travel(evening, tick=False) as clock:
        write(therapist_x, chat)
        clock.move_to(evening + timedelta(minutes=11))
        run_task_worker()
        assert smtp.take() == []
        assert participant(chat, client_a).notice_due_at == morning
        clock.move_to(morning - timedelta(minutes=1))
        run_task_worker()
        assert smtp.take() == []
        clock.move_to(morning + timedelta(seconds=1))
        run_task_worker()
        [message] = smtp.take()
        check_content_free(message, client_a, therapist_x)


def test_no_email_when_turned_off(
    smtp: Inbox, chat: Conversation, therapist_x: User, client_a: User
) -> None:
    prefs = settings_for(client_a)
    prefs.email_when_unread = False
    prefs.save()
    with time_machine.travel(START, tick=False) as clock:
        write(therapist_x, chat)
        clock.shift(timedelta(hours=2))
        run_task_worker()
        assert smtp.take() == []
        assert participant(chat, client_a).notice_due_at is None


def test_new_messages_after_an_email_start_a_new_cycle(
    smtp: Inbox, chat: Conversation, therapist_x: User, client_a: User
) -> None:
    with time_machine.travel(START, tick=False) as clock:
        write(therapist_x, chat)
        clock.shift(timedelta(minutes=11))
        run_task_worker()
        assert len(smtp.take()) == 1
        # Still unread, but nothing new: no reminder of the same messages.
        clock.shift(timedelta(hours=1))
        run_task_worker()
        assert smtp.take() == []

        write(therapist_x, chat, "another")
        clock.shift(timedelta(minutes=9))
        run_task_worker()
        assert smtp.take() == []
        clock.shift(timedelta(minutes=1, seconds=1))
        run_task_worker()
        [second] = smtp.take()
        check_content_free(second, client_a, therapist_x)
        assert participant(chat, client_a).notified_seq == 2


def test_a_longer_delay_and_the_therapist_side(
    smtp: Inbox, chat: Conversation, therapist_x: User, client_a: User
) -> None:
    prefs = settings_for(therapist_x)
    prefs.email_delay_minutes = 30
    prefs.save()
    with time_machine.travel(START, tick=False) as clock:
        write(client_a, chat)
        assert participant(chat, therapist_x).notice_due_at == START + timedelta(minutes=5)
        clock.shift(timedelta(minutes=5, seconds=1))
        run_task_worker()  # the first look moves the cycle on to the therapist's own delay
        assert participant(chat, therapist_x).notice_due_at == START + timedelta(minutes=30)
        clock.move_to(START + timedelta(minutes=29))
        run_task_worker()
        assert smtp.take() == []
        clock.shift(timedelta(minutes=1, seconds=1))
        run_task_worker()
        [message] = smtp.take()
        check_content_free(message, therapist_x, client_a)


def test_one_email_covers_every_conversation_of_the_person(
    smtp: Inbox, chat: Conversation, therapist_x: User, client_a: User, client_b: User
) -> None:
    CareRelationship.objects.create(therapist=therapist_x, client=client_b)
    other = conversation_of(therapist_x, client_b)
    with time_machine.travel(START, tick=False) as clock:
        write(client_a, chat)
        clock.shift(timedelta(minutes=2))
        write(client_b, other)
        clock.shift(timedelta(minutes=8, seconds=1))
        run_task_worker()
        [message] = smtp.take()
        check_content_free(message, therapist_x, client_a)
        check_content_free(message, therapist_x, client_b)
        # The second conversation's task finds its cycle closed by that email.
        clock.shift(timedelta(minutes=5))
        run_task_worker()
        assert smtp.take() == []
        assert participant(other, therapist_x).notified_seq == 1


def test_no_email_once_the_care_relationship_ended(
    smtp: Inbox, chat: Conversation, therapist_x: User, client_a: User
) -> None:
    with time_machine.travel(START, tick=False) as clock:
        write(therapist_x, chat)
        CareRelationship.objects.filter(pk=chat.relationship_id).update(
            status=CareRelationship.Status.ENDED
        )
        clock.shift(timedelta(minutes=11))
        run_task_worker()
        assert smtp.take() == []


def test_starting_a_cycle_costs_the_send_path_nothing_extra(
    chat: Conversation, therapist_x: User, client_a: User
) -> None:
    """The first message after a pause runs the same statements as a message while a cycle
    runs (on PostgreSQL one), and nothing is queued."""
    read_all(client_a, chat)
    sizes = []
    for text in ("first after a pause", "second"):
        with CaptureQueriesContext(connection) as queries:
            services.send_message(therapist_x, chat.uid, uuid.uuid4(), text)
        sizes.append(len(queries))
        if text == "first after a pause":
            assert participant(chat, client_a).notice_due_at is not None
    assert sizes[0] == sizes[1]
    if connection.vendor == "postgresql":
        assert sizes == [1, 1]
    assert DBTaskResult.objects.count() == 0


def test_the_worker_sends_each_email_once_even_when_two_sweep_at_once(
    smtp: Inbox, chat: Conversation, therapist_x: User, client_a: User, client_b: User
) -> None:
    """``rapport worker``'s sweep, in two workers at once (a second worker, or one restarted
    while the first still runs): every due email goes out exactly once."""
    CareRelationship.objects.create(therapist=therapist_x, client=client_b)
    other = conversation_of(therapist_x, client_b)
    with time_machine.travel(START, tick=False) as clock:
        write(therapist_x, chat)  # for Alice
        write(client_b, other)  # for Xena
        clock.shift(timedelta(minutes=10, seconds=1))
        stop = threading.Event()
        sweepers = [
            threading.Thread(target=every, args=(0.05, stop, "unread emails", send_due_notices))
            for _ in range(2)
        ]
        for sweeper in sweepers:
            sweeper.start()
        received: list[Any] = []
        try:
            for _ in range(200):  # up to 10 s
                received += smtp.take()
                if len(received) >= 2:
                    break
                stop.wait(0.05)
            stop.wait(1.0)  # more sweeps: nothing more may go out
        finally:
            stop.set()
            for sweeper in sweepers:
                sweeper.join(timeout=30)
        received += smtp.take()
    assert sorted(str(message["To"]) for message in received) == sorted(
        [client_a.email, therapist_x.email]
    )
    assert participant(chat, client_a).notice_due_at is None
    assert participant(other, therapist_x).notice_due_at is None
