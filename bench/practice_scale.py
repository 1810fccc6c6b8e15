"""Pages at practice scale: server time <= 25 ms median per page, and at 20 users p99 <= 250 ms.

Builds the practice of issue 16 in a database of its own: 50 therapists, 2,000 clients (40 each,
one care relationship and one conversation per client), 100,000 appointments (50 weekly sessions
per client, 45 weeks back to 5 ahead) and 1,000,000 messages (500 per conversation, every body
encrypted as the app encrypts it). Seeding uses ``bulk_create`` in big batches and must take
under 5 minutes (``SEED_BUDGET_S``).

Then two measurements of five pages a therapist uses every day (home, this week's schedule, a
client record, the inbox, a 500-message conversation):

* **uncontended server time**: each page through Django's test client in this process (the whole
  server side: middleware, view, queries, template; no network), interleaved, ``REPETITIONS``
  times after a warm-up. Budget: median <= ``SERVER_BUDGET_MS`` for every page.
* **20 signed-in therapists**: a real ``rapport serve --workers 2`` (uvicorn, two processes) and a
  load generator in a separate process (asyncio, keep-alive connections, one per therapist, each
  requesting the five pages in turn as fast as answered) for ``LOAD_SECONDS``; the same for
  ``/healthz`` alone (the baseline: the server's floor, no session, no template) in the same run,
  before and after the pages. Budget: p99 <= ``P99_BUDGET_MS`` and throughput >= 40 % of the
  baseline (the better of its two runs).

Both databases: SQLite (no ``$DATABASE_URL``) in a temporary folder, or PostgreSQL
(``$DATABASE_URL``) in ``<name>_bench_scale``, created and dropped here. ``REDIS_URL`` is passed
to the server when set, as a PostgreSQL deployment runs. The machine's load average is printed
beside the figures (the machine may be shared). Exits 1 when over any budget, or when a request
fails.

    .venv/bin/python bench/practice_scale.py                    # SQLite in a temporary folder
    DATABASE_URL=postgres://... REDIS_URL=redis://... .venv/bin/python bench/practice_scale.py
    SCALE=0.1 .venv/bin/python bench/practice_scale.py          # a tenth of the practice (quick)
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

if __package__ in {None, ""}:  # run as a script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.own_database import own_database
from tests.browser.server import HOST, PYTHON, REPO, SESSION_CODE, flush_redis, free_port

GIVEN_REDIS_URL = os.environ.get("REDIS_URL", "")  # own_database() takes it out of the environment
SCALE = float(os.environ.get("SCALE", "1"))
THERAPISTS = 50
CLIENTS_PER_THERAPIST = round(40 * SCALE) or 1
WEEKS_BACK, WEEKS_AHEAD = 45, 5  # 50 weekly sessions per client
MESSAGES_PER_CONVERSATION = 500
BATCH = 10_000

SEED_BUDGET_S = 300.0
SERVER_BUDGET_MS = 25.0
P99_BUDGET_MS = 250.0
THROUGHPUT_SHARE = 0.40
REPETITIONS = int(os.environ.get("REPETITIONS", "30"))
WARM_UP = 3
USERS = int(os.environ.get("USERS", "20"))
WORKERS = 2
LOAD_SECONDS = float(os.environ.get("LOAD_SECONDS", "15"))
LINES = [
    "How did the breathing exercise go this week?",
    "Better than last week. I used it twice before meetings.",
    "That is good to hear. What made it easier?",
    "I set a reminder on my phone, which helped more than I expected.",
    "Shall we look at the thought record on Thursday?",
]


# --- The practice ----------------------------------------------------------------------------


@dataclass
class Practice:
    """What the measurements need: each therapist's pages, the people to sign in."""

    therapist_ids: list[int]
    pages: dict[int, list[tuple[str, str]]]  # therapist id -> [(page name, path)]
    counts: dict[str, int] = field(default_factory=dict)


