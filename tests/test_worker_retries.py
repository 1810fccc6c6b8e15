"""Retries, the failed state and what staff see of them: ``rapport tasks`` and the admins'
Failed emails page. The worker loop runs in this process (``rapport.core.worker``); mail goes to
a real SMTP server, or to a port where none listens (a mail server that is down).
"""

from __future__ import annotations

import io
import threading
import time
from collections.abc import Callable
from contextlib import redirect_stdout
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import time_machine
from django.db import connection
from django.test import Client, override_settings
from django.urls import reverse
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from rapport import cli
from rapport.accounts.models import Invitation, Practice, User
from rapport.accounts.services import invite
from rapport.accounts.tasks import send_invitation_email
from rapport.audit.models import AuditEvent
from rapport.audit.services import Action
from rapport.core import outbox, worker_health
from rapport.core.models import DeliveryStatus, EmailDelivery, WorkerHeartbeat
from rapport.core.worker import TaskWorker, reclaim
from rapport.scheduling.tasks import send_reminder
from tests.conftest import signed_in
from tests.mail import Inbox, free_port, slow_smtp_server
from tests.scheduling_data import direct_appointment, therapist_with_hours

START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
DOWN_MAILER = {
    "default": {
        "BACKEND": "django.core.mail.backends.smtp.EmailBackend",
        "OPTIONS": {"host": "127.0.0.1", "port": free_port(), "timeout": 2},
    }
}


def run_worker() -> None:
    TaskWorker(interval=0, batch=True).run()


def rapport_tasks(*args: str) -> tuple[int, str]:
    out = io.StringIO()
    with redirect_stdout(out):
        code = cli.main(["tasks", *args])
    return code, out.getvalue()


def seconds_until(moment: datetime) -> float:
    return (moment - timezone.now()).total_seconds()


@pytest.mark.django_db(transaction=True)
@override_settings(RAPPORT_RETRY_SECONDS=10, RAPPORT_RETRY_ATTEMPTS=3)
def test_a_failing_task_is_tried_again_later_and_later_then_left_failed() -> None:
    with time_machine.travel(START, tick=False) as clock:
        result = send_invitation_email.enqueue(999_999, "no such invitation")
        waits = []
        for _attempt in range(2):
            run_worker()
            task = DBTaskResult.objects.get(pk=result.id)
            assert task.status == "READY"
            assert task.exception_class_path.endswith("DoesNotExist")
            waits.append(seconds_until(task.run_after))
            run_worker()  # not yet due: nothing runs
            assert len(DBTaskResult.objects.get(pk=result.id).worker_ids) == len(waits)
            clock.shift(timedelta(seconds=waits[-1] + 1))
        assert waits == [10, 40]
        run_worker()
        task = DBTaskResult.objects.get(pk=result.id)
        assert (task.status, len(task.worker_ids)) == ("FAILED", 3)
        assert worker_health.task_backlog()["failed"] == 1

        code, listing = rapport_tasks()
        assert code == 0
        assert "failed 1" in listing
        failed_section = listing.split("failed:")[1]
        assert str(task.pk) in failed_section
        assert "send_invitation_email" in failed_section
        assert "attempts 3" in failed_section
        assert "DoesNotExist" in failed_section

        assert rapport_tasks("retry", str(task.pk))[0] == 0
        task.refresh_from_db()
        assert (task.status, task.worker_ids) == ("READY", [])
        assert rapport_tasks("retry", str(task.pk))[0] == 1  # queued, not failed: refused
        run_worker()
        assert DBTaskResult.objects.get(pk=result.id).status == "READY"  # failed again, waits


@pytest.mark.django_db(transaction=True)
@override_settings(RAPPORT_WORKER_LEASE_SECONDS=30)
def test_a_task_left_running_by_a_dead_worker_runs_again(admin: User, smtp: Inbox) -> None:
    assert worker_health.heartbeat_age() is None
    invite(admin, email="dana.dead@example.test", full_name="Dana", role="therapist")
    invite(admin, email="lena.live@example.test", full_name="Lena", role="therapist")
    # Pretend two workers claimed them; one died a minute ago, one is busy and alive.
    dead, live = DBTaskResult.objects.order_by("enqueued_at")
    long_ago = timezone.now() - timedelta(minutes=2)
    WorkerHeartbeat.objects.create(worker_id="dead", pid=1, host="h", beat_at=long_ago)
    WorkerHeartbeat.objects.create(worker_id="live", pid=2, host="h")
    for task, worker_id in ((dead, "dead"), (live, "live")):
        DBTaskResult.objects.filter(pk=task.pk).update(
            status="RUNNING", worker_ids=[worker_id], started_at=long_ago
        )
    assert 0 <= (worker_health.heartbeat_age() or -1) < 5
    backlog = worker_health.task_backlog()
    assert (backlog["running"], backlog["stuck"], backlog["queued"]) == (2, 1, 0)
    listing = rapport_tasks()[1]
    stuck_section = listing.split("stuck (worker stopped; will run again):")[1]
    assert str(dead.pk) in stuck_section.split("running:")[0]

    # A live worker's task is not taken from it, by hand or by the sweep.
    assert rapport_tasks("retry", str(live.pk))[0] == 1
    assert reclaim() == 1
    assert DBTaskResult.objects.get(pk=dead.pk).status == "READY"
    assert DBTaskResult.objects.get(pk=live.pk).status == "RUNNING"
    run_worker()
    assert [str(m["To"]) for m in smtp.take()] == ["dana.dead@example.test"]
    assert len(DBTaskResult.objects.get(pk=dead.pk).worker_ids) == 2


