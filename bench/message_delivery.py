"""Message delivery from a cold start: p99 <= 25 ms at 400 msg/s steady and 200 msg/s first-message.

What users do, measured from outside: 200 care relationships (one conversation each, every
person signed in with a session of their own), each with two sockets on ``/ws/messages/``: the
client's, which sends, and the therapist's, which receives (so every message reaches exactly one
recipient socket, as in a practice). The latency of a message is from just before its ``send``
frame is written to the moment the recipient's socket has the ``message`` frame parsed; one
clock (this process) times both ends. The acknowledgement to the sender is timed too.

Every trial starts its server **fresh** (new processes), opens the 400 sockets and at once starts
sending: no warm-up traffic, the first seconds of the server count. The 200 conversations start
within the same interval (the first 200 messages arrive within half a second at 400 msg/s), and
then send open-loop (a slow server does not slow the senders down) for ``TRIAL_SECONDS``.
Before each trial every recipient has read everything (no email cycle runs), as after a pause.

Two shapes:

* **steady**: each conversation one message every 500 ms (400 msg/s). The first message of each
  conversation starts the recipient's unread-email cycle; the others find it running.
* **first-message**: 200 msg/s, and every message starts a cycle: the recipient's socket sends
  ``read`` for each message it receives, which ends the cycle, so the next message starts one.
  Checked per message: its frame must say the recipient has exactly one unread message in the
  conversation (everything before it was read, so no cycle was running); the count of such
  messages is printed as "cycles started".

Databases: SQLite, one server process (the embedded configuration). PostgreSQL + Redis (when
``DATABASE_URL`` and ``REDIS_URL`` are set): two server processes, as ``rapport serve --workers
2`` runs, but each on a port of its own, so that the senders' sockets are on one process and the
recipients' on the other (under ``--workers 2`` the kernel spreads connections over the
processes; here every message crosses processes through Redis, the harder case). Each process
is started with the ASGI application and WebSocket settings that ``rapport serve`` gives uvicorn.

Checked for every message: delivered exactly once, and in each conversation in the order sent
(for Rapport also with consecutive sequence numbers). Reported per trial: p50/p99/max of
delivery, ack p99, server and generator CPU, how late the generator sent, and the machine's load
average when the trial began and ended (the machine may be shared: read figures beside it).

The baseline ("floor", information only): a bare WebSocket relay (``relay_app``, raw ASGI under
the same uvicorn settings, one process) that stores each message with one INSERT and commit in
the same database, acks it and forwards it to the peer socket. At each shape's budget rate the
relay and Rapport take turns (relay, Rapport, Rapport, relay: each on a fresh server), so both
meet the same machine. Then Rapport alone steps up from the budget rate while within budget (or
down while over), each step on a fresh server, to find the highest rate within budget.

``BENCH_COMPARE=name=folder,...`` adds contenders at the budget rates: other Rapport checkouts
(e.g. an earlier commit: ``git worktree add /tmp/before <commit>``, or this one with a part
swapped), served by the same virtualenv on the same database, in the same turns, for figures with
and without a part in the same run. ``BENCH_BUDGET_ONLY=1`` skips the rate steps.

Exits 1 when Rapport is over budget at a budget rate, or a message was lost, doubled, reordered
or refused.

    .venv/bin/python bench/message_delivery.py                    # SQLite in a temporary folder
    DATABASE_URL=postgres://... REDIS_URL=redis://... .venv/bin/python bench/message_delivery.py
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import sqlite3
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

if __package__ in {None, ""}:  # run as a script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.idle_sockets import raise_open_files_limit, serving
from tests.browser.server import (
    SESSION_CODE,
    DemoServer,
    drop_database,
    flush_redis,
    recreate_database,
    server_database_url,
    server_env,
)

BUDGET_P99_MS = 25.0
CONVERSATIONS = int(os.environ.get("CONVERSATIONS", "200"))
TRIAL_SECONDS = float(os.environ.get("TRIAL_SECONDS", "10"))


@dataclass(frozen=True)
class Shape:
    name: str
    budget_rate: int  # messages per second, all conversations together
    steps_up: tuple[int, ...]  # tried while within budget
    steps_down: tuple[int, ...]  # tried while over budget
    reads: bool  # the recipient reads each message as it arrives


SHAPES = [
    Shape("steady", 400, (600, 800, 1000), (300, 200, 100), reads=False),
    Shape("first-message", 200, (300, 400, 600), (150, 100, 50), reads=True),
]
DRAIN_SECONDS = 30.0  # after the last send, how long a message may still arrive
BACKLOG_SECONDS = 2.0  # sent but not yet acked and delivered: more than this much is overload
OPENING_AT_ONCE = 50
TEXT = "How are you getting on with the breathing exercise this week?"
# Rapport's per-user and per-socket limits would refuse the higher steps (each client sends up
# to 5 messages a second; each person is many people's traffic here). Recipients never write, so
# their sessions would end after 30 idle minutes of a long run.
SERVER_ENV = {
    "RAPPORT_SESSION_IDLE_MINUTES": "1440",
    "RAPPORT_MESSAGE_RATE": "1000",
    "RAPPORT_MESSAGE_BURST": "1000",
    "RAPPORT_MESSAGE_SOCKET_RATE": "1000",
    "RAPPORT_MESSAGE_SOCKET_BURST": "1000",
}

# --- The floor: a bare relay that stores every message ----------------------------------------

Event = dict[str, Any]
RELAY_TABLE = "bench_relay_message"


class Store:
    """One connection in one thread, one INSERT and commit per message."""

    def __init__(self, target: str) -> None:
        self.target = target
        self.executor = ThreadPoolExecutor(max_workers=1)
        self.connection: Any = None

    def _insert(self, conversation: str, client_uid: str, body: str) -> int:
        if self.connection is None:
            if self.target.startswith("postgres"):
                import psycopg

                self.connection = psycopg.connect(self.target, autocommit=True)
            else:
                self.connection = sqlite3.connect(self.target, isolation_level=None)
                self.connection.execute("PRAGMA journal_mode=WAL")
                self.connection.execute("PRAGMA synchronous=NORMAL")
        mark = "%s" if self.target.startswith("postgres") else "?"
        cursor = self.connection.execute(
            f"INSERT INTO {RELAY_TABLE} (conversation, client_uid, body) "  # noqa: S608
            f"VALUES ({mark}, {mark}, {mark}) RETURNING id",
            (conversation, client_uid, body),
        )
        row = cursor.fetchone()
        return int(row[0])

    async def insert(self, conversation: str, client_uid: str, body: str) -> int:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(
            self.executor, self._insert, conversation, client_uid, body
        )


def create_relay_table(target: str) -> None:
    if target.startswith("postgres"):
        import psycopg

        with psycopg.connect(target, autocommit=True) as connection:
            connection.execute(
                f"CREATE TABLE IF NOT EXISTS {RELAY_TABLE} (id bigserial PRIMARY KEY, "
                "conversation text NOT NULL, client_uid text NOT NULL, body text NOT NULL, "
                "created_at timestamptz NOT NULL DEFAULT now())"
            )
        return
    with contextlib.closing(sqlite3.connect(target)) as connection:
        connection.execute(
            f"CREATE TABLE IF NOT EXISTS {RELAY_TABLE} (id integer PRIMARY KEY, "
            "conversation text NOT NULL, client_uid text NOT NULL, body text NOT NULL, "
            "created_at text NOT NULL DEFAULT CURRENT_TIMESTAMP)"
        )
        connection.commit()


_store: Store | None = None
_rooms: dict[str, dict[str, Callable[[Event], Awaitable[None]]]] = {}


async def relay_app(
    scope: dict[str, Any],
    receive: Callable[[], Awaitable[Event]],
    send: Callable[[Event], Awaitable[None]],
) -> None:
    """``/ws/relay/<conversation>/<role>/``: stores each ``send``, acks it, forwards it; other
    frames (``read``) are ignored."""
    global _store
    if scope["type"] == "http":
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})
        return
    if scope["type"] != "websocket":
        return
    if _store is None:
        _store = Store(os.environ["RELAY_DATABASE"])
    _, _, _, conversation, role, _ = scope["path"].split("/")
    await receive()  # websocket.connect
    await send({"type": "websocket.accept"})
    room = _rooms.setdefault(conversation, {})
    room[role] = send
    await send({"type": "websocket.send", "text": '{"type": "welcome"}'})
    try:
        while True:
            event = await receive()
            if event["type"] == "websocket.disconnect":
                break
            frame = json.loads(event.get("text") or "{}")
            if frame.get("type") != "send":
                continue
            seq = await _store.insert(conversation, frame["id"], frame["text"])
            message = {"conversation": conversation, "seq": seq, "id": frame["id"]}
            message.update(text=frame["text"], at=time.time())
            ack = {"type": "ack", "id": frame["id"], "message": message}
            await send({"type": "websocket.send", "text": json.dumps(ack)})
            for other, peer in list(room.items()):
                if other != role:
                    text = json.dumps({"type": "message", "message": message})
                    await peer({"type": "websocket.send", "text": text})
    finally:
        room.pop(role, None)


# --- The practice: 200 therapists, 200 clients, one conversation each ------------------------

SETUP = (
    SESSION_CODE
    + """