def seed(now: datetime) -> Practice:
    from allauth.mfa.totp.internal.auth import TOTP, generate_totp_secret
    from django.db import connection, transaction
    from django.urls import reverse

    from rapport.accounts.models import Role, User
    from rapport.care.models import CareRelationship, ClientProfile
    from rapport.messaging.models import Conversation, Message, Participant
    from rapport.scheduling.models import Appointment, AppointmentStatus, SessionType

    with transaction.atomic():
        User.objects.bulk_create(
            User(
                email=f"t{t}@scale.rapport.test",
                full_name=f"Therapist {t:02}",
                role=Role.THERAPIST,
                time_zone="Europe/London",
            )
            for t in range(THERAPISTS)
        )
        User.objects.bulk_create(
            (
                User(
                    email=f"c{t}.{c}@scale.rapport.test",
                    full_name=f"Client {t:02}-{c:02}",
                    role=Role.CLIENT,
                    time_zone="Europe/London",
                )
                for t in range(THERAPISTS)
                for c in range(CLIENTS_PER_THERAPIST)
            ),
            batch_size=BATCH,
        )
        therapists = list(User.objects.filter(role=Role.THERAPIST).order_by("email"))
        for therapist in therapists:
            TOTP.activate(therapist, generate_totp_secret())  # therapists need a second factor
        users = {u.email: u.pk for u in User.objects.filter(role=Role.CLIENT)}
        clients = {
            therapist.pk: [
                users[f"c{t}.{c}@scale.rapport.test"] for c in range(CLIENTS_PER_THERAPIST)
            ]
            for t, therapist in enumerate(
                sorted(therapists, key=lambda u: int(u.email[1:].split("@")[0]))
            )
        }
        started = now - timedelta(weeks=WEEKS_BACK + 1)
        CareRelationship.objects.bulk_create(
            (
                CareRelationship(therapist_id=t, client_id=c, started_at=started)
                for t, cs in clients.items()
                for c in cs
            ),
            batch_size=BATCH,
        )
        ClientProfile.objects.bulk_create(
            (ClientProfile(client_id=c) for cs in clients.values() for c in cs), batch_size=BATCH
        )
        relationships = {
            r.client_id: r.pk for r in CareRelationship.objects.only("pk", "client_id")
        }
        Conversation.objects.bulk_create(
            (
                Conversation(
                    relationship_id=relationships[c],
                    created_at=started,
                    last_seq=MESSAGES_PER_CONVERSATION,
                    last_message_at=now - timedelta(hours=c % 48),
                )
                for cs in clients.values()
                for c in cs
            ),
            batch_size=BATCH,
        )
        conversations = {
            client_id: pk
            for pk, client_id in Conversation.objects.values_list("pk", "relationship__client_id")
        }
        # Every therapist has read all but the newest message of a few clients.
        Participant.objects.bulk_create(
            (
                Participant(
                    conversation_id=conversations[c],
                    user_id=person,
                    last_read_seq=MESSAGES_PER_CONVERSATION - unread,
                    unread=unread,
                )
                for t, cs in clients.items()
                for c in cs
                for person, unread in ((t, 1 if c % 7 == 0 else 0), (c, 0))
            ),
            batch_size=BATCH,
        )
        types = {
            t: SessionType.objects.create(therapist_id=t, name="Individual session", minutes=50)
            for t in clients
        }
    # Weekly: client n of a therapist on weekday n % 5 at 08:00 + n // 5 hours (London time,
    # near enough for a benchmark: UTC here).
    monday = (now - timedelta(days=now.weekday())).replace(hour=8, minute=0, second=0)
    monday = monday.replace(microsecond=0)

    def appointments() -> Any:
        for t, cs in clients.items():
            session_type = types[t]
            for n, c in enumerate(cs):
                for week in range(-WEEKS_BACK, WEEKS_AHEAD):
                    starts = monday + timedelta(weeks=week, days=n % 5, hours=n // 5 % 10)
                    ends = starts + timedelta(minutes=50)
                    past = ends <= now
                    yield Appointment(
                        therapist_id=t,
                        client_id=c,
                        session_type=session_type,
                        modality="video",
                        starts_at=starts,
                        ends_at=ends,
                        busy_until=ends + timedelta(minutes=10),
                        status=AppointmentStatus.COMPLETED if past else AppointmentStatus.CONFIRMED,
                        booked_by_id=t,
                        booked_at=started,
                    )

    with transaction.atomic():
        Appointment.objects.bulk_create(appointments(), batch_size=BATCH)

    def messages(batch: list[int]) -> Any:
        for c in batch:
            conversation = conversations[c]
            therapist = therapist_of[c]
            first = now - timedelta(minutes=30 * MESSAGES_PER_CONVERSATION)
            for seq in range(1, MESSAGES_PER_CONVERSATION + 1):
                yield Message(
                    conversation_id=conversation,
                    seq=seq,
                    sender_id=therapist if seq % 2 else c,
                    client_uid=uuid.uuid4(),
                    body=LINES[seq % len(LINES)],
                    created_at=first + timedelta(minutes=30 * seq),
                )

    therapist_of = {c: t for t, cs in clients.items() for c in cs}
    everyone = [c for cs in clients.values() for c in cs]
    per_batch = max(1, BATCH // MESSAGES_PER_CONVERSATION)
    for start in range(0, len(everyone), per_batch):
        with transaction.atomic():
            Message.objects.bulk_create(
                messages(everyone[start : start + per_batch]), batch_size=BATCH
            )

    pages = {}
    for t, cs in clients.items():
        client = cs[len(cs) // 2]
        conversation_uid = Conversation.objects.get(pk=conversations[client]).uid
        pages[t] = [
            ("home", reverse("home")),
            ("week", reverse("schedule")),
            ("client record", reverse("client_record", kwargs={"client_id": client})),
            ("inbox", reverse("inbox")),
            (
                f"conversation ({MESSAGES_PER_CONVERSATION} msgs)",
                reverse("conversation", kwargs={"conversation_id": conversation_uid}),
            ),
        ]
    if connection.vendor == "postgresql":
        # What autovacuum does soon after a bulk load, done before measuring instead of during
        # it: the planner needs the tables' statistics, and a first vacuum of a million fresh
        # rows (setting their hint bits and the visibility map) took the CPU away from the
        # pages for minutes (uncontended medians 2-3x higher while it ran).
        with connection.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE")
    counts = {
        "therapists": len(clients),
        "clients": len(everyone),
        "appointments": Appointment.objects.count(),
        "messages": Message.objects.count(),
    }
    return Practice(list(clients), pages, counts)


# --- Uncontended: server time through Django's test client -------------------------------------


@dataclass
class Page:
    name: str
    samples_ms: list[float] = field(default_factory=list)
    queries: int = 0
    size: int = 0


def measure_server_time(practice: Practice) -> list[Page]:
    """Each page of one therapist ``REPETITIONS`` times, interleaved, after ``WARM_UP`` rounds."""
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from rapport.accounts.models import User

    therapist = User.objects.get(pk=practice.therapist_ids[0])
    paths = practice.pages[therapist.pk]
    browser = Client(HTTP_HOST="127.0.0.1")
    browser.force_login(therapist)
    pages = [Page(name) for name, _path in paths]
    for round_number in range(WARM_UP + REPETITIONS):
        for page, (_name, path) in zip(pages, paths, strict=True):
            started = time.perf_counter()
            response = browser.get(path)
            elapsed = (time.perf_counter() - started) * 1000
            assert response.status_code == 200, (path, response.status_code)
            if round_number >= WARM_UP:
                page.samples_ms.append(elapsed)
            page.size = len(response.content)
    for page, (_name, path) in zip(pages, paths, strict=True):
        with CaptureQueriesContext(connection) as queries:
            browser.get(path)
        page.queries = len(queries.captured_queries)
    return pages


# --- Under load: a real server and a load generator in another process ----------------------


def session_cookies(therapist_ids: list[int]) -> list[str]:
    from rapport.accounts.models import User

    scope: dict[str, Any] = {}
    exec(SESSION_CODE, scope)  # noqa: S102 (the browser tests' own helper, a constant)
    return [scope["session_cookie"](User.objects.get(pk=pk)) for pk in therapist_ids]


class Serving:
    """``rapport serve --workers 2`` on a free port until ``stop``."""

    def __init__(self, env: dict[str, str], log: Path) -> None:
        self.port = free_port()
        self.log = log
        with log.open("ab") as out:
            self.process = subprocess.Popen(
                [
                    PYTHON,
                    "-m",
                    "rapport.cli",
                    "serve",
                    "--host",
                    HOST,
                    "--port",
                    str(self.port),
                    "--workers",
                    str(WORKERS),
                ],
                cwd=REPO,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + 60
        while not self._healthy():
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("rapport serve did not start:\n" + self.log_tail())
            time.sleep(0.3)

    def _healthy(self) -> bool:
        import http.client

        connection = http.client.HTTPConnection(HOST, self.port, timeout=2)
        try:
            connection.request("GET", "/healthz")
            return connection.getresponse().status == 200
        except OSError:
            return False
        finally:
            connection.close()

    def log_tail(self, lines: int = 40) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


@dataclass
class Load:
    """What one load run saw: latencies by page, failures, requests per second."""

    name: str
    latencies_ms: dict[str, list[float]]
    failures: list[str]
    seconds: float
    load_average: tuple[float, float]

    @property
    def all_ms(self) -> list[float]:
        return [ms for values in self.latencies_ms.values() for ms in values]

    @property
    def rate(self) -> float:
        return len(self.all_ms) / self.seconds


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))] if ordered else 0.0


def run_load(name: str, port: int, users: list[tuple[str, list[tuple[str, str]]]]) -> Load:
    """Run the load generator (this file with ``--load``) in a process of its own."""
    before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="rapport-load-") as folder:
        output = Path(folder) / "result.json"
        job = {"port": port, "seconds": LOAD_SECONDS, "users": users, "output": str(output)}
        subprocess.run(
            [PYTHON, __file__, "--load"],
            input=json.dumps(job),
            text=True,
            check=True,
            timeout=LOAD_SECONDS + 120,
        )
        result = json.loads(output.read_text())
    return Load(
        name,
        result["latencies_ms"],
        result["failures"],
        result["seconds"],
        (before, os.getloadavg()[0]),
    )


