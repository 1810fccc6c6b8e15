"""The `rapport` command, run as a real process with its own data folder."""

from __future__ import annotations

import http.cookiejar
import os
import re
import secrets
import shutil
import sqlite3
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

from rapport.home.demo import demo_logins
from tests.mail import free_port

RAPPORT = str(Path(sys.executable).with_name("rapport"))
STRONG_PASSWORD = "orchid lantern quietly 47 rivers"


def _env(data_dir: Path, **extra: str) -> dict[str, str]:
    """A clean environment: no inherited Rapport settings, SQLite in ``data_dir``."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("RAPPORT_")
        and key not in {"DATABASE_URL", "REDIS_URL", "DJANGO_SETTINGS_MODULE"}
    }
    env["RAPPORT_DATA_DIR"] = str(data_dir)
    env.update(extra)
    return env


def _rapport(
    env: dict[str, str], *args: str, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [RAPPORT, *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
        stdin=subprocess.DEVNULL,
    )


def _ok(done: subprocess.CompletedProcess[str]) -> subprocess.CompletedProcess[str]:
    assert done.returncode == 0, f"{done.args}: {done.stdout}\n{done.stderr}"
    return done


@pytest.fixture(scope="module")
def migrated_sqlite(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An SQLite database migrated once by ``rapport manage migrate``: tests copy it into their
    own data folder (migrating takes seconds, and these tests are about other commands)."""
    data_dir = tmp_path_factory.mktemp("migrated")
    _ok(_rapport(_env(data_dir), "manage", "migrate", "--no-input", "-v0"))
    return data_dir / "rapport.sqlite3"


# --- Help ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("command", "expected"),
    [
        ((), "self-hostable virtual therapy platform"),
        (("demo",), "seed a demo practice"),
        (("serve",), "refuses to start without RAPPORT_SECRET_KEY"),
        (("worker",), "Run queued tasks"),
        (("createadmin",), "Create a practice admin"),
        (("check",), "Check secrets and keys"),
        (("audit",), "Audit trail tools"),
        (("audit", "verify"), "hash chain"),
        (("keys",), "Key tools"),
        (("keys", "rotate"), "Re-encrypt every encrypted value"),
        (("keys", "generate"), "new random 256-bit key"),
        (("retention",), "Nothing is erased unless --apply"),
        (("backup",), "pg_dump"),
    ],
)
def test_help_describes_every_command(
    tmp_path: Path, command: tuple[str, ...], expected: str
) -> None:
    done = _ok(_rapport(_env(tmp_path), *command, "--help"))
    text = " ".join(done.stdout.split())
    assert text.startswith(f"usage: rapport {' '.join(command)}".rstrip())
    assert expected in text
    # Help never needs (or creates) a database or secrets.
    assert not (tmp_path / "secret_key").exists()


def test_top_level_help_lists_the_commands(tmp_path: Path) -> None:
    text = _ok(_rapport(_env(tmp_path), "--help")).stdout
    commands = ("demo", "serve", "worker", "createadmin", "check", "audit", "keys", "retention")
    for name in (*commands, "manage"):
        assert name in text


def test_keys_generate_prints_a_usable_key(tmp_path: Path) -> None:
    from rapport.lib.crypto import KeyRing

    first = _ok(_rapport(_env(tmp_path), "keys", "generate")).stdout.strip()
    second = _ok(_rapport(_env(tmp_path), "keys", "generate")).stdout.strip()
    assert first != second
    ring = KeyRing.from_strings([first])
    assert ring.decrypt(ring.encrypt("x", "c"), "c") == "x"


# --- Production refuses to run without secrets ---------------------------------------------------


@pytest.mark.parametrize("explicit_env", [True, False])
def test_serve_in_production_refuses_to_start_without_secrets(
    tmp_path: Path, explicit_env: bool
) -> None:
    extra = {"RAPPORT_ENV": "production"} if explicit_env else {}
    done = _rapport(_env(tmp_path, **extra), "serve", "--port", "8799")
    assert done.returncode != 0
    assert (
        "production refuses to start without RAPPORT_SECRET_KEY and RAPPORT_ENCRYPTION_KEYS"
        in done.stderr
    )
    assert "Traceback" not in done.stderr
    assert not (tmp_path / "secret_key").exists()
    assert not (tmp_path / "encryption_key").exists()