import json
from rapport.accounts.models import User
from rapport.care.services import start_care
from rapport.messaging.access import conversation_for
from allauth.mfa.totp.internal.auth import TOTP, generate_totp_secret

pairs = []
for n in range(CONVERSATIONS):
    therapist = User.objects.create_user(
        f"t{n}@bench.rapport.test", None, full_name=f"Therapist {n}", role="therapist"
    )
    TOTP.activate(therapist, generate_totp_secret())  # sockets need a therapist's second factor
    client = User.objects.create_user(
        f"c{n}@bench.rapport.test", None, full_name=f"Client {n}", role="client"
    )
    conversation = conversation_for(start_care(therapist, client, actor=therapist))
    pairs.append([str(conversation.uid), session_cookie(client), session_cookie(therapist)])
print(json.dumps(pairs))
"""
)

# Before each trial: every recipient has read everything, and no unread-email cycle runs.
EVERYTHING_READ = (
    "UPDATE messaging_participant SET unread = 0, notice_due_at = NULL, last_read_seq = "
    "(SELECT last_seq FROM messaging_conversation c WHERE c.id = conversation_id)"
)


@dataclass
class Pair:
    conversation: str
    sender_path: str
    recipient_path: str
    sender_cookie: str = ""
    recipient_cookie: str = ""


def prepare_practice(server: DemoServer) -> list[Pair]:
    server.manage("migrate", "--no-input", "-v", "0", timeout=300)
    server.manage("createcachetable", "-v", "0")
    output = server.shell(SETUP.replace("CONVERSATIONS", str(CONVERSATIONS)))
    rows = json.loads(output.strip().splitlines()[-1])
    return [
        Pair(conversation, "/ws/messages/", "/ws/messages/", sender, recipient)
        for conversation, sender, recipient in rows
    ]


def run_sql(target: str, sql: str) -> None:
    if target.startswith("postgres"):
        import psycopg

        with psycopg.connect(target, autocommit=True) as connection:
            connection.execute(sql.encode())
        return
    with contextlib.closing(sqlite3.connect(target, timeout=30)) as connection:
        connection.execute(sql)
        connection.commit()


# --- One trial: fresh servers, sockets, load -------------------------------------------------


def percentile(values: list[float], fraction: float) -> float:
    """Nearest-rank percentile (0 when there are no values)."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * fraction // 1))
    return ordered[min(int(rank), len(ordered)) - 1]


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of process ``pid`` so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return sum(int(value) for value in fields[11:13]) / os.sysconf("SC_CLK_TCK")


