"""SQLite's write-ahead log, checkpointed beside the request path instead of inside it.

By default SQLite copies the write-ahead log back into the database file ("checkpoints") inside
whichever commit pushes the log past 1,000 pages, and that commit waits for the copy and its
``fsync``. Under a few hundred messages a second that was several times a second, and it was most
of the slowest messages' delay (``bench/message_delivery.py``).

In the server process the connections therefore never checkpoint (``wal_autocheckpoint=0``).
A background thread with its own connection checkpoints twice a second in PASSIVE mode, which
never blocks a writer or a reader (SQLite releases the GIL while it works, so the event loop goes
on). A passive checkpoint that runs while commits arrive never catches the log's very end, and
SQLite starts the log from the beginning again only after a checkpoint caught all of it; so when
the log has grown past ``RESTART_PAGES``, the thread runs one more short pass while the
consumers' database thread waits (``write_turn``, held around each of its calls), and the next
commit starts the log afresh. Without that the log file would grow for as long as the load lasts.

Other processes (the task worker, management commands) keep SQLite's default: a database used
without the server still has its log checkpointed.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from typing import Any

from django.conf import settings
from django.db.backends.signals import connection_created

log = logging.getLogger(__name__)

CHECKPOINT_EVERY_SECONDS = 0.5
RESTART_PAGES = 4000  # 16 MB of log with 4 KB pages

# Held by the consumers' database thread around each call (rapport.core.db), and by the
# checkpointer for its short final pass.
write_turn = threading.Lock()

_started = False
_start_lock = threading.Lock()


def _database_path() -> str | None:
    database = settings.DATABASES["default"]
    if database["ENGINE"] != "django.db.backends.sqlite3":
        return None
    return str(database["NAME"])  # read each time: the test runner renames the database


def _no_autocheckpoint(sender: Any, connection: Any, **kwargs: Any) -> None:
    if connection.vendor == "sqlite":
        with connection.cursor() as cursor:
            cursor.execute("PRAGMA wal_autocheckpoint=0")


def _passive(connection: sqlite3.Connection) -> tuple[int, int]:
    # fetchall: a statement left unfinished would hold a read lock and stop the log's restart.
    _, pages, copied = connection.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()[0]
    return int(pages), int(copied)


def checkpoint_once(path: str) -> tuple[int, int] | None:
    """Checkpoint the log of the database at ``path``: (pages in the log, pages copied) of the
    last pass, or None when there is no such database."""
    try:
        # mode=rw: never create a database that is not there (yet, or any more).
        connection = sqlite3.connect(f"file:{path}?mode=rw", uri=True, timeout=1)
    except sqlite3.Error:
        return None
    try:
        connection.execute("PRAGMA synchronous=NORMAL")
        pages, copied = _passive(connection)
        if pages >= RESTART_PAGES:
            with write_turn:
                pages, copied = _passive(connection)
        return pages, copied
    except sqlite3.Error as error:
        log.debug("checkpoint skipped: %s", error)
        return None
    finally:
        connection.close()


def _checkpoint_forever() -> None:
    while True:
        time.sleep(CHECKPOINT_EVERY_SECONDS)
        path = _database_path()
        try:
            if path is not None:
                checkpoint_once(path)
        except Exception:  # never let the thread die: the log would grow without end
            log.exception("write-ahead log checkpoint failed")


def start_checkpointer() -> None:
    """In the server process (SQLite only): checkpoint in the background, not in commits.

    Call before the first database connection of the process."""
    global _started
    if _database_path() is None:
        return
    with _start_lock:
        if _started:
            return
        _started = True
    connection_created.connect(_no_autocheckpoint, dispatch_uid="rapport-no-autocheckpoint")
    threading.Thread(
        target=_checkpoint_forever, name="rapport-sqlite-checkpoint", daemon=True
    ).start()