async def _fetch(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, path: str, cookie: str
) -> tuple[int, int]:
    """GET ``path`` on a kept-alive HTTP/1.1 connection: (status, body bytes)."""
    headers = f"GET {path} HTTP/1.1\r\nHost: {HOST}\r\nUser-Agent: rapport-bench\r\n"
    if cookie:
        headers += f"Cookie: {cookie}\r\n"
    writer.write((headers + "\r\n").encode())
    await writer.drain()
    head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1").split("\r\n")
    status = int(head[0].split()[1])
    fields = {
        k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in head[1:])
    }
    if "content-length" in fields:
        return status, len(await reader.readexactly(int(fields["content-length"])))
    size = 0  # chunked
    while True:
        chunk = int((await reader.readline()).split(b";")[0], 16)
        size += len(await reader.readexactly(chunk + 2)) - 2
        if chunk == 0:
            return status, size


async def _generate(job: dict[str, Any]) -> dict[str, Any]:
    port, seconds = job["port"], job["seconds"]
    latencies: dict[str, list[float]] = {}
    failures: list[str] = []
    stop_at = time.perf_counter() + seconds

    async def user(cookie: str, pages: list[tuple[str, str]], offset: int) -> None:
        reader, writer = await asyncio.open_connection(HOST, port)
        turn = offset
        try:
            while time.perf_counter() < stop_at:
                name, path = pages[turn % len(pages)]
                turn += 1
                started = time.perf_counter()
                status, _size = await _fetch(reader, writer, path, cookie)
                elapsed = (time.perf_counter() - started) * 1000
                if status != 200:
                    failures.append(f"{status} {name}")
                latencies.setdefault(name, []).append(round(elapsed, 2))
        finally:
            writer.close()

    started = time.perf_counter()
    await asyncio.gather(
        *(user(cookie, pages, n) for n, (cookie, pages) in enumerate(job["users"]))
    )
    return {
        "latencies_ms": latencies,
        "failures": failures,
        "seconds": time.perf_counter() - started,
    }


