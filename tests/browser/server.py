"""Start a real Rapport demo server (migrate, seed, uvicorn) in a subprocess.

Used by the browser tests and by ``bench/page_weight.py``. No Django import here: the server is a
separate process with its own environment, its own data folder and, when ``DATABASE_URL`` is set,
its own PostgreSQL database (never the pytest-django test database).
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote, urlsplit, urlunsplit

REPO = Path(__file__).resolve().parents[2]
PYTHON = str(REPO / ".venv" / "bin" / "python")
if not Path(PYTHON).exists():  # e.g. a virtualenv somewhere else: use the running interpreter
    PYTHON = sys.executable
HOST = "127.0.0.1"
STARTUP_SECONDS = 60.0

# Python for ``rapport manage shell``: a signed-in browser session for a user, made the way
# ``django.contrib.auth.login`` makes one (no password check: benchmarks and socket tests make
# hundreds). ``session_cookie(user)`` returns the Cookie header that carries it.
SESSION_CODE = """
import time
from importlib import import_module
from django.conf import settings
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
from rapport.lib.sessions import SEEN, STARTED

def session_cookie(user):
    session = import_module(settings.SESSION_ENGINE).SessionStore()
    session[SESSION_KEY] = str(user.pk)
    session[BACKEND_SESSION_KEY] = "rapport.accounts.backends.ModelBackend"
    session[HASH_SESSION_KEY] = user.get_session_auth_hash()
    session[STARTED] = session[SEEN] = time.time()
    session.create()
    return f"{settings.SESSION_COOKIE_NAME}={session.session_key}"
"""


class ServerError(RuntimeError):
    """The demo server could not be prepared or did not come up."""


def free_port(host: str = HOST) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


def server_database_url(database_url: str, suffix: str = "_browser") -> str:
    """The URL of the server's own database: the given one with ``suffix`` added to its name."""
    parts = urlsplit(database_url)
    name = parts.path.lstrip("/") or "rapport"
    return urlunsplit(parts._replace(path="/" + name + suffix))


def _database_name(database_url: str) -> str:
    name = urlsplit(database_url).path.lstrip("/")
    if not name.replace("_", "").isalnum():
        raise ServerError(f"refusing to manage a database named {name!r}")
    return name


def _on_postgres_db(database_url: str, *statements: str) -> None:
    """Run ``statements`` (``{}`` = the database's quoted name) on the ``postgres`` database."""
    import psycopg
    from psycopg import sql

    parts = urlsplit(database_url)
    name = sql.Identifier(_database_name(database_url))
    with psycopg.connect(
        host=parts.hostname or None,
        port=parts.port or None,
        user=unquote(parts.username or "") or None,
        password=unquote(parts.password or "") or None,
        dbname="postgres",
        autocommit=True,
    ) as conn:
        for statement in statements:
            conn.execute(sql.SQL(statement).format(name))


def recreate_database(database_url: str) -> None:
    _on_postgres_db(database_url, "DROP DATABASE IF EXISTS {} WITH (FORCE)", "CREATE DATABASE {}")


def drop_database(database_url: str) -> None:
    _on_postgres_db(database_url, "DROP DATABASE IF EXISTS {} WITH (FORCE)")


def flush_redis(redis_url: str) -> None:
    import redis

    client = redis.Redis.from_url(redis_url)
    try:
        client.flushdb()
    finally:
        client.close()


