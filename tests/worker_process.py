"""A real ``rapport worker`` process for fault tests: started, killed, started again.

It runs on the database a test names (by default the test's own, which the test must commit to:
``django_db(transaction=True)``), with this process's keys so that it reads what the test wrote,
and mails through the SMTP server the test started. The lease and the retry pauses are short so
that taking back a dead worker's task takes seconds.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from django.conf import settings
from django.db import connection

RAPPORT = str(Path(sys.executable).with_name("rapport"))
FAST = {
    "RAPPORT_WORKER_HEARTBEAT_SECONDS": "1",
    "RAPPORT_WORKER_LEASE_SECONDS": "3",
    "RAPPORT_RETRY_SECONDS": "1",
}


def database_url_of_this_test() -> str:
    """Where the test database is, for another process: a PostgreSQL URL, or "" for SQLite
    (then ``sqlite_data_dir`` gives the worker a data folder whose database is the test's)."""
    db = connection.settings_dict
    if connection.vendor != "postgresql":
        return ""
    password = f":{db['PASSWORD']}" if db["PASSWORD"] else ""
    return f"postgres://{db['USER']}{password}@{db['HOST']}:{db['PORT'] or 5432}/{db['NAME']}"


def sqlite_data_dir(folder: Path) -> Path:
    """A data folder for the worker whose ``rapport.sqlite3`` is the test database (a symlink:
    SQLite resolves it, so both processes share one WAL)."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "rapport.sqlite3").symlink_to(Path(connection.settings_dict["NAME"]).resolve())
    return folder


def worker_env(data_dir: Path, smtp_port: int, database_url: str) -> dict[str, str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("RAPPORT_") and key not in {"DATABASE_URL"}
    }
    env.update(
        FAST,
        RAPPORT_ENV="demo",
        RAPPORT_DATA_DIR=str(data_dir),
        RAPPORT_SECRET_KEY=settings.SECRET_KEY,
        RAPPORT_ENCRYPTION_KEYS=",".join(settings.RAPPORT_ENCRYPTION_KEYS),
        RAPPORT_AUDIT_KEY=settings.RAPPORT_AUDIT_KEY or "",
        RAPPORT_AUDIT_ANCHOR=str(data_dir / "audit-anchor"),
        RAPPORT_EMAIL_HOST="127.0.0.1",
        RAPPORT_EMAIL_PORT=str(smtp_port),
        RAPPORT_EMAIL_TLS="false",
        RAPPORT_SITE_URL=settings.SITE_URL,
        PYTHONUNBUFFERED="1",
    )
    if database_url:
        env["DATABASE_URL"] = database_url
    return env


class WorkerProcess:
    def __init__(self, env: dict[str, str], log: Path) -> None:
        self.env, self.log = env, log
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                [RAPPORT, "worker", "--interval", "0.2"],
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )

    def kill(self) -> None:
        """``kill -9``: no signal handler, no ``finally``, nothing flushed."""
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def log_tail(self, chars: int = 3000) -> str:
        return self.log.read_text(errors="replace")[-chars:] if self.log.exists() else ""


def wait_until(done: Callable[[], bool], seconds: float, what: str, worker: WorkerProcess) -> None:
    deadline = time.monotonic() + seconds
    while not done():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {seconds:.0f} s\n{worker.log_tail()}")
        if not worker.alive():
            raise AssertionError(f"{what}: the worker exited\n{worker.log_tail()}")
        time.sleep(0.05)
