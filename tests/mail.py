"""A real SMTP server for tests (aiosmtpd) and the task worker run as in production.

Mail goes through Django's SMTP backend to a server the test starts on a free local port; the
``smtp`` fixture in ``conftest.py`` wires it in as the practice's mailer. ``run_task_worker`` does
one round of ``rapport worker`` (the unread-message sweep, then django-tasks-db's ``db_worker``
until nothing is ready), so deferred tasks run once time (moved with time-machine) has reached
them.
"""

from __future__ import annotations

import email
import email.policy
import logging
import signal
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from email.message import EmailMessage as Mail
from typing import Any


class Inbox:
    """What the SMTP server received, parsed as a mail app would."""

    def __init__(self) -> None:
        self._messages: list[Mail] = []
        self._lock = threading.Lock()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        assert isinstance(message, Mail)
        with self._lock:
            self._messages.append(message)
        return "250 Message accepted for delivery"

    def take(self) -> list[Mail]:
        """Everything received since the last call."""
        with self._lock:
            taken, self._messages = self._messages, []
        return taken


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def smtp_server() -> Iterator[Inbox]:
    """A local SMTP server, set as the default mailer while the block runs."""
    from aiosmtpd.controller import Controller
    from django.test import override_settings

    inbox = Inbox()
    port = free_port()
    # aiosmtpd logs every SMTP command at INFO; keep failure output readable.
    server_log = logging.getLogger("mail.log")
    level = server_log.level
    server_log.setLevel(logging.WARNING)
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    mailer = {
        "BACKEND": "django.core.mail.backends.smtp.EmailBackend",
        "OPTIONS": {"host": "127.0.0.1", "port": port, "use_tls": False, "timeout": 10},
    }
    try:
        with override_settings(MAILERS={"default": mailer}):
            yield inbox
    finally:
        controller.stop()
        server_log.setLevel(level)


def run_task_worker() -> None:
    """Do what ``rapport worker`` does while the clock stands still: sweep the due unread-message
    emails, then run django-tasks-db's worker until nothing is ready."""
    from django.core.management import call_command
    from django_tasks_db.models import DBTaskResult

    # Inside: this module is imported before Django is set up (conftest.py).
    from rapport.messaging.notifications import send_due_notices

    send_due_notices()

    watched = [signal.SIGINT, signal.SIGTERM, signal.SIGQUIT]
    saved = {sig: signal.getsignal(sig) for sig in watched}
    try:
        call_command("db_worker", batch=True, startup_delay=False, interval=0, verbosity=0)
    finally:
        for sig, handler in saved.items():
            signal.signal(sig, handler)
    failed = list(DBTaskResult.objects.failed().values_list("task_path", "traceback"))
    assert not failed, failed


def text_of(message: Mail) -> str:
    """Headers and every decoded text part (the body and the calendar), as one string."""
    parts = [f"{key}: {value}" for key, value in message.items()]
    for part in message.walk():
        if part.get_content_maintype() == "text":
            parts.append(part.get_content().replace("\r\n", "\n"))
    return "\n".join(parts)


def body_of(message: Mail) -> str:
    body = message.get_body(preferencelist=("plain",))
    assert body is not None
    return str(body.get_content()).replace("\r\n", "\n")
