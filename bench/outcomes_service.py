"""Service page budget: how the service runs, by modality, in at most 500 ms (p95) at practice
scale, as the outcomes page (``bench/outcomes_page.py``, issue 22).

The practice of ``bench/outcomes_page.py`` (50 therapists, 2,000 clients, 40,000 ended sessions,
60,000 measure results) plus what the service page reads: a booking for every session and 4,000
more that were missed or cancelled late, the after-session feedback form answered after 95 % of
sessions (38,000 more results, each with its task), and the timeline lines of a session (check-in,
waiting, admission, joins, end: 200,000 more) with reconnects and poor connections in a tenth
of the sessions each. Seeding uses ``bulk_create``.

Measured as ``bench/outcomes_page.py`` measures (Django's test client in this process,
interleaved with the admin home page as the baseline, in the same run): the admin's service page
(the whole practice) and one therapist's (their caseload). Exits 1 when a p95 is over budget.

    .venv/bin/python bench/outcomes_service.py                    # SQLite in a temporary folder
    DATABASE_URL=postgres://... .venv/bin/python bench/outcomes_service.py   # <name>_bench_service
"""

from __future__ import annotations

import json
import os
import random
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

if __package__ in {None, ""}:  # run as a script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.outcomes_page import BATCH, REPETITIONS, Timing, measure, seed
from bench.own_database import own_database

BUDGET_MS = 500.0
FEEDBACK_SHARE = 0.95  # of sessions answered
EXTRA_BOOKINGS = 4_000  # missed or cancelled late


def seed_service(now: datetime) -> tuple[Any, Any, float]:
    """The outcomes practice plus bookings, feedback and timeline lines; (admin, a therapist,
    seconds to rebuild the per-session and per-episode facts)."""
    from django.db import transaction

    from rapport.measures.definition_files import load_definition
    from rapport.measures.instruments import feedback_instrument
    from rapport.measures.models import MeasureTask, Response, TaskStatus
    from rapport.measures.scoring import score
    from rapport.outcomes.episodes import rebuild_all
    from rapport.scheduling.models import Appointment, AppointmentStatus, SessionType
    from rapport.visits.models import EventKind, Visit, VisitEvent
    from tests.measures_data import answers_near

    admin, therapist, _built = seed(now)
    rng = random.Random(23)  # noqa: S311 (made-up answers, not a secret)
    instrument = feedback_instrument()
    assert instrument is not None
    definition = load_definition(instrument.definition)
    with transaction.atomic():
        therapist_ids = sorted(set(Visit.objects.values_list("therapist_id", flat=True)))
        SessionType.objects.bulk_create(
            SessionType(therapist_id=t, name="Therapy", minutes=50) for t in therapist_ids
        )
        types = {s.therapist_id: s.pk for s in SessionType.objects.all()}
        visits: list[tuple[int, int, int, str, datetime]] = [
            (pk, t, c, m, at)
            for pk, t, c, m, at in Visit.objects.values_list(
                "pk", "therapist_id", "client_id", "planned_modality", "started_at"
            )
            if at is not None  # every seeded session started
        ]

        def booking(
            therapist_id: int, client_id: int, modality: str, at: datetime, **kw: Any
        ) -> Appointment:
            return Appointment(
                therapist_id=therapist_id,
                client_id=client_id,
                session_type_id=types[therapist_id],
                modality=modality,
                starts_at=at,
                ends_at=at + timedelta(minutes=50),
                busy_until=at + timedelta(minutes=60),
                booked_by_id=client_id,
                **kw,
            )

        bookings = [
            booking(t, c, m, at, status=AppointmentStatus.COMPLETED) for _pk, t, c, m, at in visits
        ]
        for n in range(EXTRA_BOOKINGS):
            _pk, t, c, m, at = visits[(n * 10) % len(visits)]
            missed = n % 2 == 0
            bookings.append(
                booking(
                    t,
                    c,
                    m,
                    at + timedelta(days=3),
                    status=AppointmentStatus.NO_SHOW if missed else AppointmentStatus.CANCELLED,
                    late_cancellation=not missed,
                )
            )
        Appointment.objects.bulk_create(bookings, batch_size=BATCH)

        answered = [v for v in visits if rng.random() < FEEDBACK_SHARE]
        MeasureTask.objects.bulk_create(
            (
                MeasureTask(
                    client_id=c,
                    therapist_id=t,
                    instrument=instrument,
                    visit_id=pk,
                    due_at=at,
                    status=TaskStatus.DONE,
                )
                for pk, t, c, _m, at in answered
            ),
            batch_size=BATCH,
        )
        tasks = dict(MeasureTask.objects.filter(visit__isnull=False).values_list("visit_id", "pk"))
        results: dict[int, tuple[str, str]] = {}
        for level in range(11):
            answers = answers_near(definition, level / 10, rng)
            results[level] = (json.dumps(answers), json.dumps(score(definition, answers).to_json()))
        Response.objects.bulk_create(
            (
                Response(
                    client_id=c,
                    instrument=instrument,
                    task_id=tasks[pk],
                    answers=results[level][0],
                    result=results[level][1],
                    submitted_by_id=c,
                    submitted_at=at + timedelta(minutes=55),
                )
                for pk, _t, c, _m, at in answered
                for level in [rng.randint(5, 10)]
            ),
            batch_size=BATCH,
        )
        lines = []
        for pk, t, c, _m, at in visits:
            # The lines every session has (the figures read none of them).
            lines += [
                VisitEvent(visit_id=pk, at=at, actor_id=c, kind=kind)
                for kind in (EventKind.CHECKED_IN, EventKind.WAITING, EventKind.JOINED)
            ]
            lines += [
                VisitEvent(visit_id=pk, at=at, actor_id=t, kind=EventKind.ADMITTED),
                VisitEvent(
                    visit_id=pk, at=at + timedelta(minutes=50), actor_id=t, kind=EventKind.ENDED
                ),
            ]
            if pk % 10 == 1:
                lines.append(
                    VisitEvent(
                        visit_id=pk,
                        at=at + timedelta(minutes=30),
                        actor_id=c,
                        kind=EventKind.RECONNECTED,
                        seconds=rng.uniform(2, 40),
                    )
                )
            if pk % 10 == 2:
                lines.append(
                    VisitEvent(
                        visit_id=pk,
                        at=at + timedelta(minutes=5),
                        actor_id=c,
                        kind=EventKind.QUALITY_POOR,
                    )
                )
        VisitEvent.objects.bulk_create(lines, batch_size=BATCH)
    began = time.perf_counter()
    rebuild_all()  # the session facts and episode feedback, now that there is feedback
    return admin, therapist, time.perf_counter() - began


