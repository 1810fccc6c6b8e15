"""The server's write-ahead-log checkpoints (rapport.core.sqlite), on real SQLite files."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import pytest
from django.db import connection, connections

from rapport.core import sqlite as checkpoints


def _database(path: Path) -> None:
    with sqlite3.connect(path) as setup:
        setup.execute("PRAGMA journal_mode=WAL")
        setup.execute("CREATE TABLE note (id INTEGER PRIMARY KEY, body TEXT NOT NULL)")
    setup.close()


def test_a_busy_log_is_copied_back_and_starts_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A writer that never checkpoints (as the server's connections) commits without a pause
    while checkpoints run beside it; the log is copied back and restarts, so it stays small."""
    monkeypatch.setattr(checkpoints, "RESTART_PAGES", 200)
    path = tmp_path / "busy.sqlite3"
    _database(path)
    stop = threading.Event()
    commits = 0

    def writer() -> None:
        nonlocal commits
        db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        db.execute("PRAGMA synchronous=NORMAL")
        db.execute("PRAGMA wal_autocheckpoint=0")
        while not stop.is_set():
            with checkpoints.write_turn:  # as the consumers' database thread does
                db.execute("BEGIN IMMEDIATE")
                db.execute("INSERT INTO note (body) VALUES (?)", ("x" * 3000,))
                db.execute("COMMIT")
            commits += 1
            stop.wait(0.0005)  # a steady stream, as from many sockets, not one tight loop
        db.close()

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        logs = []
        while commits < 2000:
            result = checkpoints.checkpoint_once(str(path))
            assert result is not None
            logs.append(result[0])
            stop.wait(0.02)
    finally:
        stop.set()
        thread.join()
    # Each commit writes at least one page: without restarts the log would hold 2,000 or more.
    assert max(logs) < 1000, logs
    with sqlite3.connect(path) as check:
        assert check.execute("SELECT count(*) FROM note").fetchone()[0] == commits
    check.close()


def test_a_missing_database_is_not_created(tmp_path: Path) -> None:
    path = tmp_path / "absent.sqlite3"
    assert checkpoints.checkpoint_once(str(path)) is None
    assert not path.exists()


@pytest.mark.django_db
def test_server_connections_leave_checkpoints_to_the_thread() -> None:
    checkpoints.start_checkpointer()  # what rapport.asgi does; starting twice is harmless
    checkpoints.start_checkpointer()
    running = [t for t in threading.enumerate() if t.name == "rapport-sqlite-checkpoint"]
    if connection.vendor != "sqlite":
        assert running == []  # PostgreSQL: no log of ours to checkpoint, no thread
        return
    assert len(running) == 1
    fresh = connections.create_connection("default")
    try:
        with fresh.cursor() as cursor:
            cursor.execute("PRAGMA wal_autocheckpoint")
            assert cursor.fetchone()[0] == 0
    finally:
        fresh.close()
