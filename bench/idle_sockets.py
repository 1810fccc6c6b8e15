"""Idle session-room sockets: at most 50 KiB of server memory per open visit socket.

Starts a real Rapport server (uvicorn with the WebSocket settings of ``rapport serve``) on a
database of its own, with 500 open visits between 20 therapists and 25 clients, every client
admitted. Each of the 45 people signs in over HTTP (therapists with their TOTP code) and opens
the room socket ``/ws/visits/<uuid>/`` of each of their visits: 1,000 sockets, two per visit
(a second socket of one person to one visit would replace the first). Once every socket has
its ``welcome``, the sockets stay idle for 25 seconds and the server's resident memory (VmRSS)
is compared with its value before they opened. The baseline, measured in the same run: the same
number of sockets against a bare ASGI WebSocket app (``bare_app`` below) served by uvicorn with
the same settings. Exits 1 when Rapport is over budget, or when the server dropped a socket or
agreed to compress (OWASP: no per-message compression).

    .venv/bin/python bench/idle_sockets.py                    # SQLite in a temporary folder
    DATABASE_URL=postgres://... .venv/bin/python bench/idle_sockets.py  # <name>_bench_sockets
"""

from __future__ import annotations

import asyncio
import contextlib
import http.client
import http.cookies
import json
import os
import re
import resource
import subprocess
import sys
import tempfile
import time
import urllib.parse
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

if __package__ in {None, ""}:  # run as a script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from rapport.cli import WEBSOCKET_LIMITS
from tests.browser.server import (
    HOST,
    PYTHON,
    REPO,
    STARTUP_SECONDS,
    DemoServer,
    drop_database,
    flush_redis,
    free_port,
    recreate_database,
    server_database_url,
    server_env,
)
from tests.helpers import totp_code

BUDGET_KIB_PER_SOCKET = 50.0
THERAPISTS, CLIENTS = 20, 25
SOCKETS = 2 * THERAPISTS * CLIENTS  # one visit per care relationship, both people in it
OPENING_AT_ONCE = 50  # sockets in their handshake at the same time
SETTLE_SECONDS = 3.0
# Idle long enough for uvicorn's keepalive ping (every 20 s) and several of the channel layer's
# 5-second blocking reads: a socket the server drops meanwhile is reported.
IDLE_SECONDS = 25.0
WARM_UP_SOCKETS = 20
PASSWORD = "idle-sockets-bench-password"  # noqa: S105 (throwaway users of a throwaway database)
TURN_SECRET = "idle-sockets-bench-turn-secret"  # noqa: S105 (no TURN server is ever asked)
NEEDED_OPEN_FILES = 3 * SOCKETS + 256  # this process, and the server it starts, hold them all


# --- The baseline: a bare ASGI WebSocket app --------------------------------------------------

Message = dict[str, Any]


async def bare_app(
    scope: dict[str, Any],
    receive: Callable[[], Awaitable[Message]],
    send: Callable[[Message], Awaitable[None]],
) -> None:
    """Accepts every socket, says hello, and waits for it to close. Answers HTTP with 200."""
    if scope["type"] == "http":
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})
    elif scope["type"] == "websocket":
        await receive()  # websocket.connect
        await send({"type": "websocket.accept"})
        await send({"type": "websocket.send", "text": '{"type": "welcome"}'})
        while (await receive())["type"] != "websocket.disconnect":
            pass


# --- Servers ------------------------------------------------------------------------------


def uvicorn_options() -> list[str]:
    """``rapport serve``'s WebSocket settings as uvicorn command-line options."""
    options = []
    for name, value in WEBSOCKET_LIMITS.items():
        flag = "--" + name.replace("_", "-")
        options += [flag, str(value).lower() if isinstance(value, bool) else str(value)]
    return options


@contextlib.contextmanager
def serving(
    app: str, env: dict[str, str], log_path: Path, cwd: Path = REPO
) -> Iterator[tuple[str, int]]:
    """Run uvicorn with ``app`` (one process, in ``cwd``) until the block ends; yield (base URL,
    pid)."""
    server = DemoServer(url=f"http://{HOST}:{free_port()}", env=env, data_dir=log_path.parent)
    server.log_path = log_path
    port = urllib.parse.urlsplit(server.url).port
    with log_path.open("ab") as log:
        server.process = subprocess.Popen(
            [
                PYTHON,
                "-m",
                "uvicorn",
                app,
                "--host",
                HOST,
                "--port",
                str(port),
                "--lifespan",
                "off",
                "--log-level",
                "warning",
                "--no-server-header",
                *uvicorn_options(),
            ],
            cwd=cwd,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + STARTUP_SECONDS
        while not server.healthy():
            if server.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"{app} did not start:\n{server.log_tail()}")
            time.sleep(0.2)
        yield server.url, server.process.pid
    except Exception:
        print(f"--- {log_path.name}:\n{server.log_tail()}", file=sys.stderr)
        raise
    finally:
        server.stop()


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text(encoding="ascii").splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for process {pid}")