@dataclass
class Trial:
    shape: str
    server: str
    rate: int
    sent: int = 0
    delivery_ms: list[float] = field(default_factory=list)
    ack_ms: list[float] = field(default_factory=list)
    lost: int = 0
    unacked: int = 0
    doubled: int = 0
    out_of_order: int = 0  # conversations whose messages arrived out of the sent order
    cycles_started: int = 0  # messages that found the recipient with nothing else unread
    late_send_ms: list[float] = field(default_factory=list)  # generator lag behind schedule
    overloaded: bool = False  # fell too far behind: sending stopped early
    errors: list[str] = field(default_factory=list)
    server_cpu: float = 0.0  # share of one core, all server processes together
    generator_cpu: float = 0.0
    load: tuple[float, float] = (0.0, 0.0)  # 1-minute load average at the start and the end

    def p(self, fraction: float, acks: bool = False) -> float:
        """A delivery (or ack) percentile of what was sent (an overloaded trial stopped sending
        early); infinite when too little arrived for it to mean anything."""
        values = self.ack_ms if acks else self.delivery_ms
        missing = self.unacked if acks else self.lost
        if not values or missing > (1 - fraction) * max(self.sent, 1):
            return float("inf")
        return percentile(values, fraction)

    @property
    def within_budget(self) -> bool:
        return self.p(0.99) <= BUDGET_P99_MS and not self.problems

    @property
    def problems(self) -> list[str]:
        found = []
        if self.overloaded:
            found.append(f"overloaded (over {BACKLOG_SECONDS:.0f} s of messages outstanding)")
        if self.lost or self.unacked:
            found.append(f"{self.lost} of {self.sent} never delivered, {self.unacked} never acked")
        if self.doubled:
            found.append(f"{self.doubled} delivered more than once")
        if self.out_of_order:
            found.append(f"{self.out_of_order} conversations out of order")
        if self.errors:
            found.append(f"{len(self.errors)} error frames, first: {self.errors[0]}")
        return found


