"""The ``rapport`` command: run the demo, the server, the worker, and operator tasks."""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Mapping, Sequence
from typing import Any

from rapport.lib.config import PRIVATE_UMASK, ConfigError, env_int, private_folder
from rapport.lib.crypto import DecryptionError, generate_key
from rapport.lib.vapid import generate_vapid_key

DESCRIPTION = "Rapport: a self-hostable virtual therapy platform."
# OWASP WebSocket guidance: no per-message compression; refuse huge frames before they are read
# (the consumer answers anything over 64 KB with an error; far larger frames close the socket).
WEBSOCKET_LIMITS: dict[str, Any] = {"ws_max_size": 128 * 1024, "ws_per_message_deflate": False}


def _setup(default_env: str | None = None) -> None:
    if default_env is not None:
        os.environ.setdefault("RAPPORT_ENV", default_env)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "rapport.settings")
    try:
        import django

        django.setup()
    except ConfigError as exc:
        sys.exit(f"rapport: configuration error: {exc}")


def _manage(*argv: str, **options: Any) -> None:
    from django.core.management import call_command

    call_command(*argv, **options)


def _without_sockets() -> None:
    """This process serves no sockets: its live events reach the server's (docs/architecture.md,
    "The layers")."""
    # Models load once Django is set up for this command's environment.
    from rapport.core import realtime

    realtime.deliver_through_database()


def _run_management(argv: Sequence[str]) -> int:
    from django.core.management import execute_from_command_line

    _without_sockets()

    execute_from_command_line(["rapport manage", *argv])
    return 0


def _uvicorn_log_config() -> dict[str, Any]:
    """uvicorn's own logging, with invitation and reset tokens redacted from access lines, and
    its errors collapsed like the application's: during a Redis outage every socket that tries
    to reconnect fails in uvicorn's hands ("Exception in ASGI application")."""
    import copy

    from uvicorn.config import LOGGING_CONFIG

    config: dict[str, Any] = copy.deepcopy(LOGGING_CONFIG)
    config.setdefault("filters", {}).update(
        redact={"()": "rapport.lib.redact.RedactSecrets"},
        repeats={
            "()": "rapport.lib.logs.CollapseRepeats",
            "seconds": env_int("RAPPORT_LOG_REPEAT_SECONDS", 60),
        },
    )
    for handler in config["handlers"].values():
        handler.setdefault("filters", []).extend(["repeats", "redact"])
    return config


def listen_url(host: str, port: int) -> str:
    """The address a browser on this machine opens for a server on ``host``:``port``."""
    # "localhost", not the IP: browsers refuse passkeys (WebAuthn) on an IP address.
    if host in {"127.0.0.1", "0.0.0.0", "::", ""}:  # noqa: S104 (compared, not bound)
        host = "localhost"
    elif ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{port}"


def demo_site_url(host: str, port: int, environ: Mapping[str, str]) -> str | None:
    """The address the demo's emails and calendar links name: where it listens, unless
    ``RAPPORT_SITE_URL`` says otherwise (None then: the setting stands)."""
    if environ.get("RAPPORT_SITE_URL"):
        return None
    return listen_url(host, port)


def cmd_demo(args: argparse.Namespace) -> int:
    os.environ["RAPPORT_ENV"] = "demo"
    site_url = demo_site_url(args.host, args.port, os.environ)
    if site_url is not None:
        # Read by the settings of this process and of the worker it starts.
        os.environ["RAPPORT_SITE_URL"] = site_url
    _setup()
    from django.conf import settings

    # Models load once Django is set up for this command's environment (above).
    from rapport.home.demo import demo_logins, seed_demo

    print(f"Data folder: {settings.DATA_DIR}")
    _manage("migrate", "--no-input", verbosity=0)
    _manage("createcachetable", verbosity=0)
    created = seed_demo()
    print("Demo practice created." if created else "Demo practice found; keeping its data.")
    worker = subprocess.Popen(
        [sys.executable, "-m", "rapport.cli", "worker"], env=os.environ.copy()
    )
    url = listen_url(args.host, args.port) + "/"
    print("\n  Rapport demo is running at " + url)
    print("  Sign in with:")
    for role, email, password in demo_logins():
        print(f"    {role:<15} {email:<32} {password}")
    print("  Therapists and admins set up two-factor authentication at first sign-in.")
    print(
        "  Billing: Jordan Chen's invoices, payment, statement and superbills are on their"
        " billing page; one session line waits on the therapist's Billing page."
    )
    print("  Emails (invitations) are printed in this terminal. Press Ctrl+C to stop.\n")
    # uvicorn raises the signal that stopped it again once it has shut down; with SIGTERM's
    # default action that would end this process before it stops the worker (left running).
    signal.signal(signal.SIGTERM, _exit_on_signal)
    try:
        import uvicorn

        uvicorn.run(
            "rapport.asgi:application",
            host=args.host,
            port=args.port,
            log_level="info",
            log_config=_uvicorn_log_config(),
            **WEBSOCKET_LIMITS,
            lifespan="off",
        )
    finally:
        worker.send_signal(signal.SIGTERM)
        try:
            worker.wait(timeout=10)
        except subprocess.TimeoutExpired:
            worker.kill()
    return 0


