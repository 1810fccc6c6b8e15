import os
import stat
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from rapport.core.canary import key_ring_problems
from rapport.lib.crypto import KeyRing, KeyRingError


def find_problems() -> list[str]:
    """Everything that stops this installation from being safe to run for real clients."""
    problems: list[str] = []
    if settings.DEMO_MODE:
        problems.append(
            "RAPPORT_ENV is 'demo': secrets are generated on disk. Set RAPPORT_ENV=production."
        )
    if len(settings.SECRET_KEY) < 50:
        problems.append("RAPPORT_SECRET_KEY is shorter than 50 characters.")
    try:
        ring = KeyRing.from_strings(list(settings.RAPPORT_ENCRYPTION_KEYS))
    except KeyRingError as exc:
        problems.append(f"RAPPORT_ENCRYPTION_KEYS: {exc}.")
    else:
        if len(set(ring.keys)) != len(ring.keys):
            problems.append("RAPPORT_ENCRYPTION_KEYS lists the same key twice.")
    if not settings.RAPPORT_AUDIT_KEY:
        problems.append(
            "RAPPORT_AUDIT_KEY is not set: the audit chain key is derived from the secret key, so "
            "rotating RAPPORT_SECRET_KEY would make earlier audit events fail verification."
        )
    elif len(settings.RAPPORT_AUDIT_KEY) < 32:
        problems.append("RAPPORT_AUDIT_KEY is shorter than 32 characters.")
    if not settings.HTTPS:
        problems.append("RAPPORT_HTTPS is off: cookies are not marked Secure and HSTS is not sent.")
    elif settings.SECURE_HSTS_SECONDS < 15552000:
        problems.append("RAPPORT_HSTS_SECONDS is under 180 days.")
    if set(settings.ALLOWED_HOSTS) <= {"127.0.0.1", "localhost"}:
        problems.append("RAPPORT_ALLOWED_HOSTS names no public host name.")
    if settings.DEBUG:
        problems.append("RAPPORT_DEBUG is on: error pages would show internals.")
    if not settings.SITE_URL.startswith("https://") or "127.0.0.1" in settings.SITE_URL:
        problems.append(
            f"RAPPORT_SITE_URL is {settings.SITE_URL!r}: links in emails need the public https "
            "address."
        )
    if not settings.RAPPORT_EMAIL_HOST:
        problems.append("RAPPORT_EMAIL_HOST is not set: invitations and reminders cannot be sent.")
    problems += _file_mode_problems()
    database = _database_problems()
    problems += database or [*_app_problems(), *key_ring_problems()]
    if settings.REDIS_URL:
        problems += _redis_problems()
    return problems


def _file_mode_problems() -> list[str]:
    """The data and attachments folders and what is in them, where other accounts may read."""
    problems: list[str] = []
    loose_files: list[str] = []
    for root in dict.fromkeys([Path(settings.DATA_DIR), Path(settings.RAPPORT_ATTACHMENTS_DIR)]):
        if not root.is_dir():
            continue
        for folder, _dirs, files in os.walk(root):
            mode = stat.S_IMODE(os.stat(folder).st_mode)
            if mode & 0o077:
                which = "the data folder" if folder == str(root) else "the folder"
                problems.append(
                    f"{which} {folder} is open to other accounts (mode {mode:04o}): "
                    f"chmod 700 {folder}"
                )
            for name in files:
                path = Path(folder) / name
                mode = stat.S_IMODE(path.lstat().st_mode)
                if mode & 0o077 and not path.is_symlink():
                    loose_files.append(f"{path.relative_to(root)} ({mode:04o})")
    anchor = Path(settings.RAPPORT_AUDIT_ANCHOR)
    if anchor.is_file() and stat.S_IMODE(anchor.stat().st_mode) & 0o077:
        problems.append(f"the audit anchor {anchor} is readable by other accounts: chmod 600 it")
    if loose_files:
        shown = ", ".join(loose_files[:5]) + (", ..." if len(loose_files) > 5 else "")
        problems.append(
            f"{len(loose_files)} file(s) in the data folder are readable by other accounts: "
            f"{shown}: chmod 600 them"
        )
    return problems


def _database_problems() -> list[str]:
    from django.db import connection
    from django.db.migrations.executor import MigrationExecutor
    from django.db.utils import Error

    try:
        connection.ensure_connection()
        executor = MigrationExecutor(connection)
        pending = executor.migration_plan(executor.loader.graph.leaf_nodes())
    except Error as exc:
        return [f"database unreachable ({connection.vendor}): {exc.__class__.__name__}: {exc}"]
    if pending:
        return [
            f"database has {len(pending)} unapplied migration(s): run 'rapport manage migrate'."
        ]
    return []


def _app_problems() -> list[str]:
    """What the apps' own checks find in a reachable, migrated database (the "rapport" tag)."""
    from django.core import checks
    from django.db import DEFAULT_DB_ALIAS

    found = checks.run_checks(
        tags=["rapport"], include_deployment_checks=True, databases=[DEFAULT_DB_ALIAS]
    )
    return [message.msg for message in found if message.is_serious()]


def _redis_problems() -> list[str]:
    import redis

    client = redis.Redis.from_url(settings.REDIS_URL, socket_timeout=5, socket_connect_timeout=5)
    try:
        client.ping()
    except Exception as exc:
        return [f"Redis unreachable at REDIS_URL: {exc.__class__.__name__}: {exc}"]
    finally:
        client.close()
    return []


class Command(BaseCommand):
    help = (
        "Deployment self-check: secrets and keys (the keys decrypt this database's key canary), "
        "HTTPS settings, database and Redis reachable, an active practice admin. "
        "Exits non-zero and lists every problem found."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        problems = find_problems()
        if not problems:
            self.stdout.write("All checks passed.")
            return
        self.stderr.write("Rapport is not ready for production:")
        for problem in problems:
            self.stderr.write(f"  - {problem}")
        raise CommandError(f"{len(problems)} problem(s) found", returncode=1)
