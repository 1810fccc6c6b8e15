"""Background work in tests runs as in production: one round of ``rapport worker`` (its
sweeps, then django-tasks-db's worker), in this process."""

from __future__ import annotations

import signal

from django.core.management import call_command
from django_tasks_db.models import DBTaskResult

from rapport.measures.unsent import notice_unsent_risk_answers
from rapport.messaging.notifications import send_due_notices


def run_task_worker() -> None:
    """Do what ``rapport worker`` does while the clock stands still: its sweeps (the unread-message
    emails that are due, risk answers left unsent), then run queued tasks until nothing is
    ready; fail on a failed task.

    Tasks deferred to later run once time has been moved past them (time-machine)."""
    send_due_notices()
    notice_unsent_risk_answers()
    watched = [signal.SIGINT, signal.SIGTERM, signal.SIGQUIT]
    saved = {sig: signal.getsignal(sig) for sig in watched}  # the worker installs its own
    try:
        call_command("db_worker", batch=True, startup_delay=False, interval=0, verbosity=0)
    finally:
        for sig, handler in saved.items():
            signal.signal(sig, handler)
    failed = list(DBTaskResult.objects.failed().values_list("task_path", "traceback"))
    assert not failed, failed
