"""Outcomes page budget: the practice outcomes page in at most 500 ms (p95) at practice scale.

Builds, in a database of its own, a practice of 50 therapists and 2,000 clients (40 each, one
care relationship each) with 40,000 ended sessions (20 weekly sessions per client, a quarter of
them switching modality once, so episodes fall in every modality mix) and 60,000 measure results
(15 PHQ-9 and 15 GAD-7 per client, improving or not with noise, stored encrypted as the app
stores them), plus a primary diagnosis for most clients. Seeding uses ``bulk_create``; the
per-episode facts are then built by ``rebuild_all`` (the ``rebuild_outcomes`` command), timed.

Measured through Django's test client in this process (the whole server side: middleware, the
role check and its audit event, the report's queries, suppression, the SVG charts, the
template; no network), interleaved with the baseline, the admin home page, in the same run:
the admin's outcomes page (the whole practice, by therapist too) and one therapist's (their
caseload). The machine's load average is printed beside the figures (the machine may be
shared). Exits 1 when a p95 of an outcomes page is over budget.

    .venv/bin/python bench/outcomes_page.py                    # SQLite in a temporary folder
    DATABASE_URL=postgres://... .venv/bin/python bench/outcomes_page.py   # <name>_bench_outcomes
"""

from __future__ import annotations

import json
import os
import random
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

BUDGET_MS = 500.0
THERAPISTS = 50
CLIENTS_PER_THERAPIST = 40
SESSIONS = 20  # per client: 40,000 in all
SCORES = 15  # per instrument per client: 2 x 15 x 2,000 = 60,000 results
REPETITIONS = 40
WARM_UP = 3
BATCH = 5_000
MODALITIES = ("video", "audio", "text")
CODES = (
    ("F32.1", "Major depressive disorder, single episode, moderate"),
    ("F41.1", "Generalized anxiety disorder"),
    ("F43.10", "Post-traumatic stress disorder, unspecified"),
    ("F41.0", "Panic disorder [episodic paroxysmal anxiety]"),
)


@dataclass
class Timing:
    name: str
    url: str
    user: Any
    samples_ms: list[float] = field(default_factory=list)
    queries: int = 0
    size: int = 0

    def percentile(self, share: float) -> float:
        ordered = sorted(self.samples_ms)
        return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def seed(now: datetime) -> tuple[Any, Any, float]:
    """(the admin, one therapist, seconds to build the episode facts)."""
    from allauth.mfa.totp.internal.auth import TOTP, generate_totp_secret
    from django.db import transaction

    from rapport.accounts.models import Role, User
    from rapport.care.models import CareRelationship
    from rapport.diagnoses.models import Diagnosis, Rank
    from rapport.measures.definition_files import load_definition
    from rapport.measures.models import Response
    from rapport.measures.scoring import score
    from rapport.outcomes.episodes import rebuild_all
    from rapport.visits.models import EventKind, Visit, VisitEvent, VisitStatus
    from tests.measures_data import builtin_instrument
    from tests.outcomes_data import answers_for_total

    rng = random.Random(22)  # noqa: S311 (made-up scores, not a secret)
    with transaction.atomic():
        admin = User.objects.create(
            email="admin@outcomes.rapport.test", full_name="Admin", role=Role.ADMIN
        )
        TOTP.activate(admin, generate_totp_secret())
        User.objects.bulk_create(
            User(
                email=f"t{t}@outcomes.rapport.test",
                full_name=f"Therapist {t:02}",
                role=Role.THERAPIST,
            )
            for t in range(THERAPISTS)
        )
        User.objects.bulk_create(
            (
                User(
                    email=f"c{t}.{c}@outcomes.rapport.test",
                    full_name=f"Client {t:02}-{c:02}",
                    role=Role.CLIENT,
                )
                for t in range(THERAPISTS)
                for c in range(CLIENTS_PER_THERAPIST)
            ),
            batch_size=BATCH,
        )
        therapists = {u.email: u for u in User.objects.filter(role=Role.THERAPIST)}
        for therapist in therapists.values():
            TOTP.activate(therapist, generate_totp_secret())
        clients = {u.email: u for u in User.objects.filter(role=Role.CLIENT)}
        pairs = [
            (therapists[f"t{t}@outcomes.rapport.test"], clients[f"c{t}.{c}@outcomes.rapport.test"])
            for t in range(THERAPISTS)
            for c in range(CLIENTS_PER_THERAPIST)
        ]
        started = now - timedelta(days=3 * 365)
        CareRelationship.objects.bulk_create(
            (CareRelationship(therapist=t, client=c, started_at=started) for t, c in pairs),
            batch_size=BATCH,
        )
        relationships = {
            r.client_id: r for r in CareRelationship.objects.all().only("pk", "client_id")
        }
        visits = []
        first_session: dict[int, datetime] = {}
        for index, (therapist, client) in enumerate(pairs):
            start = now - timedelta(days=700 - (index % 500))
            first_session[client.pk] = start
            planned = MODALITIES[index % 3] if index % 5 else "video"
            for n in range(SESSIONS):
                at = start + timedelta(weeks=n)
                visits.append(
                    Visit(
                        relationship_id=relationships[client.pk].pk,
                        therapist=therapist,
                        client=client,
                        planned_modality=planned,
                        modality=planned,
                        status=VisitStatus.ENDED,
                        created_by=therapist,
                        created_at=at,
                        started_at=at,
                        client_admitted_at=at,
                        ended_at=at + timedelta(minutes=50),
                        ended_by=therapist,
                    )
                )
        Visit.objects.bulk_create(visits, batch_size=BATCH)
        events = []
        for visit in Visit.objects.only("pk", "started_at", "planned_modality").iterator():
            if visit.pk % 4 == 0:  # a quarter switch modality 20 minutes in
                assert visit.started_at is not None
                other = MODALITIES[(MODALITIES.index(visit.planned_modality) + 1) % 3]
                events.append(
                    VisitEvent(
                        visit_id=visit.pk,
                        at=visit.started_at + timedelta(minutes=20),
                        kind=EventKind.MODALITY,
                        modality=other,
                        reason="user",
                    )
                )
        VisitEvent.objects.bulk_create(events, batch_size=BATCH)

        instruments = {key: builtin_instrument(key) for key in ("phq9", "gad7")}
        results: dict[tuple[str, int], tuple[str, str]] = {}
        for key, instrument in instruments.items():
            definition = load_definition(instrument.definition)
            for total in range(0, 22):
                answers = answers_for_total(key, total)
                results[(key, total)] = (
                    json.dumps(answers),
                    json.dumps(score(definition, answers).to_json()),
                )
        responses = []
        for _therapist, client in pairs:
            start = first_session[client.pk]
            gain = rng.choice((0.2, 0.5, 0.7, 1.0))
            for key, instrument in instruments.items():
                first = rng.randint(6, 21)
                for n in range(SCORES):
                    value = first - gain * first * n / (SCORES - 1) + rng.randint(-2, 2)
                    total = max(0, min(21, round(value)))
                    stored_answers, result = results[(key, total)]
                    responses.append(
                        Response(
                            client=client,
                            instrument=instrument,
                            answers=stored_answers,
                            result=result,
                            submitted_by=client,
                            submitted_at=start + timedelta(days=9 * n, hours=1),
                        )
                    )
        Response.objects.bulk_create(responses, batch_size=BATCH)
        Diagnosis.objects.bulk_create(
            (
                Diagnosis(
                    client=client,
                    code=CODES[i % 4][0],
                    description=CODES[i % 4][1],
                    rank=Rank.PRIMARY,
                    recorded_by=therapist,
                )
                for i, (therapist, client) in enumerate(pairs)
                if i % 7
            ),
            batch_size=BATCH,
        )
    began = time.perf_counter()
    rebuild_all()
    built = time.perf_counter() - began
    return admin, therapists["t0@outcomes.rapport.test"], built


