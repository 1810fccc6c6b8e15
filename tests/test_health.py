"""Liveness (``/healthz``), readiness (``/readyz``: each check's own status) and the Prometheus
metrics (``/metrics``, behind a token), through the real URL configuration. The run of
``rapport serve --workers 2`` that adds up several processes' metrics is in
``tests/test_metrics_processes.py``."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import time_machine
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from django.test import Client, override_settings
from django.utils import timezone
from django_tasks_db.models import DBTaskResult
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample

from rapport.accounts.models import User
from rapport.asgi import application
from rapport.audit.anchor import checkpoint_now
from rapport.audit.services import record
from rapport.care.models import CareRelationship
from rapport.core import health
from rapport.core.models import WorkerHeartbeat
from rapport.messaging.access import conversation_for
from rapport.scheduling.tasks import send_appointment_email
from tests.conftest import signed_in
from tests.mail import free_port
from tests.sockets import run_async, socket_headers

TOKEN = "m" * 40


@pytest.fixture(autouse=True)
def worker_beating(request: pytest.FixtureRequest) -> None:
    """A worker beat just now (the readiness checks want one), for tests with a database."""
    if "db" in request.fixturenames or "admin" in request.fixturenames:
        WorkerHeartbeat.objects.create(worker_id="test-worker", pid=1, host="test")


def _ready(expected_status: int = 200) -> dict[str, Any]:
    response = Client().get("/readyz")
    assert response.status_code == expected_status, response.content
    assert response["Cache-Control"].startswith("max-age=0")
    body: dict[str, Any] = response.json()
    assert body["status"] == ("ok" if expected_status == 200 else "failing")
    return body


# --- /healthz and /readyz ------------------------------------------------------------------------


def test_liveness_asks_nothing_of_the_database(db: None, django_assert_num_queries: Any) -> None:
    with django_assert_num_queries(0):
        response = Client().get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_ready_reports_every_check_with_its_status(db: None, settings: Any) -> None:
    checks = _ready()["checks"]
    assert set(checks) == {"database", "redis", "disk", "task_backlog", "worker", "audit_anchor"}
    assert checks["database"]["status"] == "ok"
    assert checks["redis"]["status"] == ("ok" if settings.REDIS_URL else "skipped")
    assert checks["disk"]["status"] == "ok" and checks["disk"]["free_mb"] > 0
    assert checks["task_backlog"] == {**checks["task_backlog"], "status": "ok", "queued": 0}
    assert checks["audit_anchor"]["status"] == "ok"
    assert checks["worker"]["status"] == "ok" and checks["worker"]["heartbeat_age_seconds"] < 5
    assert all(isinstance(check["ms"], float) for check in checks.values())


def test_ready_fails_without_a_worker_beating(db: None) -> None:
    WorkerHeartbeat.objects.update(beat_at=timezone.now() - timedelta(minutes=5))
    worker = _ready(503)["checks"]["worker"]
    assert worker["status"] == "failing" and worker["heartbeat_age_seconds"] >= 300
    WorkerHeartbeat.objects.all().delete()  # no worker ever started
    never = _ready(503)["checks"]["worker"]
    assert never["status"] == "failing" and never["heartbeat_age_seconds"] is None


def test_ready_fails_when_redis_is_down_and_names_no_address(db: None) -> None:
    closed = f"redis://:hunter2@127.0.0.1:{free_port()}/0"  # nothing listens there
    with override_settings(REDIS_URL=closed):
        body = _ready(503)
    assert body["checks"]["redis"] == {**body["checks"]["redis"], "status": "failing"}
    assert body["checks"]["redis"]["error"] == "ConnectionError"
    assert body["checks"]["database"]["status"] == "ok"  # the others still report
    assert "hunter2" not in str(body) and "127.0.0.1" not in str(body)


def test_ready_fails_when_the_data_folder_runs_low_on_disk(db: None, settings: Any) -> None:
    free_mb = _ready()["checks"]["disk"]["free_mb"]
    settings.RAPPORT_READY_MIN_FREE_MB = free_mb + 1024  # the threshold is configurable
    disk = _ready(503)["checks"]["disk"]
    assert disk["status"] == "failing"
    assert disk["min_free_mb"] == free_mb + 1024
    settings.RAPPORT_READY_MIN_FREE_MB = max(1, free_mb - 1024)
    assert _ready()["checks"]["disk"]["status"] == "ok"


def test_ready_fails_when_the_audit_anchor_falls_behind(db: None, settings: Any) -> None:
    settings.RAPPORT_AUDIT_ANCHOR_SECONDS = 300
    with time_machine.travel(timezone.now() - timedelta(minutes=11), tick=False):
        first = record("test.event", object_id="1")
    anchor = _ready(503)["checks"]["audit_anchor"]  # no worker checkpointed it in 11 minutes
    assert anchor["status"] == "failing"
    assert anchor["anchored_sequence"] == 0 and anchor["unanchored_age_seconds"] >= 660
    assert anchor["max_age_seconds"] == 660
    checkpoint_now()
    anchor = _ready()["checks"]["audit_anchor"]
    assert anchor["anchored_sequence"] == first.sequence and anchor["unanchored_age_seconds"] == 0
    record("test.event", object_id="2")  # a fresh event waiting for the next checkpoint is fine
    assert _ready()["checks"]["audit_anchor"]["status"] == "ok"
    with time_machine.travel(timezone.now() + timedelta(minutes=12)):
        assert _ready(503)["checks"]["audit_anchor"]["status"] == "failing"


def test_ready_reads_only_the_tail_of_a_long_anchor(db: None, settings: Any) -> None:
    record("test.event", object_id="1")
    checkpoint_now()
    anchor = Path(settings.RAPPORT_AUDIT_ANCHOR)
    lines = anchor.read_text()
    anchor.write_text("x" * 200_000 + "\n" + lines)  # junk before it, as after years of lines
    assert _ready()["checks"]["audit_anchor"]["anchored_sequence"] > 0


def test_ready_fails_when_a_due_task_waits_too_long(db: None, settings: Any) -> None:
    settings.RAPPORT_READY_MAX_QUEUE_AGE_SECONDS = 120
    result = send_appointment_email.enqueue(1, "booked", 1, "client")
    backlog = _ready()["checks"]["task_backlog"]
    assert backlog["queued"] == 1 and backlog["oldest_queued_age_seconds"] < 120
    DBTaskResult.objects.filter(id=result.id).update(
        enqueued_at=timezone.now() - timedelta(minutes=5)
    )
    backlog = _ready(503)["checks"]["task_backlog"]
    assert backlog["status"] == "failing" and backlog["oldest_queued_age_seconds"] >= 300
    # A task queued for later has waited only since it fell due.
    DBTaskResult.objects.filter(id=result.id).update(
        run_after=timezone.now() - timedelta(seconds=10)
    )
    assert _ready()["checks"]["task_backlog"]["status"] == "ok"


@pytest.fixture
def broken_check() -> Iterator[None]:
    def explode() -> health.Status:
        raise RuntimeError("secret detail")

    health.READINESS_CHECKS["broken"] = explode
    yield
    del health.READINESS_CHECKS["broken"]


def test_a_check_that_raises_fails_alone_without_its_message(db: None, broken_check: None) -> None:
    body = _ready(503)
    assert body["checks"]["broken"] == {**body["checks"]["broken"], "error": "RuntimeError"}
    assert "secret detail" not in str(body)
    assert body["checks"]["database"]["status"] == "ok"


def test_health_routes_take_only_get(db: None, settings: Any) -> None:
    settings.RAPPORT_METRICS_TOKEN = TOKEN
    for path in ("/healthz", "/readyz", "/metrics"):
        assert Client().post(path).status_code == 405, path
        assert Client().head(path).status_code in {200, 403}, path


# --- /metrics ------------------------------------------------------------------------------------


def _scrape(token: str = TOKEN) -> dict[str, list[Sample]]:
    response = Client().get("/metrics", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200, response.content
    assert response["Content-Type"].startswith("text/plain; version=")
    families = text_string_to_metric_families(response.content.decode())
    return {family.name: family.samples for family in families}


def _value(samples: list[Sample], name: str, **labels: str) -> float:
    return sum(s.value for s in samples if s.name == name and labels.items() <= s.labels.items())


def test_metrics_are_denied_by_default(db: None, settings: Any, admin: User) -> None:
    settings.RAPPORT_METRICS_TOKEN = ""
    assert Client().get("/metrics").status_code == 404
    assert signed_in(admin).get("/metrics").status_code == 404  # not a page for people
    settings.RAPPORT_METRICS_TOKEN = TOKEN
    assert Client().get("/metrics").status_code == 403
    for wrong in (f"Bearer {TOKEN[:-1]}", f"Basic {TOKEN}", TOKEN, f"Bearer {TOKEN}x"):
        refused = Client().get("/metrics", headers={"Authorization": wrong})
        assert refused.status_code == 403, wrong
        assert b"rapport_" not in refused.content
    assert signed_in(admin).get("/metrics").status_code == 403


def test_metrics_parse_and_count_requests_by_route(db: None, settings: Any) -> None:
    settings.RAPPORT_METRICS_TOKEN = TOKEN
    before = _scrape()["rapport_http_request_duration_seconds"]
    for _ in range(3):
        Client().get("/healthz")
    Client().get("/no/such/page/")
    after = _scrape()["rapport_http_request_duration_seconds"]
    name = "rapport_http_request_duration_seconds_count"
    grew = {
        route: _value(after, name, route=route) - _value(before, name, route=route)
        for route in ("healthz", "unmatched")
    }
    assert grew == {"healthz": 3, "unmatched": 1}
    assert _value(after, name, route="healthz", method="GET", status="2xx") >= 3
    # Labels are URL patterns, never paths with ids in them.
    routes = {s.labels["route"] for s in after if "route" in s.labels}
    assert "no/such/page/" not in routes


def test_metrics_read_the_task_queue_at_scrape_time(db: None, settings: Any) -> None:
    settings.RAPPORT_METRICS_TOKEN = TOKEN
    assert _value(_scrape()["rapport_tasks_queued"], "rapport_tasks_queued") == 0
    result = send_appointment_email.enqueue(1, "booked", 1, "client")
    DBTaskResult.objects.filter(id=result.id).update(
        enqueued_at=timezone.now() - timedelta(seconds=90)
    )
    scraped = _scrape()
    assert _value(scraped["rapport_tasks_queued"], "rapport_tasks_queued") == 1
    age = _value(
        scraped["rapport_tasks_oldest_queued_age_seconds"],
        "rapport_tasks_oldest_queued_age_seconds",
    )
    assert 90 <= age < 120
    assert _value(scraped["rapport_tasks"], "rapport_tasks", status="ready") == 1


@pytest.mark.django_db(transaction=True)
def test_metrics_count_open_sockets_and_time_message_delivery(
    settings: Any, client_a: User, therapist_x: User
) -> None:
    settings.RAPPORT_METRICS_TOKEN = TOKEN
    chat = str(
        conversation_for(CareRelationship.objects.get(client=client_a, therapist=therapist_x)).uid
    )
    client_browser, therapist_browser = signed_in(client_a), signed_in(therapist_x)
    open_name = "rapport_websockets_open"
    delivered = "rapport_message_delivery_seconds_count"
    before = _scrape()
    seen: dict[str, float] = {}

    async def body() -> None:
        sockets = []
        for browser in (client_browser, therapist_browser):
            socket = WebsocketCommunicator(
                application, "/ws/messages/", headers=socket_headers(browser)
            )
            assert (await socket.connect(timeout=5))[0]
            assert (await socket.receive_json_from(timeout=5))["type"] == "welcome"
            sockets.append(socket)
        sender, recipient = sockets
        await sender.send_json_to(
            {"type": "send", "conversation": chat, "id": str(uuid.uuid4()), "text": "hello"}
        )
        while (await recipient.receive_json_from(timeout=5))["type"] != "message":
            pass
        scraped = await sync_to_async(_scrape)()
        seen["open"] = _value(scraped[open_name], open_name, socket="messages")
        seen["delivered"] = _value(scraped["rapport_message_delivery_seconds"], delivered)
        for socket in sockets:
            await socket.disconnect()

    run_async(body)
    opened_before = _value(before[open_name], open_name, socket="messages")
    assert seen["open"] == opened_before + 2
    assert _value(_scrape()[open_name], open_name, socket="messages") == opened_before
    assert seen["delivered"] == _value(before["rapport_message_delivery_seconds"], delivered) + 1