@dataclass
class DemoServer:
    """A running demo server: its base URL, environment and process."""

    url: str
    env: dict[str, str]
    data_dir: Path
    process: subprocess.Popen[bytes] | None = None
    database_url: str = ""
    log_path: Path = field(init=False)

    def __post_init__(self) -> None:
        self.log_path = self.data_dir / "server.log"

    @property
    def browser_url(self) -> str:
        """The URL browsers should use: ``localhost``, because WebAuthn refuses IP-address
        relying parties ("This is an invalid domain") and http://localhost is a secure context."""
        return self.url.replace(f"//{HOST}:", "//localhost:", 1)

    def manage(self, *args: str, timeout: float = 120.0) -> str:
        """Run ``rapport manage <args>`` against the server's database; return its stdout."""
        result = subprocess.run(
            [PYTHON, "-m", "rapport.cli", "manage", *args],
            cwd=REPO,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if result.returncode != 0:
            raise ServerError(
                f"rapport manage {' '.join(args)} failed ({result.returncode}):\n"
                f"{result.stdout}\n{result.stderr}"
            )
        return result.stdout

    def shell(self, code: str) -> str:
        """Run Python ``code`` in ``rapport manage shell`` against the server's database."""
        return self.manage("shell", "--no-imports", "-c", code)

    def session_cookies(self, *emails: str) -> dict[str, str]:
        """A new signed-in session for each of ``emails``: their ``Cookie`` headers, by email."""
        code = SESSION_CODE + (
            "import json\n"
            "from rapport.accounts.models import User\n"
            f"emails = {list(emails)!r}\n"
            "print(json.dumps({e: session_cookie(User.objects.get(email=e)) for e in emails}))\n"
        )
        cookies: dict[str, str] = json.loads(self.shell(code).strip().splitlines()[-1])
        return cookies

    def log_tail(self, lines: int = 60) -> str:
        try:
            text = self.log_path.read_text(encoding="utf-8", errors="replace")
        except FileNotFoundError:
            return "(no server log)"
        return "\n".join(text.splitlines()[-lines:])

    def healthy(self) -> bool:
        parts = urlsplit(self.url)
        conn = http.client.HTTPConnection(parts.hostname or HOST, parts.port, timeout=2)
        try:
            conn.request("GET", "/healthz")
            return conn.getresponse().status == 200
        except OSError:
            return False
        finally:
            conn.close()

    def start(self) -> None:
        parts = urlsplit(self.url)
        assert parts.hostname is not None and parts.port is not None
        log = self.log_path.open("ab")
        try:
            self.process = subprocess.Popen(
                [
                    PYTHON,
                    "-m",
                    "uvicorn",
                    "rapport.asgi:application",
                    "--host",
                    parts.hostname,
                    "--port",
                    str(parts.port),
                    "--lifespan",
                    "off",
                    "--log-level",
                    "warning",
                    "--no-server-header",
                    "--ws-max-size",
                    "131072",
                    "--ws-per-message-deflate",
                    "false",
                ],
                cwd=REPO,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        finally:
            log.close()
        deadline = time.monotonic() + STARTUP_SECONDS
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise ServerError(
                    f"uvicorn exited with {self.process.returncode}:\n{self.log_tail()}"
                )
            if self.healthy():
                return
            time.sleep(0.2)
        self.stop()
        raise ServerError(f"server not healthy after {STARTUP_SECONDS:.0f}s:\n{self.log_tail()}")

    def kill(self) -> None:
        """End the server abruptly (SIGKILL), as a crash or an out-of-memory kill would."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.kill()
        self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)


def server_env(
    data_dir: Path, base: Mapping[str, str] | None = None, *, database_url: str = ""
) -> dict[str, str]:
    env = dict(os.environ if base is None else base)
    env.update(
        RAPPORT_ENV="demo",
        RAPPORT_DATA_DIR=str(data_dir),
        DJANGO_SETTINGS_MODULE="rapport.settings",
        PYTHONUNBUFFERED="1",
    )
    for name in ("RAPPORT_HTTPS", "RAPPORT_DEBUG", "RAPPORT_SECRET_KEY", "RAPPORT_ENCRYPTION_KEYS"):
        env.pop(name, None)
    if database_url:
        env["DATABASE_URL"] = database_url
    else:
        env.pop("DATABASE_URL", None)
    return env


@contextlib.contextmanager
def demo_server(
    data_dir: Path,
    *,
    database_url: str | None = None,
    database_suffix: str = "_browser",
    env: Mapping[str, str] | None = None,
    host: str = HOST,
) -> Iterator[DemoServer]:
    """Prepare a fresh demo practice in ``data_dir`` and serve it until the block ends.

    ``database_url`` defaults to ``$DATABASE_URL``; when set, the server gets its own database
    named after it (``<name><database_suffix>``, e.g. ``rapport_browser``), created here and
    dropped afterwards. ``$REDIS_URL`` is
    passed through and its database flushed first. ``env`` adds settings for this server only
    (e.g. ``RAPPORT_TURN_URLS``). ``host`` is the address it listens on (loopback unless a
    test gives it one of its own network namespaces' addresses).
    """
    data_dir.mkdir(parents=True, exist_ok=True)
    given = os.environ.get("DATABASE_URL", "") if database_url is None else database_url
    own_database = server_database_url(given, database_suffix) if given else ""
    environment = server_env(data_dir, database_url=own_database)
    environment.update(env or {})
    redis_url = environment.get("REDIS_URL", "")
    if redis_url:
        flush_redis(redis_url)
    if own_database:
        recreate_database(own_database)
    server = DemoServer(url="", env=environment, data_dir=data_dir, database_url=own_database)
    try:
        server.manage("migrate", "--no-input", "-v", "0", timeout=300)
        server.manage("createcachetable", "-v", "0")
        server.manage("seed_demo", "-v", "0")
        for attempt in range(3):
            server.url = f"http://{host}:{free_port(host)}"
            try:
                server.start()
                break
            except ServerError:
                if attempt == 2 or "address already in use" not in server.log_tail().lower():
                    raise
        yield server
    finally:
        server.stop()
        if own_database:
            with contextlib.suppress(Exception):
                drop_database(own_database)