def generate_load() -> int:
    """``--load``: the job (JSON) on stdin, the result (JSON) in the file it names."""
    import uvloop

    job = json.load(sys.stdin)
    Path(job["output"]).write_text(json.dumps(uvloop.run(_generate(job))))
    return 0


def measure_load(practice: Practice, env: dict[str, str], log: Path) -> list[Load]:
    """/healthz, the pages, /healthz again: 20 connections each, on one fresh server."""
    chosen = practice.therapist_ids[:USERS]
    cookies = session_cookies(chosen)
    signed_in = [(cookie, practice.pages[t]) for cookie, t in zip(cookies, chosen, strict=True)]
    health = [("", [("/healthz", "/healthz")])] * USERS
    server = Serving(env, log)
    try:
        run_load("warm-up", server.port, signed_in)  # every process has imported and connected
        loads = [
            run_load("/healthz (baseline)", server.port, health),
            run_load("5 pages, 20 therapists", server.port, signed_in),
            run_load("/healthz (baseline)", server.port, health),
        ]
    finally:
        server.stop()
    return loads


# --- The run ----------------------------------------------------------------------------------


def server_env(data_dir: str, database: str) -> dict[str, str]:
    """The environment of ``rapport serve``: this practice's database and data folder (its
    keys), Redis when given; demo settings (plain HTTP)."""
    from tests.browser.server import server_env as browser_server_env

    env = browser_server_env(Path(data_dir), database_url=database)
    env.pop("REDIS_URL", None)
    if GIVEN_REDIS_URL:
        env["REDIS_URL"] = GIVEN_REDIS_URL
        flush_redis(GIVEN_REDIS_URL)
    return env


