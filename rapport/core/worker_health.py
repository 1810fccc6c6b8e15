"""Who is working: this process's worker id, the workers alive now, and the queue's state.

Read by the worker itself (whose claims may be taken back), by ``rapport tasks``, and by the
health and metrics endpoints (``heartbeat_age``, ``task_backlog``).
"""

from __future__ import annotations

import os
import secrets
import socket
from datetime import datetime, timedelta
from functools import cache
from typing import Any

from django.conf import settings
from django.db.models import Case, F, Min, When
from django.db.models.functions import Greatest
from django.utils import timezone
from django_tasks_db.models import DBTaskResult, get_date_max

from rapport.core.models import DeliveryStatus, EmailDelivery, WorkerHeartbeat


@cache
def this_worker_id() -> str:
    """This process's name in ``worker_ids``, heartbeats and email claims: host, pid and a
    random part (a pid is reused after a restart)."""
    return f"{socket.gethostname()[:40]}-{os.getpid()}-{secrets.token_hex(4)}"


def lease() -> timedelta:
    return timedelta(seconds=settings.RAPPORT_WORKER_LEASE_SECONDS)


def live_worker_ids(now: datetime | None = None) -> set[str]:
    """Workers that beat within the lease."""
    since = (now or timezone.now()) - lease()
    return set(
        WorkerHeartbeat.objects.filter(beat_at__gte=since).values_list("worker_id", flat=True)
    )


def stuck_tasks(now: datetime | None = None) -> list[DBTaskResult[Any, Any]]:
    """Running tasks whose worker stopped beating: claimed more than a lease ago by a worker
    that is not alive. The worker's reclaim sweep runs them again."""
    now = now or timezone.now()
    alive = live_worker_ids(now)
    running = DBTaskResult.objects.running().filter(started_at__lt=now - lease())
    return [task for task in running if not task.worker_ids or task.worker_ids[-1] not in alive]


def heartbeat_age() -> float | None:
    """Seconds since the newest worker heartbeat; None if no worker ever beat."""
    newest = WorkerHeartbeat.objects.order_by("-beat_at").values_list("beat_at", flat=True).first()
    if newest is None:
        return None
    return max(0.0, (timezone.now() - newest).total_seconds())


def task_backlog() -> dict[str, float | int]:
    """Queued (ready to run now), the age of the oldest of them, running, stuck and failed."""
    now = timezone.now()
    ready = DBTaskResult.objects.ready()
    # A deferred task (a reminder queued a day ahead) waits from its run_after, not its queuing.
    oldest = ready.aggregate(
        since=Min(
            Case(
                When(run_after=get_date_max(), then=F("enqueued_at")),
                default=Greatest("run_after", "enqueued_at"),
            )
        )
    )["since"]
    return {
        "queued": ready.count(),
        "oldest_queued_age_seconds": (now - oldest).total_seconds() if oldest else 0.0,
        "running": DBTaskResult.objects.running().count(),
        "stuck": len(stuck_tasks(now)),
        "failed": DBTaskResult.objects.failed().count(),
    }


def task_report(limit: int = 20) -> str:
    """What ``rapport tasks`` prints: the counts, then each kind of task, newest trouble first."""

    now = timezone.now()
    backlog = task_backlog()
    age = heartbeat_age()
    lines = [
        f"worker heartbeat: {'none ever' if age is None else f'{age:.0f} s ago'}",
        "tasks: "
        + ", ".join(f"{key.replace('_', ' ')} {value:.0f}" for key, value in backlog.items()),
    ]

    def section(title: str, tasks: Any) -> None:
        rows = list(tasks[:limit]) if not isinstance(tasks, list) else tasks[:limit]
        if not rows:
            return
        lines.append(f"\n{title}:")
        for task in rows:
            since = task.started_at or task.enqueued_at
            error = task.exception_class_path.rsplit(".", 1)[-1]
            lines.append(
                f"  {task.pk}  {task.task_path.rsplit('.', 1)[-1]:<24} "
                f"attempts {len(task.worker_ids)}  {(now - since).total_seconds():.0f} s"
                + (f"  last error {error}" if error else "")
            )

    section("stuck (worker stopped; will run again)", stuck_tasks(now))
    section("running", DBTaskResult.objects.running().order_by("started_at"))
    section("failed", DBTaskResult.objects.failed().order_by("-finished_at"))
    section("queued", DBTaskResult.objects.ready())
    failed_emails = EmailDelivery.objects.filter(status=DeliveryStatus.FAILED)
    if failed_emails.exists():
        lines.append(
            f"\nemails failed for good: {failed_emails.count()} "
            "(admins retry them on the Failed emails page)"
        )
    return "\n".join(lines)