def _exit_on_signal(signum: int, _frame: object) -> None:
    raise SystemExit(128 + signum)


def _share_metrics_between_processes() -> None:
    """Give every server process one folder of metric files (``rapport.core.metrics``), emptied
    now: set before anything imports prometheus_client, which reads it at import."""
    from django.conf import settings

    if "prometheus_client" in sys.modules:
        raise RuntimeError("prometheus_client was imported before its multiprocess folder was set")
    folder = private_folder(settings.RAPPORT_METRICS_DIR)
    for stale in folder.glob("*.db"):
        stale.unlink()
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(folder)


def cmd_serve(args: argparse.Namespace) -> int:
    _setup("production")
    _share_metrics_between_processes()
    config: dict[str, Any] = {
        "app": "rapport.asgi:application",
        "host": args.host,
        "port": args.port,
        "proxy_headers": True,
        "forwarded_allow_ips": args.forwarded_allow_ips,
        "log_level": "info",
        "log_config": _uvicorn_log_config(),
        **WEBSOCKET_LIMITS,
        "server_header": False,
        "lifespan": "off",
    }
    if args.workers > 1:
        # Each connection handed to the least busy process (see the module).
        from rapport.lib.server_processes import serve

        return serve(config, args.workers)
    import uvicorn

    uvicorn.run(**config)
    return 0


def worker_sweeps() -> list[tuple[str, Any]]:
    """What the worker does every interval besides tasks: email the people whose unread-message
    delay is over (the send path queues no task for them, see ``rapport.messaging.notifications``),
    tell therapists of risk answers left unsent past the practice's limit
    (``rapport.measures.unsent``), pass on offers of a client left unanswered past the practice's
    limit and match the waitlist again once a day (``rapport.matching.services``), remind a minor's
    guardian once of an unanswered consent (``rapport.signup.services``), and send emails due
    again (``rapport.core.outbox``)."""
    # Models load once Django is set up for this command's environment (cmd_worker).
    from rapport.core import outbox
    from rapport.matching.services import expire_overdue, nightly_rematch
    from rapport.measures.unsent import notice_unsent_risk_answers
    from rapport.messaging.notifications import send_due_notices
    from rapport.signup.services import remind_guardians

    return [
        ("unread-message emails", send_due_notices),
        ("unsent risk answer notices", notice_unsent_risk_answers),
        ("unanswered offers of a client", expire_overdue),
        ("waitlist matched again daily", nightly_rematch),
        ("guardians reminded of their consent", remind_guardians),
        ("emails due again", outbox.send_due),
    ]


def _until_database(what: str, work: Any) -> Any:
    """``work()``, waiting out a database that is not there yet (a worker started with, or
    before, its database)."""
    from django.db import close_old_connections

    # Models load once Django is set up for this command's environment (cmd_worker).
    from rapport.core.worker import TRANSIENT, OutageLog, pause_after

    outage = OutageLog(what)
    while True:
        try:
            return work()
        except TRANSIENT as error:
            outage.failed(error)
            close_old_connections()
            time.sleep(pause_after(outage.failures))


def cmd_worker(args: argparse.Namespace) -> int:
    _setup()
    from django.conf import settings

    # Models load once Django is set up for this command's environment (above).
    from rapport.audit.anchor import checkpoint_if_moved
    from rapport.core.worker import TaskWorker, every, start_heartbeat
    from rapport.lib.hashchain import Checkpoint
    from rapport.measures.alerts import escalate_overdue

    _without_sockets()

    # A worker killed while running an escalation leaves that task claimed until its lease runs
    # out: on start, escalate whatever safety alert is past its deadline and still open.
    escalated = _until_database("worker start: database unavailable", escalate_overdue)
    if escalated:
        print(f"rapport worker: escalated {escalated} overdue safety alert(s)", file=sys.stderr)
    stop = threading.Event()
    threads = [start_heartbeat(stop)]
    for what, sweep in worker_sweeps():
        threads.append(
            threading.Thread(target=every, args=(args.interval, stop, what, sweep), name=what)
        )
    # The audit chain's head, checkpointed outside the database when it has moved.
    anchor: dict[str, Checkpoint | None] = {"last": None}

    def checkpoint() -> None:
        anchor["last"] = checkpoint_if_moved(anchor["last"])

    threads.append(
        threading.Thread(
            target=every,
            args=(settings.RAPPORT_AUDIT_ANCHOR_SECONDS, stop, "audit checkpoint", checkpoint),
            name="audit checkpoint",
        )
    )
    for thread in threads[1:]:
        thread.start()
    worker = TaskWorker(interval=args.interval)
    worker.configure_signals()
    try:
        worker.run()
    finally:
        # On SIGTERM too (the loop exits through SystemExit): an email being sent is finished
        # and recorded before the process ends.
        stop.set()
        for thread in threads:
            thread.join()
    return 0