def check_page(admin: Any) -> None:
    """The measured page is the real one: every table has figures."""
    from django.test import Client

    browser = Client(HTTP_HOST="127.0.0.1")
    browser.force_login(admin)
    page = browser.get("/outcomes/service/").content.decode()
    assert "95 % interval" in page, "no interval shown"
    assert page.count("<table") >= 5, "expected the five tables"
    improved = page.split("Reliably improved", 1)[1].split("</tr>", 1)[0]
    assert "hidden" not in improved, "the feedback of improvers is not shown"


def main() -> int:
    with own_database("_bench_service") as database:
        from django.db import connection

        from rapport.measures.models import Response
        from rapport.scheduling.models import Appointment

        began = time.perf_counter()
        admin, therapist, built = seed_service(datetime.now(UTC))
        seeded = time.perf_counter() - began - built
        counts = (Appointment.objects.count(), Response.objects.count())
        check_page(admin)
        timings = [
            Timing("admin home (baseline)", "/", admin),
            Timing("service, whole practice", "/outcomes/service/", admin),
            Timing("service, one caseload", "/outcomes/service/", therapist),
        ]
        measure(timings)
        vendor = connection.vendor
    load = os.getloadavg()
    header = f"{'page':<28} {'queries':>7} {'KiB':>5} {'median':>9} {'p95':>9} {'max':>9}"
    lines = [
        f"service page, {database} ({vendor}); {counts[0]:,} bookings, {counts[1]:,} results; "
        f"seeded in {seeded:.0f} s, facts rebuilt in {built:.0f} s; {REPETITIONS} requests "
        f"each; budget p95 <= {BUDGET_MS:.0f} ms; "
        f"load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}",
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
    print(f"\nOK: every service page p95 <= {BUDGET_MS:.0f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
