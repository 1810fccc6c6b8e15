"""A throwaway Rapport database for a benchmark: configured, migrated, removed afterwards.

SQLite (no ``$DATABASE_URL``): a fresh file in a temporary data folder (inside
``$RAPPORT_DATA_DIR`` when set). PostgreSQL (``$DATABASE_URL`` set): a database of its own named
after the given one plus a suffix (``rapport`` -> ``rapport_bench_slots``), created here and
dropped afterwards, like the browser tests' server does. Django is set up in this process, so
call this before importing any model.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

from tests.browser.server import drop_database, recreate_database, server_database_url


@contextlib.contextmanager
def own_database(suffix: str) -> Iterator[str]:
    """Set up Django on a new, migrated database; yield its description ("sqlite", "postgresql
    (name)"). ``suffix`` names the PostgreSQL database, e.g. ``_bench_slots``."""
    parent = os.environ.get("RAPPORT_DATA_DIR") or None
    if parent:
        Path(parent).mkdir(parents=True, exist_ok=True)
    given = os.environ.get("DATABASE_URL", "")
    database_url = server_database_url(given, suffix) if given else ""
    with tempfile.TemporaryDirectory(prefix="rapport-bench-", dir=parent) as data_dir:
        os.environ.update(
            RAPPORT_ENV="demo", RAPPORT_DATA_DIR=data_dir, DJANGO_SETTINGS_MODULE="rapport.settings"
        )
        for name in ("REDIS_URL", "RAPPORT_SECRET_KEY", "RAPPORT_ENCRYPTION_KEYS", "RAPPORT_DEBUG"):
            os.environ.pop(name, None)  # the database is all a benchmark needs
        if database_url:
            recreate_database(database_url)
            os.environ["DATABASE_URL"] = database_url
        try:
            import django
            from django.core.management import call_command
            from django.db import connection, connections

            django.setup()
            call_command("migrate", interactive=False, verbosity=0)
            name = connection.settings_dict["NAME"]
            yield f"{connection.vendor} ({name})" if database_url else connection.vendor
            connections.close_all()
        finally:
            if database_url:
                with contextlib.suppress(Exception):
                    drop_database(database_url)