def test_serve_names_only_the_missing_secret(tmp_path: Path) -> None:
    env = _env(tmp_path, RAPPORT_ENV="production", RAPPORT_SECRET_KEY="s" * 64)
    done = _rapport(env, "serve", "--port", "8799")
    assert done.returncode != 0
    assert "production refuses to start without RAPPORT_ENCRYPTION_KEYS (" in done.stderr


# --- rapport check


def test_check_in_demo_mode_lists_its_problems(migrated_sqlite: Path, tmp_path: Path) -> None:
    env = _env(tmp_path)
    shutil.copy(migrated_sqlite, tmp_path)
    done = _rapport(env, "check")
    assert done.returncode == 1
    assert "Rapport is not ready for production" in done.stderr
    assert "RAPPORT_ENV is 'demo'" in done.stderr
    assert "RAPPORT_HTTPS is off" in done.stderr
    assert "RAPPORT_ALLOWED_HOSTS names no public host name" in done.stderr
    assert "RAPPORT_EMAIL_HOST is not set" in done.stderr
    assert "unapplied migration" not in done.stderr
    assert "All checks passed" not in done.stdout


@pytest.fixture(scope="module")
def production_env(
    migrated_sqlite: Path, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, str]:
    """A production-like configuration with a migrated SQLite database."""
    data_dir = tmp_path_factory.mktemp("production")
    shutil.copy(migrated_sqlite, data_dir)
    # The key the database was migrated with (its key canary): demo mode wrote it beside it.
    key = (migrated_sqlite.parent / "encryption_key").read_text().strip()
    env = _env(
        data_dir,
        RAPPORT_ENV="production",
        RAPPORT_SECRET_KEY=secrets.token_urlsafe(48)[:64],
        RAPPORT_ENCRYPTION_KEYS=key,
        RAPPORT_HTTPS="true",
        RAPPORT_ALLOWED_HOSTS="therapy.example.org",
        RAPPORT_SITE_URL="https://therapy.example.org",
        RAPPORT_AUDIT_KEY=secrets.token_urlsafe(32),
        RAPPORT_EMAIL_HOST="127.0.0.1",
    )
    assert len(env["RAPPORT_SECRET_KEY"]) == 64
    # A practice needs an active admin: safety alerts escalate to them.
    admin_env = {**env, "RAPPORT_ADMIN_PASSWORD": STRONG_PASSWORD}
    _ok(_rapport(admin_env, "createadmin", "--email", "owner@example.org", "--name", "Olive"))
    return env


def test_check_passes_for_a_production_configuration(production_env: dict[str, str]) -> None:
    done = _ok(_rapport(production_env, "check"))
    assert "All checks passed" in done.stdout
    assert done.stderr.strip() == ""


def test_check_fails_with_keys_that_are_not_the_datas(
    production_env: dict[str, str], tmp_path: Path
) -> None:
    """A restore with the wrong key: the canary written at migrate time does not decrypt."""
    data_dir = Path(production_env["RAPPORT_DATA_DIR"])
    shutil.copy(data_dir / "rapport.sqlite3", tmp_path)
    other_key = _ok(_rapport(_env(tmp_path), "keys", "generate")).stdout.strip()
    env = {
        **production_env,
        "RAPPORT_DATA_DIR": str(tmp_path),
        "RAPPORT_ENCRYPTION_KEYS": other_key,
    }
    done = _rapport(env, "check")
    assert done.returncode == 1
    assert "cannot decrypt the key canary" in done.stderr
    assert "1 problem(s) found" in done.stderr
    assert "Traceback" not in done.stderr

    # The right key after the wrong one: readable again; rotated to the new key, the old one
    # can go and the canary still proves the ring.
    both = {
        **env,
        "RAPPORT_ENCRYPTION_KEYS": f"{other_key},{production_env['RAPPORT_ENCRYPTION_KEYS']}",
    }
    assert "All checks passed" in _ok(_rapport(both, "check")).stdout
    _ok(_rapport(both, "keys", "rotate"))
    assert "All checks passed" in _ok(_rapport(env, "check")).stdout
    old_only = {**env, "RAPPORT_ENCRYPTION_KEYS": production_env["RAPPORT_ENCRYPTION_KEYS"]}
    assert "cannot decrypt the key canary" in _rapport(old_only, "check").stderr


