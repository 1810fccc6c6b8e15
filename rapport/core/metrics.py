"""Prometheus metrics (``/metrics``): what the server processes measure, and what the database
says at scrape time.

Two kinds, because ``rapport serve --workers N`` runs N processes and a scrape reaches one:

- **Measured in each process** (request latency by route, open sockets, message delivery
  latency, call recoveries): ``rapport serve`` points ``PROMETHEUS_MULTIPROC_DIR`` at a fresh
  ``RAPPORT_METRICS_DIR`` before its processes start, each process writes its samples to
  memory-mapped files there (prometheus_client's multiprocess mode), and the process answering
  the scrape adds them all up. Counters and histograms of a process that died stay in the sum
  (they must not go backwards); its open-socket gauge is dropped at the next scrape. A restart
  of ``rapport serve`` empties the folder, which Prometheus reads as a counter reset. Without
  the variable (the demo, the tests: one process) the samples stay in memory.
- **Read from the database at scrape time** (``SCRAPE_TIME_COLLECTORS``: the task queue), so
  every process answers the same whichever one is asked. Add a collector with one line there.

Labels are bounded: a route is its URL pattern (``clients/<int:client_id>/``), never a path.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from django.conf import settings
from django.db.models import Count
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from rapport.core import worker_health

MULTIPROCESS_VARIABLE = "PROMETHEUS_MULTIPROC_DIR"

REQUEST_SECONDS = Histogram(
    "rapport_http_request_duration_seconds",
    "Time to answer an HTTP request, by URL pattern, method and status class.",
    ["route", "method", "status"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)
SOCKETS_OPEN = Gauge(
    "rapport_websockets_open",
    "WebSockets open now, by kind (events, messages, visit).",
    ["socket"],
    multiprocess_mode="livesum",
)
MESSAGE_DELIVERY_SECONDS = Histogram(
    "rapport_message_delivery_seconds",
    "From a message being stored to its frame being sent on another socket.",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0),
)
CALL_RECOVERIES = Counter(
    "rapport_call_recoveries",
    "Calls that lost their connection and tried to restore it, by phase "
    "(started, completed, failed).",
    ["phase"],
)


# --- Requests ------------------------------------------------------------------------------------


def _route(request: HttpRequest) -> str:
    match = getattr(request, "resolver_match", None)
    if match is not None:
        return str(match.route) or "/"
    if request.path.startswith(settings.STATIC_URL):
        return "static"  # answered by WhiteNoise before URL resolution
    return "unmatched"


def _observe(request: HttpRequest, response: HttpResponse, started: float) -> None:
    method = request.method if request.method in {"GET", "HEAD", "POST"} else "other"
    REQUEST_SECONDS.labels(
        route=_route(request), method=method, status=f"{response.status_code // 100}xx"
    ).observe(time.perf_counter() - started)


class RequestMetricsMiddleware:
    """Times every request, first in and last out; runs as the stack does (sync or async), so it
    adds no thread hand-off."""

    sync_capable = True
    async_capable = True

    def __init__(self, get_response: Callable[[HttpRequest], Any]) -> None:
        self.get_response = get_response
        self.is_async = iscoroutinefunction(get_response)
        if self.is_async:
            markcoroutinefunction(self)

    def __call__(self, request: HttpRequest) -> Any:
        if self.is_async:
            return self._acall(request)
        started = time.perf_counter()
        response: HttpResponse = self.get_response(request)
        _observe(request, response, started)
        return response

    async def _acall(self, request: HttpRequest) -> HttpResponse:
        started = time.perf_counter()
        response: HttpResponse = await self.get_response(request)
        _observe(request, response, started)
        return response


# --- Sockets and messages ------------------------------------------------------------------------


class CountedSocket:
    """ASGI wrapper of a consumer: counts its sockets from the accept to the end."""

    def __init__(self, kind: str, application: Any) -> None:
        self.kind = kind
        self.application = application

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> Any:
        accepted = False

        async def counting_send(message: dict[str, Any]) -> None:
            nonlocal accepted
            if message.get("type") == "websocket.accept" and not accepted:
                accepted = True
                SOCKETS_OPEN.labels(socket=self.kind).inc()
            await send(message)

        try:
            return await self.application(scope, receive, counting_send)
        finally:
            if accepted:
                SOCKETS_OPEN.labels(socket=self.kind).dec()


def message_delivered(stored_at: str) -> None:
    """A message frame went out on a socket; ``stored_at`` is the message's ISO time."""
    try:
        stored = datetime.fromisoformat(stored_at)
    except (TypeError, ValueError):
        return
    MESSAGE_DELIVERY_SECONDS.observe(max(0.0, (timezone.now() - stored).total_seconds()))