def cmd_tasks(args: argparse.Namespace) -> int:
    _setup()
    # Models load once Django is set up for this command's environment (above).
    from rapport.core.worker import requeue_task
    from rapport.core.worker_health import task_report

    if args.tasks_command == "retry":
        if not requeue_task(args.task_id):
            print(f"rapport tasks retry: no failed or stuck task {args.task_id}", file=sys.stderr)
            return 1
        print(f"Task {args.task_id} queued to run now.")
        return 0
    print(task_report(limit=args.limit))
    return 0


def cmd_createadmin(args: argparse.Namespace) -> int:
    _setup()
    from django.core.management.base import CommandError

    try:
        _manage("createadmin", "--email", args.email, "--name", args.name)
    except CommandError as exc:
        print(f"rapport createadmin: {exc}", file=sys.stderr)
        return 1
    return 0


def cmd_check(args: argparse.Namespace) -> int:
    _setup()
    from django.core.management.base import CommandError

    try:
        _manage("rapport_check")
    except CommandError as exc:
        print(f"rapport check: {exc}", file=sys.stderr)
        return 1
    return 0


def cmd_audit_verify(args: argparse.Namespace) -> int:
    _setup()
    from django.core.management.base import CommandError

    try:
        _manage("audit_verify")
    except CommandError as exc:
        print(f"rapport audit verify: {exc}", file=sys.stderr)
        return 1
    return 0


def cmd_retention(args: argparse.Namespace) -> int:
    _setup()
    _without_sockets()
    _manage("retention_sweep", apply=args.apply)
    return 0


def cmd_backup(args: argparse.Namespace) -> int:
    _setup()
    from django.core.management.base import CommandError

    try:
        _manage("backup", args.target, "--keep", str(args.keep))
    except CommandError as exc:
        print(f"rapport backup: {exc}", file=sys.stderr)
        return 1
    return 0


def cmd_keys_rotate(args: argparse.Namespace) -> int:
    _setup()
    try:
        _manage("rotate_keys")
    except DecryptionError as exc:
        print(f"rapport keys rotate: stopped, a value cannot be decrypted: {exc}", file=sys.stderr)
        return 1
    return 0


def cmd_keys_generate(args: argparse.Namespace) -> int:
    print(generate_key())
    return 0


