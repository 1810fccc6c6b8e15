"""Background work in tests runs as in production: one round of ``rapport worker`` (its
sweeps, then its task loop), in this process."""

from __future__ import annotations

from django_tasks_db.models import DBTaskResult

from rapport.cli import worker_sweeps
from rapport.core.worker import TaskWorker


def run_task_worker() -> None:
    """Do what ``rapport worker`` does while the clock stands still: its sweeps, the same list
    (``rapport.cli.worker_sweeps``: unread-message emails that are due, risk answers left unsent,
    unanswered offers of a client, the waitlist's daily matching, guardians' reminders, emails
    due again), then run queued tasks until nothing is ready; fail on a failed task, or one
    waiting to be tried again.

    Tasks deferred to later run once time has been moved past them (time-machine)."""
    for _what, sweep in worker_sweeps():
        sweep()
    TaskWorker(interval=0, batch=True).run()
    failed = list(
        DBTaskResult.objects.exclude(exception_class_path="")
        .exclude(status="SUCCESSFUL")
        .values_list("task_path", "traceback")
    )
    assert not failed, failed
