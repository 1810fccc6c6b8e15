"""A real SMTP server for tests (aiosmtpd).

Mail goes through Django's SMTP backend to a server the test starts on a free local port; the
``smtp`` fixture in ``conftest.py`` wires it in as the practice's mailer. The task worker that
sends most mail is in ``tests/worker.py``.
"""

from __future__ import annotations

import email
import email.policy
import logging
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

    def count(self) -> int:
        """How many messages arrived since the last ``take``."""
        with self._lock:
            return len(self._messages)

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


class SlowInbox(Inbox):
    """A mail server that takes ``delay`` seconds to accept each recipient, as a loaded one does:
    a client cut off meanwhile delivers nothing. ``talking`` is set while it keeps one waiting."""

    def __init__(self, delay: float) -> None:
        super().__init__()
        self.delay = delay
        self.talking = threading.Event()

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: list[str]
    ) -> str:
        import asyncio

        self.talking.set()
        try:
            await asyncio.sleep(self.delay)
        finally:
            self.talking.clear()
        envelope.rcpt_tos.append(address)
        return "250 OK"


@contextmanager
def slow_smtp_server(delay: float) -> Iterator[tuple[SlowInbox, int]]:
    """A local SMTP server answering slowly (``SlowInbox``), for processes of their own: yields
    the inbox and the port."""
    from aiosmtpd.controller import Controller

    inbox = SlowInbox(delay)
    port = free_port()
    server_log = logging.getLogger("mail.log")
    level = server_log.level
    server_log.setLevel(logging.CRITICAL)  # a client killed mid-conversation is the point
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield inbox, port
    finally:
        controller.stop()
        server_log.setLevel(level)
