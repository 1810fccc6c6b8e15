"""``rapport backup``: one folder per backup with the database, the attachments and a manifest.

The database is copied while Rapport runs: SQLite through its online backup API (never a file
copy of a database in WAL mode), PostgreSQL with ``pg_dump --format=custom``. The attachments
folder goes into a tar file beside it. The manifest names the ids of the encryption keys the data
needs (``enc1$<key id>$...``: an id is a hash, never the key), so whoever restores can see that
their copy of the keys is the right one before ``rapport check`` proves it on the key canary.
The keys themselves are never written here: a backup and its keys are kept apart.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import tarfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import connection

from rapport.core.encryption import key_ring
from rapport.core.models import KeyCanary
from rapport.lib.config import private_folder
from rapport.lib.crypto import KeyRing, key_id

PREFIX = "rapport-"


class BackupError(RuntimeError):
    """The backup could not be completed; nothing partial is left behind."""


def make_backup(target: Path, *, keep: int = 0) -> Path:
    """A new backup folder in ``target``; with ``keep``, only that many newest backups stay."""
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    folder = private_folder(target) / f"{PREFIX}{stamp}"
    partial = folder.with_name(folder.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    private_folder(partial)
    try:
        database = _copy_database(partial)
        attachments = _copy_attachments(partial)
        manifest = {
            "made_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "database": {"vendor": connection.vendor, "file": database},
            "attachments": attachments,
            "encryption_key_ids": [key_id(key) for key in key_ring().keys],
            "canary_key_id": _canary_key_id(),
        }
        (partial / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
        partial.rename(folder)
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    if keep:
        _prune(target, keep)
    return folder


def _copy_database(folder: Path) -> str:
    if connection.vendor == "sqlite":
        name = "database.sqlite3"
        # A connection of its own: committed data only, read beside the running server (WAL).
        source = sqlite3.connect(connection.settings_dict["NAME"], timeout=20)
        destination = sqlite3.connect(folder / name)
        try:
            source.backup(destination)
        finally:
            destination.close()
            source.close()
        return name
    name = "database.dump"
    params = connection.settings_dict
    env = {
        **os.environ,
        "PGHOST": str(params["HOST"] or ""),
        "PGPORT": str(params["PORT"] or ""),
        "PGUSER": str(params["USER"] or ""),
        "PGPASSWORD": str(params["PASSWORD"] or ""),
        "PGDATABASE": str(params["NAME"]),
    }
    if "sslmode" in params.get("OPTIONS", {}):
        env["PGSSLMODE"] = str(params["OPTIONS"]["sslmode"])
    done = subprocess.run(  # noqa: S603 (fixed arguments, no shell)
        ["pg_dump", "--format=custom", "--file", str(folder / name)],  # noqa: S607
        env={key: value for key, value in env.items() if value},
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise BackupError(f"pg_dump failed: {done.stderr.strip()}")
    return name


def _copy_attachments(folder: Path) -> dict[str, Any]:
    source = Path(settings.RAPPORT_ATTACHMENTS_DIR)
    files = [path for path in source.rglob("*") if path.is_file()] if source.is_dir() else []
    with tarfile.open(folder / "attachments.tar", "w") as archive:
        for path in files:
            archive.add(path, arcname=str(path.relative_to(source)))
    return {"file": "attachments.tar", "count": len(files)}


def _canary_key_id() -> str | None:
    """The id of the key that wrote the canary, read from its stored token."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT value FROM {KeyCanary._meta.db_table} WHERE id = 1"  # noqa: S608 (a model's table)
        )
        row = cursor.fetchone()
    return KeyRing.key_id_of(row[0]) if row else None


def _prune(target: Path, keep: int) -> None:
    backups = sorted(path for path in target.glob(f"{PREFIX}*") if path.suffix != ".partial")
    for old in backups[:-keep]:
        shutil.rmtree(old)
