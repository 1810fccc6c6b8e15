"""``rapport backup``: the database (SQLite's online backup or pg_dump), the attachments and a
manifest of key ids; a restored copy passes ``rapport check`` only with the data's keys."""

from __future__ import annotations

import json
import shutil
import sqlite3
import subprocess
import tarfile
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection

from rapport.core.encryption import key_ring
from rapport.lib.crypto import key_id
from tests.test_cli import _env, _ok, _rapport


def test_backup_holds_the_database_attachments_and_key_ids(
    db: None, settings: Any, tmp_path: Path, capsys: Any
) -> None:
    attachments = tmp_path / "attachments"
    (attachments / "ab").mkdir(parents=True)
    (attachments / "ab" / "file1").write_bytes(b"enc1$sealed")
    settings.RAPPORT_ATTACHMENTS_DIR = attachments
    call_command("backup", str(tmp_path / "backups"))
    (folder,) = (tmp_path / "backups").iterdir()
    assert f"Backup written to {folder}" in capsys.readouterr().out
    assert oct(folder.stat().st_mode & 0o777) == "0o700"
    manifest = json.loads((folder / "manifest.json").read_text())
    ids = [key_id(key) for key in key_ring().keys]
    assert manifest["encryption_key_ids"] == ids and manifest["canary_key_id"] == ids[0]
    for key in settings.RAPPORT_ENCRYPTION_KEYS:  # ids only, never a key
        assert key not in (folder / "manifest.json").read_text()
    with tarfile.open(folder / "attachments.tar") as archive:
        assert archive.getnames() == ["ab/file1"]
    assert manifest["attachments"]["count"] == 1
    database = folder / manifest["database"]["file"]
    if connection.vendor == "sqlite":
        with sqlite3.connect(database) as copy:
            assert copy.execute("SELECT count(*) FROM core_keycanary").fetchone() == (1,)
        copy.close()
    else:
        listing = subprocess.run(
            ["pg_restore", "--list", str(database)], capture_output=True, text=True, check=True
        ).stdout
        assert "TABLE DATA public core_keycanary" in listing


def test_backup_keeps_the_newest(db: None, tmp_path: Path) -> None:
    target = tmp_path / "backups"
    for old in ("rapport-20200101T000000Z", "rapport-20200102T000000Z"):
        (target / old).mkdir(parents=True)
    call_command("backup", str(target), "--keep", "2")
    kept = sorted(path.name for path in target.iterdir())
    assert kept[0] == "rapport-20200102T000000Z" and len(kept) == 2
    with pytest.raises(CommandError, match="--keep"):
        call_command("backup", str(target), "--keep", "-1")


def test_a_restored_sqlite_backup_checks_out_only_with_its_keys(tmp_path: Path) -> None:
    """The operator's whole round: back up, restore into a new data folder, check the keys."""
    live = tmp_path / "live"
    _ok(_rapport(_env(live), "manage", "migrate", "--no-input", "-v0"))
    done = _ok(_rapport(_env(live), "backup", str(tmp_path / "backups")))
    (folder,) = (tmp_path / "backups").iterdir()
    assert str(folder) in done.stdout
    restored = tmp_path / "restored"
    restored.mkdir(mode=0o700)
    shutil.copy(folder / "database.sqlite3", restored / "rapport.sqlite3")
    key = (live / "encryption_key").read_text().strip()
    with_keys = _rapport(_env(restored, RAPPORT_ENCRYPTION_KEYS=key), "check")
    assert "key canary" not in with_keys.stderr, with_keys.stderr
    assert "unapplied migration" not in with_keys.stderr
    manifest = json.loads((folder / "manifest.json").read_text())
    from rapport.lib.crypto import KeyRing

    assert manifest["encryption_key_ids"] == [KeyRing.from_strings([key]).current_id]
    # demo mode would make a new key in the restored folder: the wrong one
    without = _rapport(_env(restored), "check")
    assert "cannot decrypt the key canary" in without.stderr