def call_recovery(phase: str) -> None:
    CALL_RECOVERIES.labels(phase=phase).inc()


# --- Read at scrape time -------------------------------------------------------------------------


def task_queue() -> Iterator[GaugeMetricFamily]:
    from django_tasks_db.models import DBTaskResult

    backlog = worker_health.task_backlog()
    yield GaugeMetricFamily(
        "rapport_tasks_queued",
        "Tasks due to run that no worker has claimed yet.",
        value=backlog["queued"],
    )
    yield GaugeMetricFamily(
        "rapport_tasks_oldest_queued_age_seconds",
        "How long the oldest task due to run has waited (0: none waiting).",
        value=backlog["oldest_queued_age_seconds"],
    )
    yield GaugeMetricFamily(
        "rapport_tasks_stuck",
        "Tasks claimed by a worker that stopped beating (taken back by the next worker's sweep).",
        value=backlog["stuck"],
    )
    by_status = GaugeMetricFamily(
        "rapport_tasks", "Task results kept in the database, by status.", labels=["status"]
    )
    for row in DBTaskResult.objects.values("status").annotate(count=Count("id")):
        by_status.add_metric([str(row["status"]).lower()], row["count"])
    yield by_status


def worker_heartbeat() -> Iterator[GaugeMetricFamily]:
    age = worker_health.heartbeat_age()
    if age is not None:  # no sample before any worker ever beat
        yield GaugeMetricFamily(
            "rapport_worker_heartbeat_age_seconds",
            "Seconds since the newest heartbeat of a rapport worker.",
            value=age,
        )


SCRAPE_TIME_COLLECTORS: list[Callable[[], Iterable[GaugeMetricFamily]]] = [
    task_queue,
    worker_heartbeat,
]


class _ScrapeTime(Collector):
    def collect(self) -> Iterator[GaugeMetricFamily]:
        for collector in SCRAPE_TIME_COLLECTORS:
            yield from collector()


# --- Exposition ----------------------------------------------------------------------------------


def multiprocess_folder() -> Path | None:
    folder = os.environ.get(MULTIPROCESS_VARIABLE)
    return Path(folder) if folder else None


def _forget_dead_processes(folder: Path) -> None:
    """Drop the open-socket gauges of server processes that are gone (uvicorn restarts a
    worker process that dies; its sockets died with it)."""
    for path in folder.glob("gauge_live*_*.db"):
        pid = path.stem.rpartition("_")[2]
        if not pid.isdigit():
            continue
        try:
            os.kill(int(pid), 0)
        except ProcessLookupError:
            multiprocess.mark_process_dead(int(pid), str(folder))  # type: ignore[no-untyped-call]
        except PermissionError:
            pass  # alive, another account's


def exposition() -> tuple[bytes, str]:
    """(body, content type) of a scrape."""
    folder = multiprocess_folder()
    if folder is None:
        registry = CollectorRegistry()
        registry.register(_Everything(REGISTRY))
    else:
        _forget_dead_processes(folder)
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry, path=str(folder))  # type: ignore[no-untyped-call]
    registry.register(_ScrapeTime())
    return generate_latest(registry), CONTENT_TYPE_LATEST


class _Everything(Collector):
    """The process's own registry (one process: nothing to add up)."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.registry = registry

    def collect(self) -> Iterator[Any]:
        yield from self.registry.collect()