def server_errors(log: Path) -> list[str]:
    """Error lines the server logged (tracebacks, "CurrentThreadExecutor already quit")."""
    text = log.read_text(errors="replace") if log.exists() else ""
    return [
        line
        for line in text.splitlines()
        if "Traceback" in line or "ERROR" in line or "CurrentThreadExecutor" in line
    ]


def report(
    database: str, seed_seconds: float, practice: Practice, pages: list[Page], loads: list[Load]
) -> str:
    counts = ", ".join(f"{n:,} {what}" for what, n in practice.counts.items())
    lines = [
        f"practice scale, {database}: {counts}; seeded in {seed_seconds:.0f} s "
        f"(budget {SEED_BUDGET_S:.0f} s)",
        f"uncontended server time (Django test client), {REPETITIONS} requests each; budget "
        f"median <= {SERVER_BUDGET_MS:.0f} ms",
        f"{'page':<26} {'queries':>7} {'KiB':>5} {'median':>9} {'p95':>9} {'max':>9}",
    ]
    for page in pages:
        lines.append(
            f"{page.name:<26} {page.queries:>7} {page.size / 1024:>5.0f} "
            f"{statistics.median(page.samples_ms):>6.1f} ms "
            f"{percentile(page.samples_ms, 0.95):>6.1f} ms {max(page.samples_ms):>6.1f} ms"
        )
    lines.append(
        f"{USERS} connections, rapport serve --workers {WORKERS}, {LOAD_SECONDS:.0f} s each; "
        f"budget p99 <= {P99_BUDGET_MS:.0f} ms, throughput >= {THROUGHPUT_SHARE:.0%} of /healthz"
    )
    lines.append(
        f"{'run / page':<26} {'requests':>8} {'req/s':>7} {'p50':>9} {'p99':>9} {'max':>9} "
        f"{'failed':>6} {'load avg':>10}"
    )
    for load in loads:
        total = load.all_ms
        lines.append(
            f"{load.name:<26} {len(total):>8} {load.rate:>7.1f} {percentile(total, 0.5):>6.1f} ms "
            f"{percentile(total, 0.99):>6.1f} ms {max(total):>6.1f} ms {len(load.failures):>6} "
            f"{load.load_average[0]:>4.1f}-{load.load_average[1]:<4.1f}"
        )
        if len(load.latencies_ms) > 1:
            for name, ms in load.latencies_ms.items():
                lines.append(
                    f"  {name:<24} {len(ms):>8} {len(ms) / load.seconds:>7.1f} "
                    f"{percentile(ms, 0.5):>6.1f} ms {percentile(ms, 0.99):>6.1f} ms "
                    f"{max(ms):>6.1f} ms"
                )
    return "\n".join(lines)


