"""The data folder is private to the account that runs Rapport: the folder 0700 and every file in
it 0600 whatever the umask, and ``rapport check`` names anything looser. Real ``rapport``
processes under umask 022, the common default."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

RAPPORT = str(Path(sys.executable).with_name("rapport"))

# Run inside `rapport manage shell` while its database connection is open: a write (so that the
# WAL and shared-memory files exist), then the mode of everything in the data folder.
LIST_MODES = """
import json, os, stat
from django.conf import settings
from rapport.audit.services import record
record("test.event")
modes = {}
for folder, dirs, files in os.walk(settings.DATA_DIR):
    for name in [folder, *(os.path.join(folder, n) for n in files)]:
        modes[os.path.relpath(name, settings.DATA_DIR)] = oct(stat.S_IMODE(os.stat(name).st_mode))
print(json.dumps(modes))
"""


def _env(data_dir: Path) -> dict[str, str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("RAPPORT_")
        and key not in {"DATABASE_URL", "REDIS_URL", "DJANGO_SETTINGS_MODULE"}
    }
    env["RAPPORT_DATA_DIR"] = str(data_dir)
    return env


def _rapport_umask_022(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [RAPPORT, *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
        stdin=subprocess.DEVNULL,
        preexec_fn=lambda: os.umask(0o022),  # a real umask, as a shell sets it
    )


def test_the_data_folder_and_its_files_are_private_under_umask_022(tmp_path: Path) -> None:
    data = tmp_path / "data"
    env = _env(data)
    migrated = _rapport_umask_022(env, "manage", "migrate", "--no-input", "-v0")
    assert migrated.returncode == 0, migrated.stderr
    listed = _rapport_umask_022(env, "manage", "shell", "-c", LIST_MODES)
    assert listed.returncode == 0, listed.stderr
    modes = json.loads(listed.stdout.strip().splitlines()[-1])
    for name in ("rapport.sqlite3", "rapport.sqlite3-wal", "rapport.sqlite3-shm", "secret_key"):
        assert name in modes, modes
    loose = {
        name: mode
        for name, mode in modes.items()
        if mode != ("0o700" if (data / name).is_dir() else "0o600")
    }
    assert not loose, f"readable by other accounts: {loose}"


def test_rapport_check_names_a_loose_data_folder_and_files(tmp_path: Path) -> None:
    data = tmp_path / "data"
    env = _env(data)
    migrated = _rapport_umask_022(env, "manage", "migrate", "--no-input", "-v0")
    assert migrated.returncode == 0, migrated.stderr
    checked = _rapport_umask_022(env, "check")
    assert "readable by other accounts" not in checked.stderr, checked.stderr

    data.chmod(0o755)
    (data / "rapport.sqlite3").chmod(0o644)
    (data / "secret_key").chmod(0o640)
    checked = _rapport_umask_022(env, "check")
    assert checked.returncode == 1
    report = " ".join(checked.stderr.split())
    assert f"the data folder {data} is open to other accounts (mode 0755): chmod 700" in report
    assert "2 file(s) in the data folder are readable by other accounts" in report
    assert "rapport.sqlite3 (0644)" in report and "secret_key (0640)" in report
    assert stat.S_IMODE((data / "rapport.sqlite3").stat().st_mode) == 0o644  # it only reports