def raise_open_files_limit() -> None:
    """Enough file descriptors for every socket here and in the server (which inherits it)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = NEEDED_OPEN_FILES if hard == resource.RLIM_INFINITY else min(hard, 65536)
    if wanted < NEEDED_OPEN_FILES:
        raise SystemExit(f"open-files limit {hard} is below the {NEEDED_OPEN_FILES} needed")
    if soft == resource.RLIM_INFINITY or soft >= wanted:
        return
    resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))


# --- The practice: people, care relationships, visits -------------------------------------

SETUP = """
import json
from allauth.account.models import EmailAddress
from allauth.mfa.totp.internal.auth import TOTP, generate_totp_secret
from django.utils import timezone
from rapport.accounts.models import User
from rapport.care.services import start_care
from rapport.visits.models import Visit
from rapport.visits.services import start_unscheduled

def person(email, role):
    user = User.objects.create_user(email, PASSWORD, full_name=email.split("@")[0], role=role)
    EmailAddress.objects.create(user=user, email=email, verified=True, primary=True)
    return user

people = {}
therapists = [person(f"t{n}@bench.rapport.test", "therapist") for n in range(THERAPISTS)]
clients = [person(f"c{n}@bench.rapport.test", "client") for n in range(CLIENTS)]
for therapist in therapists:
    secret = generate_totp_secret()
    TOTP.activate(therapist, secret)
    people[therapist.email] = {"totp": secret, "visits": []}
for client in clients:
    people[client.email] = {"totp": "", "visits": []}
visits = []
for therapist in therapists:
    for client in clients:
        start_care(therapist, client, actor=therapist)
        visit = start_unscheduled(therapist, client)
        visits.append(visit.pk)
        people[therapist.email]["visits"].append(str(visit.uid))
        people[client.email]["visits"].append(str(visit.uid))