def problems_of(
    seed_seconds: float, pages: list[Page], loads: list[Load], errors: list[str]
) -> list[str]:
    problems = []
    if seed_seconds > SEED_BUDGET_S:
        problems.append(f"SEED TOO SLOW: {seed_seconds:.0f} s (budget {SEED_BUDGET_S:.0f} s)")
    for page in pages:
        median = statistics.median(page.samples_ms)
        if median > SERVER_BUDGET_MS:
            problems.append(
                f"OVER BUDGET: {page.name} median {median:.1f} ms "
                f"(budget {SERVER_BUDGET_MS:.0f} ms)"
            )
    baseline = max(load.rate for load in loads if load.name.startswith("/healthz"))
    (under_load,) = [load for load in loads if not load.name.startswith("/healthz")]
    p99 = percentile(under_load.all_ms, 0.99)
    if p99 > P99_BUDGET_MS:
        problems.append(
            f"OVER BUDGET: p99 {p99:.0f} ms at {USERS} users (budget {P99_BUDGET_MS:.0f} ms)"
        )
    if under_load.rate < THROUGHPUT_SHARE * baseline:
        problems.append(
            f"OVER BUDGET: {under_load.rate:.1f} req/s at {USERS} users, "
            f"{under_load.rate / baseline:.0%} of /healthz's {baseline:.1f} (budget "
            f"{THROUGHPUT_SHARE:.0%})"
        )
    for load in loads:
        if load.failures:
            problems.append(f"FAILED REQUESTS in {load.name}: {sorted(set(load.failures))}")
    if errors:
        problems.append(f"SERVER ERRORS ({len(errors)}): " + " | ".join(errors[:5]))
    return problems


def main() -> int:
    if sys.argv[1:] == ["--load"]:
        return generate_load()
    with own_database("_bench_scale") as database:
        from django.core.management import call_command

        call_command("createcachetable", verbosity=0)
        started = time.perf_counter()
        practice = seed(datetime.now(UTC))
        seed_seconds = time.perf_counter() - started
        print(f"seeded in {seed_seconds:.0f} s: {practice.counts}", flush=True)
        pages = measure_server_time(practice)
        data_dir = os.environ["RAPPORT_DATA_DIR"]
        log = Path(data_dir) / "serve.log"
        env = server_env(data_dir, os.environ.get("DATABASE_URL", ""))
        loads = measure_load(practice, env, log)
        errors = server_errors(log)
    print(report(database, seed_seconds, practice, pages, loads))
    problems = problems_of(seed_seconds, pages, loads, errors)
    if problems:
        print("\n" + "\n".join(problems))
        return 1
    print("\nOK: every page within budget")
    return 0


if __name__ == "__main__":
    sys.exit(main())