async def open_socket(url: str, path: str, cookie: str) -> Any:
    from websockets.asyncio.client import connect

    socket = await connect(
        "ws" + url.removeprefix("http") + path,
        origin=url,  # type: ignore[arg-type]
        additional_headers={"Cookie": cookie} if cookie else None,
        ping_interval=None,
        open_timeout=120,
        max_queue=None,
        compression=None,
    )
    try:
        first = json.loads(await asyncio.wait_for(socket.recv(), timeout=60))
    except BaseException:
        await socket.close()
        raise
    if first.get("type") != "welcome":
        await socket.close()
        raise RuntimeError(f"{path}: first frame {first!r}")
    return socket


async def open_all(targets: list[tuple[str, str, str]]) -> list[Any]:
    gate = asyncio.Semaphore(OPENING_AT_ONCE)

    async def one(url: str, path: str, cookie: str) -> Any:
        async with gate:
            return await open_socket(url, path, cookie)

    return list(await asyncio.gather(*(one(*target) for target in targets)))


class Traffic:
    """What the sockets of one trial sent and heard."""

    def __init__(self, trial: Trial, shape: Shape) -> None:
        self.trial, self.shape = trial, shape
        self.sent_at: dict[str, float] = {}
        self.order: dict[str, list[str]] = {}  # conversation -> ids in the order sent
        self.delivered_at: dict[str, float] = {}
        self.heard: dict[str, list[tuple[str, int]]] = {}  # conversation -> (id, seq) heard
        self.acked_at: dict[str, float] = {}

    def outstanding(self) -> int:
        return len(self.sent_at) - min(len(self.acked_at), len(self.delivered_at))

    async def listen(self, socket: Any, role: str) -> None:
        from websockets.exceptions import ConnectionClosed

        with contextlib.suppress(ConnectionClosed):
            async for raw in socket:
                now = time.perf_counter()
                frame = json.loads(raw)
                kind = frame.get("type")
                if kind == "message" and role == "recipient":
                    message = frame["message"]
                    ident = message["id"]
                    if ident in self.delivered_at:
                        self.trial.doubled += 1
                    self.delivered_at.setdefault(ident, now)
                    conversation = message["conversation"]
                    self.heard.setdefault(conversation, []).append((ident, message["seq"]))
                    if frame.get("unread") == 1:
                        self.trial.cycles_started += 1
                    if self.shape.reads:
                        read = {"type": "read", "conversation": conversation}
                        await socket.send(json.dumps({**read, "seq": message["seq"]}))
                elif kind == "ack" and role == "sender":
                    self.acked_at.setdefault(frame["id"], now)
                elif kind == "error":
                    self.trial.errors.append(f"{role}: {raw[:200]}")

    async def send_all(self, senders: list[tuple[Pair, Any]], seconds: float) -> None:
        """Each sender on its own schedule, open loop; stop early when overloaded."""
        rate = self.trial.rate
        interval = len(senders) / rate
        start = time.perf_counter() + 0.05
        end = start + seconds

        async def sender(index: int, pair: Pair, socket: Any) -> None:
            due = start + interval * index / len(senders)
            order = self.order.setdefault(pair.conversation, [])
            while due < end and not self.trial.overloaded:
                delay = due - time.perf_counter()
                if delay > 0:
                    await asyncio.sleep(delay)
                if self.outstanding() > rate * BACKLOG_SECONDS:
                    self.trial.overloaded = True
                    return
                ident = str(uuid.uuid4())
                frame = {"type": "send", "conversation": pair.conversation, "id": ident}
                text = json.dumps({**frame, "text": TEXT})
                now = time.perf_counter()
                self.sent_at[ident] = now
                order.append(ident)
                self.trial.late_send_ms.append((now - due) * 1000)
                await socket.send(text)
                due += interval

        await asyncio.gather(*(sender(i, p, s) for i, (p, s) in enumerate(senders)))

    async def drain(self) -> None:
        deadline = time.perf_counter() + DRAIN_SECONDS
        while self.outstanding() > 0 and time.perf_counter() < deadline:
            await asyncio.sleep(0.1)

    def count(self, relay: bool) -> None:
        trial = self.trial
        trial.sent = len(self.sent_at)
        for ident, sent in self.sent_at.items():
            if ident in self.delivered_at:
                trial.delivery_ms.append((self.delivered_at[ident] - sent) * 1000)
            else:
                trial.lost += 1
            if ident in self.acked_at:
                trial.ack_ms.append((self.acked_at[ident] - sent) * 1000)
            else:
                trial.unacked += 1
        for conversation, sent_ids in self.order.items():
            heard = self.heard.get(conversation, [])
            ids, seqs = [ident for ident, _ in heard], [seq for _, seq in heard]
            in_order = ids == [ident for ident in sent_ids if ident in set(ids)]
            if not relay and seqs:
                in_order = in_order and seqs == list(range(seqs[0], seqs[0] + len(seqs)))
            if not in_order:
                trial.out_of_order += 1


