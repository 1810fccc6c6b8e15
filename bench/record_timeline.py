"""Record timeline budget: a client's whole-record timeline in at most 100 ms, the PDF in 3 s.

One therapist treats two clients. The measured one has 200 sessions (each with a modality switch
and a check-in), 300 PHQ-9 results, a consent signature and 60 messages, plus whatever the
``SEEDERS`` of ``tests/record_data.py`` add (notes, plans, diagnoses when their apps land); the
other has a third of each. We request the therapist's timeline of each client
(``record_timeline``: its first page of 50 entries, newest first; for the full record also its
oldest page, reached by a cursor as the "Older entries" links reach it) through Django's test
client: the whole server side of a request (middleware, the permission check and its audit event,
every provider, decrypting the results, the template), without the network. The baseline,
measured in the same run and interleaved, is the plain client record page of the same client.
Then the record PDF is generated a few times.

The number of queries is counted for both clients and must be the same (the oldest page may read
fewer, as providers with nothing there skip their prefetches). Exits 1 when the p95 of the slower
page of the full timeline or the slowest PDF is over budget, or the query counts differ.

    .venv/bin/python bench/record_timeline.py                 # SQLite in a temporary folder
    DATABASE_URL=postgres://... .venv/bin/python bench/record_timeline.py   # <name>_bench_record
"""

from __future__ import annotations

import statistics
import sys
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

if __package__ in {None, ""}:  # run as a script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.own_database import own_database

BUDGET_MS = 100.0
PDF_BUDGET_S = 3.0
FEW_SCALE = 1 / 3  # the same page with a third of the record: the query count must not change
REPETITIONS = 40
WARM_UP = 5
PDF_RUNS = 3


@dataclass
class Timing:
    name: str
    url: str
    entries: int
    samples_ms: list[float] = field(default_factory=list)
    queries: int = 0
    size: int = 0

    def percentile(self, share: float) -> float:
        ordered = sorted(self.samples_ms)
        return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def build(now: datetime) -> tuple[Any, dict[float, Any], list[Timing]]:
    """(the therapist, {scale: client}, [baseline, timeline at a third, full timeline])."""
    from allauth.mfa.totp.internal.auth import TOTP, generate_totp_secret
    from django.urls import reverse

    from rapport.care.models import CareRelationship, ClientProfile
    from rapport.records.timeline import record_entries
    from rapport.records.views import PAGE_SIZE
    from tests.record_data import seed_record
    from tests.scheduling_data import person

    therapist = person("record.therapist@example.test", "therapist", "Tara Record")
    TOTP.activate(therapist, generate_totp_secret())  # therapists must have a second factor
    clients = {}
    for scale in (FEW_SCALE, 1.0):
        client = person(f"record.{round(scale * 100)}@example.test", "client", f"Client {scale}")
        relationship = CareRelationship.objects.create(therapist=therapist, client=client)
        ClientProfile.objects.get_or_create(client=client)
        seed_record(relationship, scale=scale, start=now - timedelta(weeks=300))
        clients[scale] = client

    def timeline(scale: float) -> Timing:
        client = clients[scale]
        url = reverse("record_timeline", kwargs={"client_id": client.pk})
        count = len(record_entries(client, viewer=therapist))
        return Timing(f"timeline, {count} entries", url, count)

    record = reverse("client_record", kwargs={"client_id": clients[1.0].pk})
    full = timeline(1.0)
    # The oldest page of the full record: the cursor is the time of the entry just newer
    # than its last PAGE_SIZE entries, as the "Older entries" links would reach it.
    whole = record_entries(clients[1.0], viewer=therapist)
    cursor = urlencode({"before": whole[-PAGE_SIZE - 1].at.isoformat()})
    oldest = Timing(f"oldest page, {full.entries}", f"{full.url}?{cursor}", full.entries)
    return (
        therapist,
        clients,
        [
            Timing("client record (baseline)", record, full.entries),
            timeline(FEW_SCALE),
            full,
            oldest,
        ],
    )


