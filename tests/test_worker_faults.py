"""A real ``rapport worker`` killed mid-task: nothing lost, nothing doubled, nothing stuck.

The worker mails through a real SMTP server that takes its time over each recipient. Twice it
is killed (SIGKILL) while it talks to that server; started again, it takes back the dead
worker's tasks and emails once their lease runs out. The SMTP server must then have received
every email exactly once.
"""

from __future__ import annotations

from collections import Counter
from datetime import timedelta
from pathlib import Path

import pytest
from django.db import connection
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from rapport.accounts.models import User
from rapport.accounts.services import invite
from rapport.core.models import DeliveryStatus, EmailDelivery
from rapport.scheduling.notifications import appointment_changed
from tests.mail import slow_smtp_server
from tests.scheduling_data import direct_appointment, therapist_with_hours
from tests.worker_process import (
    WorkerProcess,
    database_url_of_this_test,
    sqlite_data_dir,
    wait_until,
    worker_env,
)

INVITATIONS = 8
KILLS = 2


def queue_emails(admin: User, therapist: User, client: User) -> Counter[str]:
    """Invitations and booking confirmations, as the web app queues them. Returns how many
    emails each address must get."""
    expected: Counter[str] = Counter()
    for n in range(INVITATIONS):
        address = f"invitee{n}@example.test"
        invite(admin, email=address, full_name=f"Invitee {n}", role="therapist")
        expected[address] += 1
    _therapist, session_type = therapist_with_hours(therapist=therapist)
    for days in (3, 4):
        appointment = direct_appointment(
            session_type, client, timezone.now().replace(microsecond=0) + timedelta(days=days)
        )
        appointment_changed(appointment.pk, "booked")
        expected[client.email] += 1
        expected[therapist.email] += 1
    return expected


def fresh() -> None:
    """Read what the worker wrote since: a new connection, so no snapshot of this process's
    (an SQLite read left open by earlier code in the session) hides the worker's writes."""
    connection.close()


def mid_send() -> bool:
    """An email is being sent: claimed by the worker and not marked sent (by its task, or by the
    worker's sweep of emails due, whichever claimed it first)."""
    fresh()
    return EmailDelivery.objects.filter(status=DeliveryStatus.SENDING).exists()


def all_done() -> bool:
    fresh()
    due = DBTaskResult.objects.ready().exists() or DBTaskResult.objects.running().exists()
    unsent = EmailDelivery.objects.exclude(status=DeliveryStatus.SENT).exists()
    return not due and not unsent and EmailDelivery.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_a_worker_killed_mid_task_loses_and_doubles_no_email(
    tmp_path: Path, admin: User, therapist_x: User, client_a: User
) -> None:
    with slow_smtp_server(delay=0.4) as (inbox, port):
        database_url = database_url_of_this_test()
        data_dir = tmp_path / "worker" if database_url else sqlite_data_dir(tmp_path / "worker")
        worker = WorkerProcess(worker_env(data_dir, port, database_url), tmp_path / "worker.log")
        expected = queue_emails(admin, therapist_x, client_a)
        killed_mid_send: list[bool] = []
        try:
            for kill in range(KILLS):
                worker.start()
                # Mid-task, after it sent some: it waits on the mail server for a recipient.
                sent_before = 2 * kill + 1
                wait_until(
                    lambda: inbox.talking.is_set() and inbox.count() > sent_before,  # noqa: B023
                    60,
                    "the worker talking to the mail server",
                    worker,
                )
                worker.kill()
                # What the dead worker held stays claimed by it until its lease runs out (the
                # send may have finished in the instant before the kill: then nothing is held).
                killed_mid_send.append(mid_send())
            worker.start()
            wait_until(all_done, 90, "every email sent and no task left", worker)
        finally:
            worker.stop()
        received = inbox.take()
    fresh()
    assert Counter(str(message["To"]) for message in received) == expected
    message_ids = [message["Message-ID"] for message in received]
    assert len(set(message_ids)) == len(message_ids) == sum(expected.values())
    assert not DBTaskResult.objects.running().exists()
    assert not DBTaskResult.objects.failed().exists()
    # What a killed worker held was taken back and sent again: an email claimed twice.
    if any(killed_mid_send):
        assert EmailDelivery.objects.filter(attempts__gt=1).exists()
