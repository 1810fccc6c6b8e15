"""The task worker's guarantees on top of django-tasks-db's ``db_worker`` loop.

- **Lease.** A thread beats this worker's ``WorkerHeartbeat`` every
  ``RAPPORT_WORKER_HEARTBEAT_SECONDS`` and takes back what dead workers claimed: a task left
  RUNNING by a worker silent for ``RAPPORT_WORKER_LEASE_SECONDS`` is made ready again and runs
  again (its side effects are idempotent: emails through ``rapport.core.outbox``).
- **Retries.** A failed task runs again after 1, 4, 16 ... x ``RAPPORT_RETRY_SECONDS``; after
  ``RAPPORT_RETRY_ATTEMPTS`` runs (a worker dying during one counts) it stays FAILED, listed by
  ``rapport tasks``, which can queue it again.
- **Outages.** A lost database connection never ends the worker: the loop and its threads
  reconnect with backoff and log once per ``QUIET`` seconds.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import InterfaceError, OperationalError, close_old_connections, transaction
from django.tasks import TaskResultStatus  # type: ignore[import-untyped,unused-ignore]
from django.utils import timezone
from django_tasks_db.management.commands.db_worker import Worker
from django_tasks_db.models import DBTaskResult

from rapport.core import outbox
from rapport.core.models import WorkerHeartbeat
from rapport.core.worker_health import stuck_tasks, this_worker_id

logger = logging.getLogger("rapport.worker")

TRANSIENT = (OperationalError, InterfaceError)
QUIET = 30.0  # seconds between two log lines about the same outage
# Heartbeats of workers gone this long are deleted.
FORGET_WORKERS = timedelta(days=1)


class OutageLog:
    """Logs a repeated failure once, then at most once per ``QUIET`` seconds with a count."""

    def __init__(self, what: str) -> None:
        self.what = what
        # ``what`` is part of each message's template, not an argument: the log's repeat filter
        # (``rapport.lib.logs``) tells records apart by template, and one outage's lines must
        # not hide another's.
        escaped = what.replace("%", "%%")
        self.failing = escaped + ": %s (%d time(s)); retrying"
        self.working = escaped + ": working again after %d failure(s)"
        self.failures = 0
        self.last_logged = 0.0

    def failed(self, error: BaseException) -> None:
        self.failures += 1
        now = time.monotonic()
        if self.failures == 1 or now - self.last_logged >= QUIET:
            logger.warning(self.failing, type(error).__name__, self.failures)
            self.last_logged = now

    def recovered(self) -> None:
        if self.failures:
            logger.warning(self.working, self.failures)
        self.failures = 0


def pause_after(failures: int) -> float:
    """Backoff while the database is away: 0.5, 1, 2 ... 15 s."""
    return float(min(0.5 * 2 ** max(failures - 1, 0), 15.0))


class TaskWorker(Worker):
    """``db_worker``'s loop, kept alive through database outages, with retries."""

    def __init__(self, *, interval: float, batch: bool = False) -> None:
        super().__init__(
            queue_names=["*"],
            interval=interval,
            batch=batch,
            backend_name="default",
            startup_delay=False,
            max_tasks=None,
            worker_id=this_worker_id(),
            excluded_queue_names=[],
        )

    def run(self) -> None:
        outage = OutageLog("task worker: database unavailable")
        while self.running:
            try:
                if outage.failures:
                    self.release_own_tasks()
                    outage.recovered()
                super().run()
                return
            except TRANSIENT as error:
                outage.failed(error)
                close_old_connections()
                time.sleep(pause_after(outage.failures))

    def release_own_tasks(self) -> None:
        """After an outage: a task this worker was running when the connection went is not
        running any more (the loop is here); it runs again."""
        for task in DBTaskResult.objects.running():
            if task.worker_ids and task.worker_ids[-1] == self.worker_id:
                requeue(task, "the database connection was lost while it ran")

    def run_task(self, db_task_result: DBTaskResult[Any, Any]) -> None:
        super().run_task(db_task_result)
        if db_task_result.status == TaskResultStatus.FAILED:
            retry_later(db_task_result)


def attempts(task: DBTaskResult[Any, Any]) -> int:
    """How many times a worker claimed it (``claim`` appends the worker's id each time)."""
    return len(task.worker_ids)