def measure(timings: list[Timing]) -> None:
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    browsers = {}
    for timing in timings:
        if timing.user.pk not in browsers:
            browser = Client(HTTP_HOST="127.0.0.1")
            browser.force_login(timing.user)
            browsers[timing.user.pk] = browser
    for round_number in range(WARM_UP + REPETITIONS):
        for timing in timings:
            started = time.perf_counter()
            response = browsers[timing.user.pk].get(timing.url)
            elapsed = (time.perf_counter() - started) * 1000
            assert response.status_code == 200, (timing.url, response.status_code)
            if round_number >= WARM_UP:
                timing.samples_ms.append(elapsed)
            timing.size = len(response.content)
    for timing in timings:
        with CaptureQueriesContext(connection) as queries:
            browsers[timing.user.pk].get(timing.url)
        timing.queries = len(queries.captured_queries)


def check_page(admin: Any) -> None:
    """The measured page is the real one: rates shown, every breakdown charted with a table."""
    from django.test import Client

    from rapport.outcomes.models import EpisodeOutcome

    browser = Client(HTTP_HOST="127.0.0.1")
    browser.force_login(admin)
    page = browser.get("/outcomes/").content.decode()
    assert "95 % CI" in page, "no rate shown"
    assert page.count("<svg") >= 10, "expected two charts per breakdown"
    assert "By therapist" in page
    assert EpisodeOutcome.objects.count() >= THERAPISTS * CLIENTS_PER_THERAPIST


def main() -> int:
    with own_database("_bench_outcomes") as database:
        from django.db import connection

        from rapport.measures.models import Response
        from rapport.visits.models import Visit

        began = time.perf_counter()
        admin, therapist, built = seed(datetime.now(UTC))
        seeded = time.perf_counter() - began - built
        counts = (Visit.objects.count(), Response.objects.count())
        check_page(admin)
        timings = [
            Timing("admin home (baseline)", "/", admin),
            Timing("outcomes, whole practice", "/outcomes/", admin),
            Timing("outcomes, one caseload", "/outcomes/", therapist),
        ]
        measure(timings)
        vendor = connection.vendor
    load = os.getloadavg()
    header = f"{'page':<28} {'queries':>7} {'KiB':>5} {'median':>9} {'p95':>9} {'max':>9}"
    lines = [
        f"outcomes page, {database} ({vendor}); {counts[0]:,} sessions, {counts[1]:,} results; "
        f"seeded in {seeded:.0f} s, episode facts built in {built:.0f} s; {REPETITIONS} requests "
        f"each; budget p95 <= {BUDGET_MS:.0f} ms; load average {load[0]:.2f} {load[1]:.2f} "
        f"{load[2]:.2f}",
        header,
        "-" * len(header),
    ]
    for t in timings:
        lines.append(
            f"{t.name:<28} {t.queries:>7} {t.size / 1024:>5.0f} "
            f"{statistics.median(t.samples_ms):>6.1f} ms {t.percentile(0.95):>6.1f} ms "
            f"{max(t.samples_ms):>6.1f} ms"
        )
    print("\n".join(lines))
    over = [t for t in timings[1:] if t.percentile(0.95) > BUDGET_MS]
    if over:
        print(
            "\nOVER BUDGET: " + ", ".join(f"{t.name} p95 {t.percentile(0.95):.1f} ms" for t in over)
        )
        return 1
    print(f"\nOK: every outcomes page p95 <= {BUDGET_MS:.0f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
