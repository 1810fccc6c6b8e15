"""Open-slots budget: eight weeks of a busy therapist's open slots in at most 20 ms.

One therapist works Monday to Friday, 08:00-18:00 (Europe/London), and holds 500 appointments
spread over the next eight weeks (20-minute check-ins, 12 or 13 a day at random times). We time
``open_slots()`` for a 50-minute session over its whole 56-day horizon: the function and its
queries, from a freshly loaded session type, as a view calls it. A second therapist with the same
hours and no appointments is measured in the same run, interleaved, as the baseline. Exits 1 when
the busy therapist's p95 is over budget.

    .venv/bin/python bench/open_slots.py                 # SQLite in a temporary folder
    DATABASE_URL=postgres://... .venv/bin/python bench/open_slots.py   # <name>_bench_slots
"""

from __future__ import annotations

import random
import statistics
import sys
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from datetime import time as clock
from pathlib import Path

if __package__ in {None, ""}:  # run as a script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.own_database import own_database

BUDGET_MS = 20.0
APPOINTMENTS = 500
WEEKS = 8
REPETITIONS = 300
WARM_UP = 20
ZONE = "Europe/London"
WORKING_HOURS = [(day, clock(8), clock(18)) for day in range(5)]


@dataclass
class Timing:
    name: str
    session_type_id: int
    appointments: int = 0
    samples_ms: list[float] = field(default_factory=list)
    slots: int = 0
    queries: int = 0

    def percentile(self, share: float) -> float:
        ordered = sorted(self.samples_ms)
        return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def build(now: datetime) -> tuple[Timing, Timing]:
    """(baseline: a therapist with no appointments, the therapist with 500)."""
    from rapport.scheduling.models import SessionType
    from tests.scheduling_data import direct_appointment, ready_client, therapist_with_hours

    timings = []
    for name, count in (("no appointments (baseline)", 0), ("500 appointments", APPOINTMENTS)):
        therapist, session_type = therapist_with_hours(
            f"bench{count}@example.test",
            zone=ZONE,
            windows=WORKING_HOURS,
            minutes=50,
            buffer_minutes=10,
            horizon_days=WEEKS * 7,
        )
        check_in = SessionType.objects.create(
            therapist=therapist, name="Check-in", minutes=20, buffer_minutes=5
        )
        clients = [ready_client(therapist, f"c{n}.{count}@example.test") for n in range(40)]
        rng = random.Random(count)  # noqa: S311 (a repeatable spread, not a secret)
        for n, start in enumerate(appointment_starts(now, count, rng)):
            direct_appointment(check_in, clients[n % len(clients)], start)
        timings.append(Timing(name, session_type.pk, appointments=count))
    return timings[0], timings[1]


def appointment_starts(now: datetime, count: int, rng: random.Random) -> list[datetime]:
    """``count`` non-overlapping starts on the weekdays of the next eight weeks, 12-13 a day."""
    from tests.scheduling_data import at

    first = now.date() + timedelta(days=1)
    weekdays = [d for d in (first + timedelta(days=n) for n in range(WEEKS * 7)) if d.weekday() < 5]
    starts: list[datetime] = []
    for index, day in enumerate(weekdays):
        wanted = count // len(weekdays) + (1 if index < count % len(weekdays) else 0)
        # Quarter hours 08:00-17:30 (39 places), at least two apart: a check-in and its buffer
        # take 25 minutes. Choosing from 39 - (wanted - 1) and spreading by one keeps the gaps.
        chosen = sorted(rng.sample(range(39 - (wanted - 1)), wanted))
        for offset, place in enumerate(chosen):
            starts.append(at(day, clock(8), ZONE) + timedelta(minutes=15 * (place + offset)))
    return starts


def measure(timings: tuple[Timing, ...], now: datetime) -> None:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from rapport.scheduling.availability import open_slots
    from rapport.scheduling.models import SessionType

    for round_number in range(WARM_UP + REPETITIONS):
        for timing in timings:
            session_type = SessionType.objects.get(pk=timing.session_type_id)
            started = time.perf_counter()
            slots = open_slots(session_type, now=now)
            elapsed = (time.perf_counter() - started) * 1000
            if round_number >= WARM_UP:
                timing.samples_ms.append(elapsed)
            timing.slots = len(slots)
    for timing in timings:
        session_type = SessionType.objects.get(pk=timing.session_type_id)
        with CaptureQueriesContext(connection) as queries:
            open_slots(session_type, now=now)
        timing.queries = len(queries.captured_queries)


def report(database: str, timings: tuple[Timing, ...]) -> str:
    header = (
        f"{'therapist':<28} {'appts':>6} {'slots':>6} {'queries':>7} {'median':>8} {'p95':>8} "
        f"{'min':>8} {'max':>8}"
    )
    lines = [
        f"open_slots() over {WEEKS} weeks, {database}; {REPETITIONS} runs each; "
        f"budget p95 <= {BUDGET_MS:.0f} ms",
        header,
        "-" * len(header),
    ]
    for t in timings:
        lines.append(
            f"{t.name:<28} {t.appointments:>6} {t.slots:>6} {t.queries:>7} "
            f"{statistics.median(t.samples_ms):>5.2f} ms {t.percentile(0.95):>5.2f} ms "
            f"{min(t.samples_ms):>5.2f} ms {max(t.samples_ms):>5.2f} ms"
        )
    return "\n".join(lines)


def main() -> int:
    with own_database("_bench_slots") as database:
        # A Sunday noon in the therapist's zone: the eight weeks are whole working weeks.
        today = datetime.now(UTC).date()
        sunday = today + timedelta(days=6 - today.weekday())
        now = datetime.combine(sunday, clock(12), tzinfo=UTC)
        baseline, busy = build(now)
        measure((baseline, busy), now)
    print(report(database, (baseline, busy)))
    p95 = busy.percentile(0.95)
    if p95 > BUDGET_MS:
        print(
            f"\nOVER BUDGET: p95 {p95:.2f} ms with {APPOINTMENTS} appointments "
            f"(budget {BUDGET_MS:.0f} ms)"
        )
        return 1
    print(
        f"\nOK: p95 {p95:.2f} ms with {APPOINTMENTS} appointments, "
        f"median {statistics.median(busy.samples_ms):.2f} ms (budget {BUDGET_MS:.0f} ms; "
        f"baseline median {statistics.median(baseline.samples_ms):.2f} ms)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