def measure(therapist: Any, timings: list[Timing]) -> None:
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    browser = Client(HTTP_HOST="127.0.0.1")
    browser.force_login(therapist)
    for round_number in range(WARM_UP + REPETITIONS):
        for timing in timings:
            started = time.perf_counter()
            response = browser.get(timing.url)
            elapsed = (time.perf_counter() - started) * 1000
            assert response.status_code == 200, (timing.url, response.status_code)
            if round_number >= WARM_UP:
                timing.samples_ms.append(elapsed)
            timing.size = len(response.content)
    for timing in timings:
        with CaptureQueriesContext(connection) as queries:
            browser.get(timing.url)
        timing.queries = len(queries.captured_queries)


def measure_pdf(therapist: Any, client: Any) -> list[float]:
    """Seconds to generate the whole record's PDF, each run (the export service, audit included)."""
    from rapport.care.access import Reach
    from rapport.records.services import export_pdf

    seconds = []
    for _run in range(PDF_RUNS):
        started = time.perf_counter()
        export = export_pdf(therapist, client, Reach.CARE)
        seconds.append(time.perf_counter() - started)
        assert export.content.startswith(b"%PDF")
    return seconds


def report(database: str, timings: list[Timing], pdf_seconds: list[float]) -> str:
    header = (
        f"{'page':<30} {'rows':>5} {'queries':>7} {'KiB':>5} {'median':>8} {'p95':>8} "
        f"{'min':>8} {'max':>8}"
    )
    lines = [
        f"therapist's client record timeline, {database}; {REPETITIONS} requests each; "
        f"budget p95 <= {BUDGET_MS:.0f} ms",
        header,
        "-" * len(header),
    ]
    for t in timings:
        lines.append(
            f"{t.name:<30} {t.entries:>5} {t.queries:>7} {t.size / 1024:>5.0f} "
            f"{statistics.median(t.samples_ms):>5.2f} ms {t.percentile(0.95):>5.2f} ms "
            f"{min(t.samples_ms):>5.2f} ms {max(t.samples_ms):>5.2f} ms"
        )
    lines.append(
        f"record PDF, {timings[-1].entries} entries: "
        + ", ".join(f"{s:.2f} s" for s in pdf_seconds)
        + f" (budget {PDF_BUDGET_S:.0f} s)"
    )
    return "\n".join(lines)


def main() -> int:
    with own_database("_bench_record") as database:
        therapist, clients, timings = build(datetime.now(UTC))
        measure(therapist, timings)
        pdf_seconds = measure_pdf(therapist, clients[1.0])
    print(report(database, timings, pdf_seconds))
    baseline, few, full, oldest = timings
    slowest = max((full, oldest), key=lambda timing: timing.percentile(0.95))
    p95, median = slowest.percentile(0.95), statistics.median(slowest.samples_ms)
    problems = []
    if not few.queries == full.queries >= oldest.queries:
        problems.append(
            f"QUERIES GROW: {few.queries} at {few.entries} entries, {full.queries} at "
            f"{full.entries}"
        )
    if p95 > BUDGET_MS:
        problems.append(f"OVER BUDGET: {slowest.name} p95 {p95:.2f} ms (budget {BUDGET_MS:.0f} ms)")
    if max(pdf_seconds) > PDF_BUDGET_S:
        problems.append(
            f"OVER BUDGET: record PDF {max(pdf_seconds):.2f} s (budget {PDF_BUDGET_S:.0f} s)"
        )
    if problems:
        print("\n" + "\n".join(problems))
        return 1
    print(
        f"\nOK: timeline p95 {p95:.2f} ms with {full.entries} entries, median {median:.2f} ms, "
        f"{full.queries} queries (the same at {few.entries}); budget {BUDGET_MS:.0f} ms; "
        f"baseline median {statistics.median(baseline.samples_ms):.2f} ms; PDF at most "
        f"{max(pdf_seconds):.2f} s"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