@pytest.mark.django_db(transaction=True)
def test_the_backlog_counts_a_deferred_task_from_when_it_became_due() -> None:
    with time_machine.travel(START, tick=False) as clock:
        send_invitation_email.using(run_after=START + timedelta(hours=1)).enqueue(1, "x")
        assert worker_health.task_backlog()["queued"] == 0
        clock.shift(timedelta(hours=1, seconds=30))
        backlog = worker_health.task_backlog()
        assert (backlog["queued"], backlog["oldest_queued_age_seconds"]) == (1, 30)


@pytest.mark.django_db(transaction=True)
@override_settings(RAPPORT_RETRY_SECONDS=10, RAPPORT_RETRY_ATTEMPTS=3)
def test_a_mail_server_that_stays_down_ends_in_a_failed_email_an_admin_sends_again(
    admin: User, therapist_x: User, smtp: Inbox
) -> None:
    with time_machine.travel(START, tick=False) as clock:
        invite(admin, email="mo.mail@example.test", full_name="Mo", role="therapist")
        with override_settings(MAILERS=DOWN_MAILER):
            run_worker()  # the task did its part: the email is decided and recorded
            assert DBTaskResult.objects.get().status == "SUCCESSFUL"
            delivery = EmailDelivery.objects.get()
            assert (delivery.status, delivery.attempts) == (DeliveryStatus.PENDING, 1)
            assert "ConnectionRefusedError" in delivery.last_error
            assert seconds_until(delivery.next_attempt_at) == 10
            assert outbox.send_due() == 0  # not due yet: not tried
            for wait in (10, 40):
                clock.shift(timedelta(seconds=wait))
                assert outbox.send_due() == 0
            delivery.refresh_from_db()
            assert (delivery.status, delivery.attempts) == (DeliveryStatus.FAILED, 3)
        assert smtp.take() == []

        page = reverse("failed_emails")
        assert signed_in(therapist_x).get(page).status_code == 403
        refused = signed_in(therapist_x).post(page, {"delivery": delivery.pk})
        assert refused.status_code == 403
        assert EmailDelivery.objects.get().status == DeliveryStatus.FAILED
        admin_browser = signed_in(admin)
        listing = admin_browser.get(page).content.decode()
        assert "mo.mail@example.test" in listing
        assert "ConnectionRefusedError" in listing
        assert admin_browser.post(page, {"delivery": "x"}).status_code == 400
        assert admin_browser.post(page, {"delivery": delivery.pk}).status_code == 302
        assert AuditEvent.objects.filter(action=Action.EMAIL_RETRIED, actor=admin).count() == 1
        assert outbox.send_due() == 1
        [sent] = smtp.take()
        assert str(sent["To"]) == "mo.mail@example.test"
        assert sent["Message-ID"] == delivery.message_id  # the same email, sent again
        token_link = Invitation.objects.get().email
        assert token_link in str(sent["To"])
        delivery.refresh_from_db()
        assert (delivery.status, delivery.message) == (DeliveryStatus.SENT, "")
        assert "No email has failed." in admin_browser.get(page).content.decode()


@pytest.mark.django_db(transaction=True)
def test_an_email_decided_twice_is_recorded_and_sent_once(admin: User, smtp: Inbox) -> None:
    invite(admin, email="once@example.test", full_name="Once", role="therapist")
    task: Any = DBTaskResult.objects.get()
    args = task.args_kwargs["args"]
    send_invitation_email.call(*args)
    send_invitation_email.call(*args)  # a second run of the same task, after a crash
    outbox.send_due()
    assert [str(m["To"]) for m in smtp.take()] == ["once@example.test"]
    assert EmailDelivery.objects.get().status == DeliveryStatus.SENT


def slow_mailer(port: int) -> dict[str, Any]:
    options = {"host": "127.0.0.1", "port": port, "timeout": 10}
    return {
        "default": {"BACKEND": "django.core.mail.backends.smtp.EmailBackend", "OPTIONS": options}
    }


@pytest.mark.django_db(transaction=True)
def test_a_slow_mail_server_holds_no_database_lock_and_no_request(
    therapist_x: User, client_a: User
) -> None:
    with slow_smtp_server(delay=3.0) as (inbox, port), override_settings(MAILERS=slow_mailer(port)):
        # A web request that mails (allauth's password reset) only records the email: it has
        # not talked to the mail server when it answers.
        asked = Client().post("/accounts/password/reset/", {"email": client_a.email})
        assert asked.status_code == 302
        assert (inbox.count(), inbox.talking.is_set()) == (0, False)
        assert EmailDelivery.objects.get().status == DeliveryStatus.PENDING

        # A reminder: decided under a lock on the appointment, sent after that lock is gone.
        _therapist, session_type = therapist_with_hours(therapist=therapist_x)
        appointment = direct_appointment(
            session_type, client_a, timezone.now().replace(microsecond=0) + timedelta(days=3)
        )
        send_reminder.enqueue(appointment.pk, 60, appointment.starts_at.isoformat())
        sender = threading.Thread(target=work_then_sweep)
        sender.start()
        try:
            assert wait_for(inbox.talking.is_set, 20), "the worker never reached the server"
            # While the worker waits on the mail server, the database takes writes at once.
            started = time.monotonic()
            Practice.objects.update(name="Written while mail was slow")
            wrote_in = time.monotonic() - started
        finally:
            sender.join(timeout=30)
        assert wrote_in < 1.0, f"a write waited {wrote_in:.1f} s for the mail server"
        assert not sender.is_alive()
        assert [str(m["To"]) for m in inbox.take()] == [client_a.email, client_a.email]


def work_then_sweep() -> None:
    run_worker()
    outbox.send_due()
    connection.close()


def wait_for(condition: Callable[[], bool], seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True