async def load(
    trial: Trial,
    shape: Shape,
    pairs: list[Pair],
    sender_url: str,
    recipient_url: str,
    pids: list[int],
) -> None:
    """Open every socket on the fresh server(s), then send at once for ``TRIAL_SECONDS``."""
    traffic = Traffic(trial, shape)
    targets = [(sender_url, p.sender_path, p.sender_cookie) for p in pairs]
    targets += [(recipient_url, p.recipient_path, p.recipient_cookie) for p in pairs]
    sockets = await open_all(targets)
    senders, recipients = sockets[: len(pairs)], sockets[len(pairs) :]
    listeners = [asyncio.create_task(traffic.listen(s, "sender")) for s in senders]
    listeners += [asyncio.create_task(traffic.listen(s, "recipient")) for s in recipients]
    try:
        cpu0, generator0 = sum(map(cpu_seconds, pids)), time.process_time()
        wall0 = time.perf_counter()
        await traffic.send_all(list(zip(pairs, senders, strict=True)), TRIAL_SECONDS)
        await traffic.drain()
        wall = time.perf_counter() - wall0
        trial.server_cpu = (sum(map(cpu_seconds, pids)) - cpu0) / wall
        trial.generator_cpu = (time.process_time() - generator0) / wall
    finally:
        for listener in listeners:
            listener.cancel()
        await asyncio.gather(*(s.close() for s in sockets), return_exceptions=True)
    traffic.count(relay="/relay/" in pairs[0].sender_path)


# --- Servers -----------------------------------------------------------------------------------


@dataclass
class Setup:
    """The prepared practice and how to serve it."""

    data_dir: Path
    env: dict[str, str]
    database: str  # the Rapport database: a PostgreSQL URL or the SQLite file
    pairs: list[Pair]
    relay_pairs: list[Pair]
    scaled_out: bool  # PostgreSQL + Redis: two server processes
    # Other Rapport checkouts served beside it at the budget rates: name -> folder.
    compare: dict[str, str] = field(default_factory=dict)

    @property
    def description(self) -> str:
        if self.scaled_out:
            return (
                "PostgreSQL + Redis, two server processes (senders on one, recipients on the other)"
            )
        return "SQLite, one server process"


@contextlib.contextmanager
def servers(setup: Setup, server: str) -> Iterator[tuple[str, str, list[int]]]:
    """Fresh server process(es) for one trial: (senders' URL, recipients' URL, pids)."""
    log = setup.data_dir / f"{server.split()[0].lower()}.log"
    if server == "bare relay":
        env = dict(setup.env, RELAY_DATABASE=setup.database)
        with serving("bench.message_delivery:relay_app", env, log) as (url, pid):
            yield url, url, [pid]
        return
    checkout = setup.compare.get(server, "")
    env = dict(setup.env, PYTHONPATH=checkout) if checkout else setup.env
    with contextlib.ExitStack() as stack:
        first = stack.enter_context(serving_from(env, log, checkout))
        second = first
        if setup.scaled_out:
            second = stack.enter_context(serving_from(env, log.with_suffix(".2.log"), checkout))
        yield first[0], second[0], sorted({first[1], second[1]})