def cmd_keys_vapid(args: argparse.Namespace) -> int:
    print(generate_vapid_key())
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="rapport", description=DESCRIPTION)
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    demo = commands.add_parser(
        "demo",
        help="set up a demo practice and run server + worker on 127.0.0.1:8000",
        description="Create the database, migrate, seed a demo practice, then run the web server "
        "and the task worker together. Running it again keeps the data.",
    )
    demo.add_argument("--host", default="127.0.0.1")
    demo.add_argument("--port", type=int, default=8000)
    demo.set_defaults(func=cmd_demo)

    serve = commands.add_parser(
        "serve",
        help="run the production web server (uvicorn)",
        description="Serve Rapport over ASGI with uvicorn. Defaults to RAPPORT_ENV=production, "
        "which refuses to start without RAPPORT_SECRET_KEY and RAPPORT_ENCRYPTION_KEYS.",
    )
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--workers", type=int, default=1, help="server processes (default 1)")
    serve.add_argument(
        "--forwarded-allow-ips",
        default="127.0.0.1",
        help="proxies trusted for X-Forwarded-* headers (default 127.0.0.1)",
    )
    serve.set_defaults(func=cmd_serve)

    worker = commands.add_parser(
        "worker",
        help="run the background task worker",
        description="Run queued tasks (emails, reminders) from the database task queue, send "
        "unread-message emails when they are due, and checkpoint the audit trail's head outside "
        "the database (RAPPORT_AUDIT_ANCHOR) every RAPPORT_AUDIT_ANCHOR_SECONDS.",
    )
    worker.add_argument(
        "--interval", type=float, default=1.0, help="seconds between polls and between sweeps"
    )
    worker.set_defaults(func=cmd_worker)

    tasks = commands.add_parser(
        "tasks",
        help="list queued, running, stuck and failed tasks; retry one",
        description="Show the task queue: counts, then the stuck (their worker stopped "
        "beating), running, failed and queued tasks, and emails that failed for good. "
        "'rapport tasks retry ID' queues a failed or stuck task to run now.",
    )
    tasks.add_argument("--limit", type=int, default=20, help="rows per section (default 20)")
    tasks.set_defaults(func=cmd_tasks, tasks_command=None)
    task_commands = tasks.add_subparsers(dest="tasks_command", metavar="ACTION")
    retry = task_commands.add_parser(
        "retry", help="run a failed or stuck task again", description="Queue a task to run now."
    )
    retry.add_argument("task_id", help="the task's id, as listed")

    admin = commands.add_parser(
        "createadmin",
        help="create a practice admin account",
        description="Create a practice admin. The password comes from RAPPORT_ADMIN_PASSWORD or "
        "a prompt; two-factor authentication is set up at first sign-in.",
    )
    admin.add_argument("--email", required=True)
    admin.add_argument("--name", required=True, help="full name")
    admin.set_defaults(func=cmd_createadmin)

    check = commands.add_parser(
        "check",
        help="deployment self-check",
        description="Check secrets and keys, HTTPS settings, database and Redis. Exits 1 and "
        "lists every problem when something is not ready for production.",
    )
    check.set_defaults(func=cmd_check)

    audit = commands.add_parser("audit", help="audit trail tools", description="Audit trail tools.")
    audit_commands = audit.add_subparsers(dest="audit_command", required=True, metavar="ACTION")
    verify = audit_commands.add_parser(
        "verify",
        help="verify the hash chain",
        description="Walk the audit trail's hash chain and compare it with the last checkpoint "
        "in the anchor file (RAPPORT_AUDIT_ANCHOR); exit 1 naming each edited, deleted or "
        "reordered event and a trail cut short. An intact trail's head is checkpointed.",
    )
    verify.set_defaults(func=cmd_audit_verify)

    retention = commands.add_parser(
        "retention",
        help="records past the retention period (a dry run unless --apply)",
        description="List records kept past the practice's retention period and erasures whose "
        "hold has passed, with what each would remove. Nothing is erased unless --apply is "
        "given, and then only erasures an admin asked for whose seven-day hold has passed.",
    )
    retention.add_argument(
        "--apply", action="store_true", help="carry out erasures whose hold has passed"
    )
    retention.set_defaults(func=cmd_retention)
    backup = commands.add_parser(
        "backup",
        help="back up the database and attachments",
        description="Write a new folder in TARGET with the database (SQLite's online backup, or "
        "pg_dump), the message attachments and a manifest naming the ids of the encryption keys "
        "the data needs. The keys themselves are not in it: back them up apart.",
    )
    backup.add_argument("target", help="folder to write the backup into")
    backup.add_argument(
        "--keep", type=int, default=0, help="then keep only the newest N backups (default all)"
    )
    backup.set_defaults(func=cmd_backup)

    keys = commands.add_parser("keys", help="encryption key tools", description="Key tools.")
    key_commands = keys.add_subparsers(dest="keys_command", required=True, metavar="ACTION")
    rotate = key_commands.add_parser(
        "rotate",
        help="re-encrypt all data with the first key",
        description="Re-encrypt every encrypted value with the first key in "
        "RAPPORT_ENCRYPTION_KEYS. Old keys stay usable for reading until you remove them.",
    )
    rotate.set_defaults(func=cmd_keys_rotate)
    generate = key_commands.add_parser(
        "generate", help="print a new random key", description="Print a new random 256-bit key."
    )
    generate.set_defaults(func=cmd_keys_generate)
    vapid = key_commands.add_parser(
        "vapid",
        help="print a new Web Push (VAPID) private key",
        description="Print a new P-256 private key for Web Push, for RAPPORT_VAPID_PRIVATE_KEY. "
        "Changing it ends every push subscription: people turn notices on again.",
    )
    vapid.set_defaults(func=cmd_keys_vapid)

    manage = commands.add_parser(
        "manage",
        help="run a Django management command (migrate, shell, ...)",
        description="Pass the remaining arguments to Django's management commands.",
        add_help=False,
    )
    manage.set_defaults(func=None)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    # Everything this process and its children create (database, WAL, keys, attachments) is
    # private to the account running Rapport, whatever umask it was started with.
    os.umask(PRIVATE_UMASK)
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["manage"]:
        _setup()
        return _run_management(argv[1:])
    args = build_parser().parse_args(argv)
    result: int = args.func(args)
    return result


if __name__ == "__main__":
    sys.exit(main())