# Admitted by their therapist earlier: both people are in the room, as in a session.
Visit.objects.filter(pk__in=visits).update(client_admitted_at=timezone.now())
print(json.dumps(people))
"""


@dataclass
class Person:
    email: str
    totp: str
    visits: list[str]
    cookie: str = ""


def prepare_practice(server: DemoServer) -> list[Person]:
    server.manage("migrate", "--no-input", "-v", "0", timeout=300)
    server.manage("createcachetable", "-v", "0")
    code = SETUP.replace("PASSWORD", repr(PASSWORD))
    code = code.replace("THERAPISTS", str(THERAPISTS)).replace("CLIENTS", str(CLIENTS))
    output = server.shell(code).strip().splitlines()[-1]
    return [Person(email, p["totp"], p["visits"]) for email, p in json.loads(output).items()]


CSRF_INPUT = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')


def sign_in(base_url: str, person: Person, source_ip: str) -> str:
    """Sign in through the real forms (and the TOTP step); return the Cookie header.

    Each person comes from an address of their own (sign-in is rate-limited per address, as
    people's own machines would be). Redirects are not followed: the answer to the last form
    (a redirect away from ``/accounts/``) is the proof, whatever the home page does."""
    cookies: dict[str, str] = {}
    parts = urllib.parse.urlsplit(base_url)

    def request(method: str, path: str, form: dict[str, str] | None = None) -> tuple[int, str, str]:
        connection = http.client.HTTPConnection(
            parts.hostname or HOST, parts.port, timeout=60, source_address=(source_ip, 0)
        )
        headers = {"Cookie": "; ".join(f"{k}={v}" for k, v in cookies.items())}
        body = None
        if form is not None:
            body = urllib.parse.urlencode(form)
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        try:
            connection.request(method, path, body=body, headers=headers)
            response = connection.getresponse()
            for header in response.headers.get_all("Set-Cookie") or []:
                cookie = http.cookies.SimpleCookie(header)
                cookies.update({name: morsel.value for name, morsel in cookie.items()})
            page = response.read().decode()
            return response.status, response.headers.get("Location", ""), page
        finally:
            connection.close()

    def csrf(html: str) -> str:
        found = CSRF_INPUT.search(html)
        if found is None:
            raise RuntimeError(f"no CSRF token on the page while signing in {person.email}")
        return found.group(1)

    _, _, page = request("GET", "/accounts/login/")
    form = {"login": person.email, "password": PASSWORD, "csrfmiddlewaretoken": csrf(page)}
    status, location, _ = request("POST", "/accounts/login/", form)
    if status == 302 and location.startswith("/accounts/2fa/authenticate"):
        _, _, page = request("GET", location)
        form = {"code": totp_code(person.totp), "csrfmiddlewaretoken": csrf(page)}
        status, location, _ = request("POST", location, form)
    if status != 302 or location.startswith("/accounts/"):
        raise RuntimeError(f"signing in {person.email}: {status} to {location!r}")
    return "; ".join(f"{k}={v}" for k, v in cookies.items())


# --- Sockets ------------------------------------------------------------------------------


@dataclass
class Run:
    name: str
    sockets: int = 0
    rss_before_kib: int = 0
    rss_after_kib: int = 0
    open_seconds: float = 0.0
    problems: list[str] = field(default_factory=list)

    @property
    def kib_per_socket(self) -> float:
        return (self.rss_after_kib - self.rss_before_kib) / max(self.sockets, 1)


async def open_sockets(
    base_url: str, targets: list[tuple[str, str]], expect: str
) -> tuple[list[Any], list[str]]:
    """Open a socket per (path, cookie), ``OPENING_AT_ONCE`` at a time, each read up to its first
    message (of type ``expect``). Returns (open sockets, problems)."""
    from websockets.asyncio.client import connect

    origin = base_url
    ws_base = "ws" + base_url.removeprefix("http")
    gate = asyncio.Semaphore(OPENING_AT_ONCE)
    problems: list[str] = []

    async def one(path: str, cookie: str) -> Any:
        async with gate:
            # Like a browser: offers compression (the server must decline) and sends no pings.
            socket = await connect(
                ws_base + path,
                origin=origin,  # type: ignore[arg-type]
                additional_headers={"Cookie": cookie} if cookie else None,
                ping_interval=None,
                open_timeout=120,
                max_queue=None,
            )
            try:
                first = json.loads(await asyncio.wait_for(socket.recv(), timeout=120))
                if first.get("type") != expect:
                    problems.append(f"{path}: first message {first!r}")
                if socket.response and socket.response.headers.get("Sec-WebSocket-Extensions"):
                    problems.append(f"{path}: the server agreed to compression")
            except BaseException:
                await socket.close()
                raise
            return socket

    sockets = await asyncio.gather(*(one(path, cookie) for path, cookie in targets))
    return list(sockets), problems


async def close_sockets(sockets: list[Any]) -> None:
    gate = asyncio.Semaphore(OPENING_AT_ONCE * 4)

    async def one(socket: Any) -> None:
        async with gate:
            await socket.close()

    await asyncio.gather(*(one(s) for s in sockets))


async def hold_idle(
    name: str,
    base_url: str,
    pid: int,
    warm_up: list[tuple[str, str]],
    targets: list[tuple[str, str]],
    expect: str,
) -> Run:
    """Warm the server up, then measure its RSS before and after opening ``targets``."""
    run = Run(name, sockets=len(targets))
    opened, problems = await open_sockets(base_url, warm_up, expect)
    await close_sockets(opened)
    await asyncio.sleep(SETTLE_SECONDS)
    run.rss_before_kib = rss_kib(pid)
    started = time.monotonic()
    opened, problems = await open_sockets(base_url, targets, expect)
    run.open_seconds = time.monotonic() - started
    run.problems += problems
    await asyncio.sleep(IDLE_SECONDS)  # idle: the clients send nothing
    run.rss_after_kib = rss_kib(pid)
    closed = Counter(f"{s.close_code} {s.close_reason!r}" for s in opened if s.close_code)
    if closed:
        run.problems.append(
            f"{closed.total()} of {len(targets)} sockets closed while idle (code, reason: "
            + ", ".join(f"{how} x{count}" for how, count in closed.items())
            + ")"
        )
    await close_sockets(opened)
    return run


def measure_baseline(data_dir: Path) -> Run:
    env = server_env(data_dir)
    with serving("bench.idle_sockets:bare_app", env, data_dir / "bare.log") as (url, pid):
        targets = [(f"/ws/bare/{n}/", "") for n in range(SOCKETS)]
        warm_up = targets[:WARM_UP_SOCKETS]
        return asyncio.run(
            hold_idle("bare ASGI app (baseline)", url, pid, warm_up, targets, "welcome")
        )


def measure_rapport(data_dir: Path) -> tuple[Run, str]:
    given = os.environ.get("DATABASE_URL", "")
    database_url = server_database_url(given, "_bench_sockets") if given else ""
    env = server_env(data_dir, database_url=database_url)
    # Every welcome carries TURN credentials, as in production.
    env.update(RAPPORT_TURN_URLS=f"turn:{HOST}:3478", RAPPORT_TURN_SECRET=TURN_SECRET)
    if env.get("REDIS_URL"):
        flush_redis(env["REDIS_URL"])
    if database_url:
        recreate_database(database_url)
    try:
        prepare = DemoServer(url="", env=env, data_dir=data_dir, database_url=database_url)
        people = prepare_practice(prepare)
        with serving("rapport.asgi:application", env, data_dir / "server.log") as (url, pid):
            for number, person in enumerate(people, start=1):
                person.cookie = sign_in(url, person, source_ip=f"127.0.1.{number}")
            targets = [
                (f"/ws/visits/{visit}/", person.cookie)
                for person in people
                for visit in person.visits
            ]
            # Warm up on one therapist's visits; the run reconnects them (within rejoin grace).
            warm_up = [t for t in targets if t[1] == people[0].cookie][:WARM_UP_SOCKETS]
            run = asyncio.run(
                hold_idle("Rapport visit room", url, pid, warm_up, targets, "welcome")
            )
        database = "sqlite"
        if database_url:
            database = f"postgresql ({urllib.parse.urlsplit(database_url).path.lstrip('/')})"
        if env.get("REDIS_URL"):
            database += ", Redis channel layer"
        return run, database
    finally:
        if database_url:
            with contextlib.suppress(Exception):
                drop_database(database_url)


def report(runs: list[Run], database: str) -> str:
    header = (
        f"{'server':<28} {'sockets':>7} {'RSS before':>11} {'RSS after':>11} "
        f"{'KiB/socket':>10} {'open (s)':>8}"
    )
    lines = [
        f"Idle WebSocket memory, uvicorn {' '.join(uvicorn_options())}; database: {database}; "
        f"budget {BUDGET_KIB_PER_SOCKET:.0f} KiB per Rapport socket",
        header,
        "-" * len(header),
    ]
    for run in runs:
        lines.append(
            f"{run.name:<28} {run.sockets:>7} {run.rss_before_kib / 1024:>8.1f} MiB "
            f"{run.rss_after_kib / 1024:>7.1f} MiB {run.kib_per_socket:>10.1f} "
            f"{run.open_seconds:>8.1f}"
        )
    return "\n".join(lines)


def main() -> int:
    raise_open_files_limit()
    parent = os.environ.get("RAPPORT_DATA_DIR") or None
    if parent:
        Path(parent).mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="rapport-idle-sockets-", dir=parent) as data_dir:
        baseline = measure_baseline(Path(data_dir))
        rapport, database = measure_rapport(Path(data_dir))
        print(report([baseline, rapport], database))
        problems = baseline.problems + rapport.problems
        for problem in problems[:20]:
            print(f"PROBLEM: {problem}")
        if problems:
            for log in ("bare.log", "server.log"):
                lines = (Path(data_dir) / log).read_text(errors="replace").splitlines()
                print(f"--- {log}, last lines:", *lines[-40:], sep="\n")
            return 1
    over = rapport.kib_per_socket - BUDGET_KIB_PER_SOCKET
    if over > 0:
        print(
            f"\nOVER BUDGET: {rapport.kib_per_socket:.1f} KiB per idle visit socket "
            f"({over:.1f} over {BUDGET_KIB_PER_SOCKET:.0f}; bare baseline "
            f"{baseline.kib_per_socket:.1f})"
        )
        return 1
    print(
        f"\nOK: {rapport.kib_per_socket:.1f} KiB per idle visit socket, "
        f"{-over:.1f} under the {BUDGET_KIB_PER_SOCKET:.0f} KiB budget "
        f"(bare baseline {baseline.kib_per_socket:.1f})"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
