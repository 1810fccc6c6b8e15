"""Readiness: is this installation able to serve and do its work right now (``/readyz``).

Each check is a small function returning a ``Status``; ``READINESS_CHECKS`` lists them by name
and ``readiness()`` runs them all, each on its own so one failing (or raising) never hides the
others. Apps above the ground floor add theirs with ``readiness_check`` from their ``ready()``
(the audit anchor's freshness: ``rapport.audit.health``). Liveness (``/healthz``) checks nothing
but the process itself: a load balancer restarting a server because PostgreSQL is down would only
add a restart storm to the outage.

What a check says goes to whoever can reach ``/readyz``: figures and the name of what failed,
never an address, a password or an exception's text.
"""

from __future__ import annotations

import logging
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import connection

from rapport.core import worker_health

log = logging.getLogger(__name__)

OK = "ok"
FAILING = "failing"
SKIPPED = "skipped"  # not configured here (Redis in the embedded configuration)


@dataclass(frozen=True)
class Status:
    status: str
    detail: dict[str, Any] = field(default_factory=dict)

    @property
    def failing(self) -> bool:
        return self.status == FAILING


Check = Callable[[], Status]
READINESS_CHECKS: dict[str, Check] = {}


def readiness_check(name: str) -> Callable[[Check], Check]:
    """Add the decorated function to ``/readyz`` under ``name``."""

    def register(check: Check) -> Check:
        READINESS_CHECKS[name] = check
        return check

    return register


def readiness() -> tuple[bool, dict[str, dict[str, Any]]]:
    """(ready, per-check status and detail) for every registered check."""
    results: dict[str, dict[str, Any]] = {}
    for name, check in READINESS_CHECKS.items():
        started = time.perf_counter()
        try:
            outcome = check()
        except Exception as exc:  # a check that breaks is a failing check, never a 500
            log.warning("readiness check %s raised %s", name, exc.__class__.__name__)
            outcome = Status(FAILING, {"error": exc.__class__.__name__})
        results[name] = {
            "status": outcome.status,
            **outcome.detail,
            "ms": round((time.perf_counter() - started) * 1000, 1),
        }
    ready = all(result["status"] != FAILING for result in results.values())
    return ready, results


@readiness_check("database")
def database() -> Status:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except Exception as exc:
        return Status(FAILING, {"error": exc.__class__.__name__})
    return Status(OK, {"vendor": connection.vendor})


@readiness_check("redis")
def redis() -> Status:
    """The cache and the channel layer's server answers, when ``REDIS_URL`` is set."""
    if not settings.REDIS_URL:
        return Status(SKIPPED, {"reason": "REDIS_URL is not set"})
    from redis import Redis

    # Its own short-lived connection with short timeouts: the cache's client would retry for
    # its full socket timeout while the probe waits.
    client = Redis.from_url(
        settings.REDIS_URL, socket_connect_timeout=2, socket_timeout=2, retry=None
    )
    try:
        client.ping()
    except Exception as exc:
        return Status(FAILING, {"error": exc.__class__.__name__})
    finally:
        client.close()
    return Status(OK)


@readiness_check("disk")
def disk() -> Status:
    """Free space where the data lives (the SQLite database, attachments, metrics files)."""
    folder = Path(settings.DATA_DIR)
    usage = shutil.disk_usage(folder if folder.exists() else folder.parent)
    free_mb = usage.free // (1024 * 1024)
    minimum = settings.RAPPORT_READY_MIN_FREE_MB
    detail = {"free_mb": free_mb, "min_free_mb": minimum}
    return Status(FAILING if free_mb < minimum else OK, detail)


@readiness_check("task_backlog")
def task_backlog() -> Status:
    """Tasks pile up when no worker runs, or when the workers cannot keep up; stuck tasks (a
    worker died holding them) are reported, and taken back by the next worker's sweep."""
    backlog = worker_health.task_backlog()
    limit = settings.RAPPORT_READY_MAX_QUEUE_AGE_SECONDS
    age = backlog["oldest_queued_age_seconds"] if backlog["queued"] else None
    detail = {
        **backlog,
        "oldest_queued_age_seconds": round(age, 1) if age is not None else None,
        "max_age_seconds": limit,
    }
    stale = age is not None and age > limit
    return Status(FAILING if stale else OK, detail)


@readiness_check("worker")
def worker() -> Status:
    """A worker beat within its lease (``RAPPORT_WORKER_LEASE_SECONDS``): without one, no email
    goes out and no alert escalates."""
    age = worker_health.heartbeat_age()
    lease = settings.RAPPORT_WORKER_LEASE_SECONDS
    detail = {
        "heartbeat_age_seconds": round(age, 1) if age is not None else None,
        "lease_seconds": lease,
    }
    return Status(FAILING if age is None or age > lease else OK, detail)