def test_a_short_metrics_token_is_refused(tmp_path: Path) -> None:
    done = _rapport(_env(tmp_path, RAPPORT_METRICS_TOKEN="too-short"), "check")
    assert done.returncode != 0
    assert "RAPPORT_METRICS_TOKEN must be at least 32 characters" in done.stderr
    assert "Traceback" not in done.stderr


def test_check_reports_unreachable_redis(production_env: dict[str, str]) -> None:
    env = {**production_env, "REDIS_URL": "redis://127.0.0.1:1/0"}
    done = _rapport(env, "check")
    assert done.returncode == 1
    assert "Redis unreachable" in done.stderr
    assert "1 problem(s) found" in done.stderr


def test_check_reports_unapplied_migrations(production_env: dict[str, str], tmp_path: Path) -> None:
    env = {**production_env, "RAPPORT_DATA_DIR": str(tmp_path)}
    done = _rapport(env, "check")
    assert done.returncode == 1
    assert "unapplied migration(s): run 'rapport manage migrate'" in done.stderr


def test_check_fails_without_an_active_admin(
    production_env: dict[str, str], tmp_path: Path
) -> None:
    shutil.copy(Path(production_env["RAPPORT_DATA_DIR"]) / "rapport.sqlite3", tmp_path)
    with sqlite3.connect(tmp_path / "rapport.sqlite3") as db:
        db.execute("UPDATE accounts_user SET is_active = 0 WHERE role = 'admin'")
    db.close()
    done = _rapport({**production_env, "RAPPORT_DATA_DIR": str(tmp_path)}, "check")
    assert done.returncode == 1
    assert "The practice has no active admin" in done.stderr
    assert "1 problem(s) found" in done.stderr


def test_check_reports_weak_settings(production_env: dict[str, str]) -> None:
    env = {
        **production_env,
        "RAPPORT_SECRET_KEY": "too-short",
        "RAPPORT_ENCRYPTION_KEYS": f"{production_env['RAPPORT_ENCRYPTION_KEYS']},"
        f"{production_env['RAPPORT_ENCRYPTION_KEYS']}",
        "RAPPORT_HSTS_SECONDS": "60",
        "RAPPORT_DEBUG": "true",
    }
    done = _rapport(env, "check")
    assert done.returncode == 1
    for problem in (
        "shorter than 50 characters",
        "lists the same key twice",
        "under 180 days",
        "RAPPORT_DEBUG is on",
    ):
        assert problem in done.stderr


# --- rapport createadmin


def test_retention_is_a_dry_run_by_default(migrated_sqlite: Path, tmp_path: Path) -> None:
    shutil.copy(migrated_sqlite, tmp_path)
    done = _ok(_rapport(_env(tmp_path), "retention"))
    assert "Retention: 7 years after the last contact; 0 record(s) kept past it." in done.stdout
    assert "Dry run: nothing erased" in done.stdout
    applied = _ok(_rapport(_env(tmp_path), "retention", "--apply"))
    assert "0 erasure(s) whose hold has passed." in applied.stdout
    assert "Dry run" not in applied.stdout


def test_createadmin(migrated_sqlite: Path, tmp_path: Path) -> None:
    env = _env(tmp_path)
    shutil.copy(migrated_sqlite, tmp_path)

    created = _ok(
        _rapport(
            {**env, "RAPPORT_ADMIN_PASSWORD": STRONG_PASSWORD},
            "createadmin",
            "--email",
            "Owner@Practice.example",
            "--name",
            "Olive Owner",
        )
    )
    assert "Created admin owner@practice.example" in created.stdout

    with sqlite3.connect(tmp_path / "rapport.sqlite3") as db:
        users = db.execute(
            "SELECT id, email, role, full_name, password FROM accounts_user"
        ).fetchall()
        assert len(users) == 1
        user_id, email, role, full_name, password_hash = users[0]
        assert (email, role, full_name) == ("owner@practice.example", "admin", "Olive Owner")
        assert password_hash.startswith("argon2$")
        assert STRONG_PASSWORD not in password_hash
        addresses = db.execute(
            'SELECT email, verified, "primary" FROM account_emailaddress WHERE user_id = ?',
            (user_id,),
        ).fetchall()
        assert addresses == [("owner@practice.example", 1, 1)]
        created_events = db.execute(
            "SELECT actor_label FROM audit_auditevent WHERE action = 'account.created'"
        ).fetchall()
        assert created_events == [("rapport createadmin",)]
    db.close()

    weak = _rapport(
        {**env, "RAPPORT_ADMIN_PASSWORD": "password"},
        "createadmin",
        "--email",
        "second@practice.example",
        "--name",
        "Sam Second",
    )
    assert weak.returncode == 1
    assert "rapport createadmin: This password is too short" in weak.stderr
    assert "too common" in weak.stderr
    assert "Traceback" not in weak.stderr

    duplicate = _rapport(
        {**env, "RAPPORT_ADMIN_PASSWORD": STRONG_PASSWORD},
        "createadmin",
        "--email",
        "OWNER@practice.example",
        "--name",
        "Olive Again",
    )
    assert duplicate.returncode == 1
    assert "already exists" in duplicate.stderr
    assert "Traceback" not in duplicate.stderr

    invalid = _rapport(
        {**env, "RAPPORT_ADMIN_PASSWORD": STRONG_PASSWORD},
        "createadmin",
        "--email",
        "not-an-address",
        "--name",
        "Nobody",
    )
    assert invalid.returncode == 1
    assert "is not a valid email address" in invalid.stderr

    with sqlite3.connect(tmp_path / "rapport.sqlite3") as db:
        assert db.execute("SELECT count(*) FROM accounts_user").fetchone() == (1,)
    db.close()


