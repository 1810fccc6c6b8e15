"""A PostgreSQL server of a test's own, on a free port in a temporary folder, which the test may
stop and start (never the shared one on 5432).

``initdb`` refuses to run as root: as root, the server runs as the ``postgres`` system account
(``runuser``); otherwise as the current user.
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

import pytest

from tests.mail import free_port

IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def postgres_bin() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), reverse=True)
    preferred = [path for path in found if "/15/" in path]
    return Path((preferred or found)[0]).parent if found else None


class OwnPostgres:
    def __init__(self, bin_dir: Path, folder: Path, port: int) -> None:
        self.bin_dir, self.folder, self.port = bin_dir, folder, port
        self.data = folder / "data"
        self.as_root = os.geteuid() == 0

    @property
    def url(self) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/rapport"

    def _run(self, *argv: str) -> None:
        command = [str(self.bin_dir / argv[0]), *argv[1:]]
        if self.as_root:
            command = ["runuser", "-u", "postgres", "--", *command]
        done = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
        assert done.returncode == 0, f"{argv[0]} failed: {done.stdout}\n{done.stderr}"

    def init(self) -> None:
        self._run("initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust", "-E", "UTF8")

    def start(self) -> None:
        options = f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._run(
            "pg_ctl", "-D", str(self.data), "-o", options, "-l", str(self.folder / "log"), "-w",
            "start",
        )  # fmt: skip

    def stop(self) -> None:
        self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop")

    def create_database(self) -> None:
        self._run("createdb", "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", "rapport")


@contextmanager
def own_postgres() -> Iterator[OwnPostgres]:
    """A fresh server with an empty ``rapport`` database, removed afterwards."""
    bin_dir = postgres_bin()
    if bin_dir is None:
        message = "PostgreSQL server binaries (initdb, pg_ctl) are not installed"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    folder = Path(tempfile.mkdtemp(prefix="rapport-own-pg-"))
    server = OwnPostgres(bin_dir, folder, free_port())
    if server.as_root:
        shutil.chown(folder, "postgres", "postgres")
    try:
        server.init()
        server.start()
        server.create_database()
        yield server
    finally:
        if (server.data / "postmaster.pid").exists():
            with suppress(AssertionError):
                server.stop()
        shutil.rmtree(folder, ignore_errors=True)
