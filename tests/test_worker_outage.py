"""A real ``rapport worker`` across a PostgreSQL restart: it stays up and works afterwards.

The test starts a PostgreSQL server of its own (whatever database the suite runs on), runs the
worker on it, stops the server for several seconds (longer than the worker's lease), starts it
again, then queues an invitation: the worker must still be running, beat again and send it.
"""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import psycopg

from tests.mail import slow_smtp_server
from tests.own_postgres import own_postgres
from tests.worker_process import RAPPORT, WorkerProcess, wait_until, worker_env

OUTAGE_SECONDS = 8.0


def rapport(env: dict[str, str], *args: str) -> None:
    done = subprocess.run(
        [RAPPORT, *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        stdin=subprocess.DEVNULL,
    )
    assert done.returncode == 0, f"rapport {args}: {done.stdout}\n{done.stderr}"


def newest_beat_age(url: str) -> float | None:
    try:
        with psycopg.connect(url, connect_timeout=2) as db:
            row = db.execute(
                "SELECT EXTRACT(EPOCH FROM now() - max(beat_at)) FROM core_workerheartbeat"
            ).fetchone()
    except psycopg.OperationalError:
        return None
    return None if row is None or row[0] is None else float(row[0])


def test_the_worker_survives_a_postgresql_restart(tmp_path: Path) -> None:
    with own_postgres() as postgres, slow_smtp_server(delay=0) as (inbox, port):
        env = worker_env(tmp_path / "data", port, postgres.url)
        env["RAPPORT_ADMIN_PASSWORD"] = "orchid lantern quietly 47 rivers"
        rapport(env, "manage", "migrate", "--no-input", "-v", "0")
        rapport(env, "createadmin", "--email", "admin@example.test", "--name", "Ada Admin")
        worker = WorkerProcess(env, tmp_path / "worker.log")
        worker.start()
        try:
            wait_until(
                lambda: (newest_beat_age(postgres.url) or 99) < 2, 60, "a first beat", worker
            )
            postgres.stop()
            stopped_at = time.monotonic()
            while time.monotonic() - stopped_at < OUTAGE_SECONDS:
                assert worker.alive(), f"the worker exited\n{worker.log_tail()}"
                time.sleep(0.2)
            postgres.start()
            wait_until(
                lambda: (newest_beat_age(postgres.url) or 99) < 2, 60, "beating again", worker
            )
            rapport(
                env,
                "manage",
                "shell",
                "-c",
                "from rapport.accounts.models import User; "
                "from rapport.accounts.services import invite; "
                "invite(User.objects.get(email='admin@example.test'), "
                "email='after.outage@example.test', full_name='After', role='therapist')",
            )
            wait_until(lambda: inbox.count() >= 1, 60, "the invitation sent", worker)
            assert worker.alive()
        finally:
            worker.stop()
        log = worker.log.read_text(errors="replace")
    assert [str(message["To"]) for message in inbox.take()] == ["after.outage@example.test"]
    # Logged, but rate-limited: a line or two per thread, not one per poll.
    outage_lines = [line for line in log.splitlines() if "unavailable" in line]
    assert 1 <= len(outage_lines) <= 30, log[-3000:]
    assert "Traceback" not in log, log[-3000:]