# --- rapport demo --------------------------------------------------------------------------------


class _Browser:
    """Just enough of a browser for the demo server: cookies and the CSRF token of each form."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar())
        )

    def get(self, path: str) -> str:
        with self.opener.open(self.base + path, timeout=30) as response:
            return str(response.read().decode())

    def submit(self, path: str, fields: dict[str, str]) -> str:
        """Open the form at ``path`` and post ``fields`` to it, with its CSRF token."""
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', self.get(path))
        assert token is not None, path
        body = urllib.parse.urlencode({"csrfmiddlewaretoken": token.group(1), **fields})
        request = urllib.request.Request(  # noqa: S310 (http://localhost, built here)
            self.base + path, data=body.encode(), headers={"Referer": self.base + path}
        )
        with self.opener.open(request, timeout=30) as response:
            return str(response.read().decode())


def _wait_for(url: str, demo: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        assert demo.poll() is None, "the demo stopped"
        try:
            with urllib.request.urlopen(url, timeout=2):  # noqa: S310 (http://localhost)
                return
        except OSError:
            time.sleep(0.5)
    raise AssertionError(f"the demo did not answer at {url}")


def test_demo_links_follow_its_port(tmp_path: Path) -> None:
    """Links in emails and the calendar address name the port the demo runs on."""
    port = free_port()
    demo = subprocess.Popen(
        [RAPPORT, "demo", "--port", str(port)],
        env=_env(tmp_path),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        base = f"http://localhost:{port}"
        _wait_for(base + "/accounts/login/", demo)
        browser = _Browser(base)
        [(_role, email, password)] = [row for row in demo_logins() if row[0] == "Client"]
        browser.submit("/accounts/login/", {"login": email, "password": password})
        page = browser.submit("/settings/calendar/", {"action": "regenerate"})
        assert f'value="http://localhost:{port}/calendar/' in page
    finally:
        demo.terminate()
        demo.wait(timeout=30)
    # Stopped by SIGTERM (systemd, docker stop), the demo stops its worker too.
    assert not _processes_with(f"RAPPORT_DATA_DIR={tmp_path}"), "the demo's worker was left running"


def _processes_with(variable: str) -> list[int]:
    """Processes of this user whose environment holds ``variable`` (``NAME=value``)."""
    found = []
    for environ in Path("/proc").glob("[0-9]*/environ"):
        try:
            if variable.encode() in environ.read_bytes().split(b"\0"):
                found.append(int(environ.parent.name))
        except OSError:  # gone, or another user's
            continue
    return found


@pytest.mark.parametrize(
    ("host", "environ", "expected"),
    [
        ("127.0.0.1", {}, "http://localhost:8300"),
        ("0.0.0.0", {}, "http://localhost:8300"),  # noqa: S104
        ("192.0.2.7", {}, "http://192.0.2.7:8300"),
        ("::1", {}, "http://[::1]:8300"),
        ("127.0.0.1", {"RAPPORT_SITE_URL": "https://demo.example.org"}, None),
    ],
)
def test_the_demo_site_url_is_its_address_unless_set(
    host: str, environ: dict[str, str], expected: str | None
) -> None:
    from rapport.cli import demo_site_url

    assert demo_site_url(host, 8300, environ) == expected