def retry_later(task: DBTaskResult[Any, Any]) -> bool:
    """A task that just failed runs again after a backoff, unless it used its attempts. True if
    queued again."""
    if attempts(task) >= settings.RAPPORT_RETRY_ATTEMPTS:
        logger.error(
            "task %s (%s) failed %d times; left failed", task.pk, task.task_path, attempts(task)
        )
        return False
    wait = outbox.backoff(attempts(task))
    DBTaskResult.objects.filter(pk=task.pk, status=TaskResultStatus.FAILED).update(
        status=TaskResultStatus.READY, run_after=timezone.now() + wait, finished_at=None
    )
    logger.warning(
        "task %s (%s) failed (%s); try %d in %.0f s",
        task.pk,
        task.task_path,
        task.exception_class_path.rsplit(".", 1)[-1],
        attempts(task) + 1,
        wait.total_seconds(),
    )
    return True


def requeue(task: DBTaskResult[Any, Any], why: str) -> None:
    """A running task whose run was cut short: ready again, or failed once out of attempts."""
    if attempts(task) >= settings.RAPPORT_RETRY_ATTEMPTS:
        status, note = TaskResultStatus.FAILED, f"gave up: {why} ({attempts(task)} attempts)"
    else:
        status, note = TaskResultStatus.READY, ""
    changed = DBTaskResult.objects.filter(
        pk=task.pk, status=TaskResultStatus.RUNNING, started_at=task.started_at
    ).update(
        status=status,
        finished_at=timezone.now() if note else None,
        exception_class_path="rapport.core.worker.TaskInterrupted" if note else "",
        traceback=note,
    )
    if changed:
        logger.warning("task %s (%s): %s; %s", task.pk, task.task_path, why, note or "run again")


def requeue_task(task_id: str) -> bool:
    """``rapport tasks retry``: a failed task, or one stuck with a dead worker, is queued to run
    now with fresh attempts. True if it was."""
    with transaction.atomic():
        task = DBTaskResult.objects.select_for_update().filter(pk=task_id).first()
        if task is None:
            return False
        stuck = {t.pk for t in stuck_tasks()}
        if task.status != TaskResultStatus.FAILED and task.pk not in stuck:
            return False
        task.status = TaskResultStatus.READY
        task.run_after = timezone.now()
        task.worker_ids = []
        task.finished_at = None
        task.save(update_fields=["status", "run_after", "worker_ids", "finished_at"])
    return True


def reclaim() -> int:
    """Tasks and emails claimed by workers that stopped beating run again. Returns the tasks."""
    stuck = stuck_tasks()
    for task in stuck:
        requeue(task, "its worker stopped (no heartbeat within the lease)")
    outbox.reclaim_abandoned()
    return len(stuck)


def beat() -> None:
    now = timezone.now()
    WorkerHeartbeat.objects.update_or_create(
        worker_id=this_worker_id(),
        defaults={"beat_at": now, "pid": os.getpid(), "host": socket.gethostname()[:255]},
        create_defaults={
            "beat_at": now,
            "started_at": now,
            "pid": os.getpid(),
            "host": socket.gethostname()[:255],
        },
    )
    WorkerHeartbeat.objects.filter(beat_at__lt=now - FORGET_WORKERS).delete()


def every(seconds: float, stop: threading.Event, what: str, work: Callable[[], Any]) -> None:
    """Run ``work`` now and every ``seconds`` until ``stop``; an error is logged (rate-limited
    during an outage) and the next round tries again."""
    outage = OutageLog(what)
    while True:
        try:
            work()
        except TRANSIENT as error:
            outage.failed(error)
        except Exception:  # a bug in one round must not stop the next
            logger.exception("%s failed", what)
        else:
            outage.recovered()
        finally:
            close_old_connections()
        if stop.wait(seconds):
            return


def start_heartbeat(stop: threading.Event) -> threading.Thread:
    """Beat, then take back what dead workers left, every heartbeat interval."""

    def round_() -> None:
        beat()
        reclaim()

    thread = threading.Thread(
        target=every,
        args=(settings.RAPPORT_WORKER_HEARTBEAT_SECONDS, stop, "worker heartbeat", round_),
        name="rapport-heartbeat",
        daemon=True,
    )
    thread.start()
    return thread