def serving_from(env: dict[str, str], log: Path, checkout: str) -> Any:
    """``rapport.asgi:application`` as ``rapport serve`` runs it, from ``checkout`` if given (its
    folder is the working directory, so its code comes first)."""
    if checkout:
        return serving("rapport.asgi:application", env, log, cwd=Path(checkout))
    return serving("rapport.asgi:application", env, log)


def trial(setup: Setup, shape: Shape, server: str, rate: int) -> Trial:
    """One trial on fresh servers, after every recipient has read everything."""
    run_sql(setup.database, EVERYTHING_READ)
    result = Trial(shape.name, server, rate)
    pairs = setup.relay_pairs if server == "bare relay" else setup.pairs
    with servers(setup, server) as (sender_url, recipient_url, pids):
        result.load = (os.getloadavg()[0], 0.0)
        import uvloop

        uvloop.run(load(result, shape, pairs, sender_url, recipient_url, pids))
        result.load = (result.load[0], os.getloadavg()[0])
    print("  " + row(result), flush=True)
    return result


# --- The run -----------------------------------------------------------------------------------


HEADER = (
    f"{'shape':<13} {'server':<13} {'msg/s':>5} {'sent':>5} {'p50':>6} {'p99':>7} {'max':>7} "
    f"{'ack p99':>7} {'cycles':>6} {'srv cpu':>7} {'gen cpu':>7} {'late p99':>8} {'load':>9}"
)


def row(t: Trial) -> str:
    verdict = "ok" if t.within_budget else "OVERLOADED" if t.overloaded else "OVER"
    return (
        f"{t.shape:<13} {t.server:<13} {t.rate:>5} {t.sent:>5} {t.p(0.5):>6.1f} "
        f"{t.p(0.99):>7.1f} {t.p(1.0):>7.1f} {t.p(0.99, True):>7.1f} {t.cycles_started:>6} "
        f"{t.server_cpu:>7.0%} {t.generator_cpu:>7.0%} {percentile(t.late_send_ms, 0.99):>8.1f} "
        f"{t.load[0]:>4.1f}-{t.load[1]:<4.1f} {verdict}"
    )


def compared() -> dict[str, str]:
    """``BENCH_COMPARE=name=folder,name=folder``: the other checkouts to serve, by name."""
    given = os.environ.get("BENCH_COMPARE", "")
    pairs = [entry.split("=", 1) for entry in given.split(",") if entry]
    return {name: folder for name, folder in pairs}


def prepare(data_dir: Path) -> Setup:
    given = os.environ.get("DATABASE_URL", "")
    database_url = server_database_url(given, "_bench_messages") if given else ""
    env = server_env(data_dir, database_url=database_url)
    env.update(SERVER_ENV)
    if env.get("REDIS_URL"):
        flush_redis(env["REDIS_URL"])
    if database_url:
        recreate_database(database_url)
    pairs = prepare_practice(
        DemoServer(url="", env=env, data_dir=data_dir, database_url=database_url)
    )
    database = database_url or str(data_dir / "rapport.sqlite3")
    create_relay_table(database)
    relay_pairs = [
        Pair(
            p.conversation,
            f"/ws/relay/{p.conversation}/sender/",
            f"/ws/relay/{p.conversation}/recipient/",
        )
        for p in pairs
    ]
    scaled_out = bool(database_url and env.get("REDIS_URL"))
    return Setup(data_dir, env, database, pairs, relay_pairs, scaled_out, compared())


def measure_shape(setup: Setup, shape: Shape) -> tuple[list[Trial], int]:
    """The budget rate in turns with the floor, then Rapport's steps: (trials, highest rate
    within budget, 0 if none)."""
    rate = shape.budget_rate
    contenders = ["bare relay", "Rapport", *setup.compare]
    trials = [trial(setup, shape, server, rate) for server in contenders]
    trials += [trial(setup, shape, server, rate) for server in reversed(contenders)]
    ours = [t for t in trials if t.server == "Rapport"]
    within = all(t.within_budget for t in ours)
    best = rate if within else 0
    steps = shape.steps_up if within else shape.steps_down
    for step in () if os.environ.get("BENCH_BUDGET_ONLY") else steps:
        result = trial(setup, shape, "Rapport", step)
        trials.append(result)
        if within and not result.within_budget:
            break
        if result.within_budget:
            best = max(best, step)
            if not within:
                break
    return trials, best


