"""Progress page budget: a client's clinical progress page in at most 50 ms, in fixed queries.

One therapist treats two clients. The measured one has answered PHQ-9, GAD-7 and PCL-5 100 times
each (weekly for about two years, improving with noise) and had 100 sessions, one a week in
turns of video, audio-only and live text; the other has 10 of each. We request the therapist's
progress page of each client (``client_progress``) through Django's test client: the whole
server side of a request (middleware, the permission check and its audit event, decrypting and
scoring 300 results, three SVG charts, the template), without the network. The baseline, measured
in the same run and interleaved, is the plain client record page of the same client.

The number of queries is counted for both clients and must be the same: a page that queries per
response or per instrument fails here. Exits 1 when the p95 at 100 responses per instrument is
over budget or the query counts differ.

    .venv/bin/python bench/progress_page.py                 # SQLite in a temporary folder
    DATABASE_URL=postgres://... .venv/bin/python bench/progress_page.py   # <name>_bench_progress
"""

from __future__ import annotations

import statistics
import sys
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

if __package__ in {None, ""}:  # run as a script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.own_database import own_database

BUDGET_MS = 50.0
INSTRUMENTS = ("phq9", "gad7", "pcl5")
RESPONSES = 100  # per instrument
FEW = 10  # the same page with a tenth of the record: the query count must not change
REPETITIONS = 60
WARM_UP = 5
MODALITIES = ("video", "video", "audio", "text")


@dataclass
class Timing:
    name: str
    url: str
    responses: int
    samples_ms: list[float] = field(default_factory=list)
    queries: int = 0
    size: int = 0

    def percentile(self, share: float) -> float:
        ordered = sorted(self.samples_ms)
        return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def build(now: datetime) -> tuple[Any, list[Timing]]:
    """(the therapist, [baseline, progress at FEW, progress at RESPONSES])."""
    from allauth.mfa.totp.internal.auth import TOTP, generate_totp_secret
    from django.urls import reverse

    from rapport.care.models import CareRelationship, ClientProfile
    from rapport.visits.models import Visit, VisitStatus
    from tests.measures_data import builtin_instrument, history
    from tests.scheduling_data import person

    therapist = person("progress.therapist@example.test", "therapist", "Tara Progress")
    TOTP.activate(therapist, generate_totp_secret())  # therapists must have a second factor
    instruments = [builtin_instrument(key) for key in INSTRUMENTS]
    clients = {}
    for count in (FEW, RESPONSES):
        client = person(f"progress.{count}@example.test", "client", f"Client {count}")
        relationship = CareRelationship.objects.create(therapist=therapist, client=client)
        ClientProfile.objects.get_or_create(client=client)
        first = now - timedelta(weeks=count)
        # The client answers the day before each weekly session.
        history(client, instruments, count, start=first - timedelta(days=1), seed=count)
        Visit.objects.bulk_create(
            Visit(
                relationship=relationship,
                therapist=therapist,
                client=client,
                planned_modality=MODALITIES[n % len(MODALITIES)],
                modality=MODALITIES[n % len(MODALITIES)],
                status=VisitStatus.ENDED,
                created_by=therapist,
                created_at=first + timedelta(weeks=n),
                started_at=first + timedelta(weeks=n),
                ended_at=first + timedelta(weeks=n, minutes=50),
                ended_by=therapist,
            )
            for n in range(count)
        )
        clients[count] = client

    def progress(count: int) -> str:
        return reverse("client_progress", kwargs={"client_id": clients[count].pk})

    record = reverse("client_record", kwargs={"client_id": clients[RESPONSES].pk})
    return therapist, [
        Timing("client record (baseline)", record, RESPONSES),
        Timing(f"progress, {FEW} per instrument", progress(FEW), FEW),
        Timing(f"progress, {RESPONSES} per instrument", progress(RESPONSES), RESPONSES),
    ]


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


def check_page(therapist: Any, timing: Timing) -> None:
    """The measured page is the real one: every instrument charted, with its data table."""
    from django.test import Client

    browser = Client(HTTP_HOST="127.0.0.1")
    browser.force_login(therapist)
    page = browser.get(timing.url).content.decode()
    for name in ("PHQ-9", "GAD-7", "PCL-5"):
        assert name in page, f"{name} missing from the progress page"
    assert page.count("<svg") >= len(INSTRUMENTS), "expected one chart per instrument"
    assert page.count("<table") >= len(INSTRUMENTS), "expected a data table per chart"


def report(database: str, timings: list[Timing]) -> str:
    header = (
        f"{'page':<30} {'resp.':>5} {'queries':>7} {'KiB':>5} {'median':>8} {'p95':>8} "
        f"{'min':>8} {'max':>8}"
    )
    lines = [
        f"therapist's client progress page ({', '.join(INSTRUMENTS)}), {database}; "
        f"{REPETITIONS} requests each; budget p95 <= {BUDGET_MS:.0f} ms",
        header,
        "-" * len(header),
    ]
    for t in timings:
        lines.append(
            f"{t.name:<30} {t.responses:>5} {t.queries:>7} {t.size / 1024:>5.0f} "
            f"{statistics.median(t.samples_ms):>5.2f} ms {t.percentile(0.95):>5.2f} ms "
            f"{min(t.samples_ms):>5.2f} ms {max(t.samples_ms):>5.2f} ms"
        )
    return "\n".join(lines)


def main() -> int:
    with own_database("_bench_progress") as database:
        therapist, timings = build(datetime.now(UTC))
        check_page(therapist, timings[-1])
        measure(therapist, timings)
    print(report(database, timings))
    baseline, few, full = timings
    p95, median = full.percentile(0.95), statistics.median(full.samples_ms)
    problems = []
    if few.queries != full.queries:
        problems.append(
            f"QUERIES GROW: {few.queries} at {FEW} responses per instrument, "
            f"{full.queries} at {RESPONSES}"
        )
    if p95 > BUDGET_MS:
        problems.append(
            f"OVER BUDGET: p95 {p95:.2f} ms with {RESPONSES} responses per instrument "
            f"(budget {BUDGET_MS:.0f} ms)"
        )
    if problems:
        print("\n" + "\n".join(problems))
        return 1
    print(
        f"\nOK: p95 {p95:.2f} ms with {len(INSTRUMENTS)} x {RESPONSES} responses, median "
        f"{median:.2f} ms, {full.queries} queries (the same at {FEW}); budget "
        f"{BUDGET_MS:.0f} ms; baseline median {statistics.median(baseline.samples_ms):.2f} ms"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