def summary(shape: Shape, trials: list[Trial], best: int) -> list[str]:
    at_budget = [t for t in trials if t.rate == shape.budget_rate]

    def figures(server: str) -> str:
        mine = [t for t in at_budget if t.server == server]
        p50 = ", ".join(f"{t.p(0.5):.1f}" for t in mine)
        p99 = ", ".join(f"{t.p(0.99):.1f}" for t in mine)
        return f"p50 {p50} ms, p99 {p99} ms"

    ours = [t for t in at_budget if t.server == "Rapport"]
    floor = [t for t in at_budget if t.server == "bare relay"]
    worst, floor_worst = max(t.p(0.99) for t in ours), max(t.p(0.99) for t in floor)
    ratio = worst / max(floor_worst, 1e-9)
    highest = f"{best} msg/s" if best else f"none of {shape.steps_down[-1]} msg/s or more"
    if os.environ.get("BENCH_BUDGET_ONLY"):
        highest = "not searched (BENCH_BUDGET_ONLY)"
    ok = all(t.within_budget for t in ours)
    lines = [
        f"{'PASS' if ok else 'FAIL'} {shape.name} at {shape.budget_rate} msg/s from a cold start: "
        f"Rapport {figures('Rapport')} (budget p99 <= {BUDGET_P99_MS:.0f} ms on every trial); "
        f"floor (bare relay) {figures('bare relay')}; worst p99 {ratio:.1f}x the floor's "
        "(information)",
    ]
    for name in {t.server for t in at_budget} - {"Rapport", "bare relay"}:
        lines.append(f"     {name} (another checkout): {figures(name)}")
    if shape.reads:
        started = sum(t.cycles_started for t in ours)
        sent = sum(t.sent for t in ours)
        lines.append(f"     email cycles started: {started} of {sent} messages (every one must)")
    lines.append(
        f"     highest rate within budget, each on a fresh server: {highest} "
        f"(tried {', '.join(str(t.rate) for t in trials if t.server == 'Rapport')})"
    )
    return lines


def main() -> int:
    raise_open_files_limit()
    parent = os.environ.get("RAPPORT_DATA_DIR") or None
    if parent:
        Path(parent).mkdir(parents=True, exist_ok=True)
    failed = False
    with tempfile.TemporaryDirectory(prefix="rapport-messages-", dir=parent) as folder:
        data_dir = Path(folder)
        setup = prepare(data_dir)
        try:
            print(
                f"Message delivery over loopback, {CONVERSATIONS} conversations (a sending "
                f"client socket and a receiving therapist socket each), {TRIAL_SECONDS:.0f} s "
                f"per trial, each trial on freshly started servers; {setup.description}",
                "latency = send -> message frame parsed on the recipient's socket, ms; cycles = "
                "messages that started an unread-email cycle; cpu = share of one core; late = "
                "how far the generator sent behind schedule; load = 1-minute load average "
                f"({os.cpu_count()} cores) at the trial's start-end",
                HEADER,
                "-" * len(HEADER),
                sep="\n",
                flush=True,
            )
            lines: list[str] = []
            wanted = os.environ.get("BENCH_SHAPES", "").split(",")
            for shape in [s for s in SHAPES if s.name in wanted or wanted == [""]]:
                trials, best = measure_shape(setup, shape)
                lines += summary(shape, trials, best)
                ours = [t for t in trials if t.server == "Rapport"]
                at_budget = [t for t in ours if t.rate == shape.budget_rate]
                failed = failed or not all(t.within_budget for t in at_budget)
                if shape.reads and any(t.cycles_started != t.sent for t in at_budget):
                    failed = True
                for t in trials:
                    for problem in t.problems:
                        print(f"PROBLEM: {t.shape} {t.server} {t.rate}/s: {problem}")
                        failed = failed or (t.server == "Rapport" and t.rate == shape.budget_rate)
            print("", *lines, sep="\n")
        except Exception:
            for log in sorted(data_dir.glob("*.log")):
                lines = log.read_text(errors="replace").splitlines()
                print(f"--- {log.name}, last lines:", *lines[-40:], sep="\n", file=sys.stderr)
            raise
        finally:
            if setup.database.startswith("postgres"):
                with contextlib.suppress(Exception):
                    drop_database(setup.database)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
