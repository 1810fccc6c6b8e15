"""Emails that go out once: every email the worker sends passes through here.

A domain function decides to send inside its own transaction and calls ``record``: the
``EmailDelivery`` row, whose unique key names the decision ("reminder:12:60:..."), commits with
the decision or not at all, and a second run of the same decision finds the key and records
nothing. After commit, ``send`` claims the row (a short transaction), sends with no transaction
open (a slow mail server holds no database lock) and marks it sent. A send that fails is tried
again by the worker's sweep (``send_due``) after 1, 4, 16 ... x ``RAPPORT_RETRY_SECONDS``, then
the row is marked failed and shown to admins; a row claimed by a worker that died is sent again.

Delivery is at least once: a worker killed after the mail server accepted a message and before
the row was marked sent sends it again. The resend carries the same ``Message-ID`` (written into
the row before the first try), which mail stores that de-duplicate on it (Gmail, most IMAP
clients' threading) show once; others show it twice. A kill before the server's "250 OK" — the
long part of a slow server's conversation — costs nothing: the server never stored the message.
"""

from __future__ import annotations

import base64
import email
import email.policy
import json
import logging
import time
from collections.abc import Callable
from datetime import timedelta
from email.message import Message
from email.utils import make_msgid
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.core.mail import EmailMessage
from django.db import (
    IntegrityError,
    InterfaceError,
    OperationalError,
    close_old_connections,
    transaction,
)
from django.db.models import F, QuerySet
from django.utils import timezone

from rapport.core.encryption import key_ring
from rapport.core.models import DeliveryStatus, EmailDelivery
from rapport.core.worker_health import lease, live_worker_ids, this_worker_id

logger = logging.getLogger(__name__)

SEALED = "core.emaildelivery.message"
# Sent rows (their message already erased) are kept this long for ``rapport tasks`` and support.
KEEP_SENT = timedelta(days=30)


def record(message: EmailMessage, *, key: str, kind: str) -> EmailDelivery | None:
    """Inside the deciding transaction: the row that will send ``message``, or None when ``key``
    was decided before (nothing to send)."""
    if EmailDelivery.objects.filter(key=key).exists():
        return None
    message_id = make_msgid(domain=_mail_domain())
    message.extra_headers["Message-ID"] = message_id
    try:
        with transaction.atomic():  # a savepoint: losing a race on the key undoes nothing else
            return EmailDelivery.objects.create(
                key=key,
                kind=kind,
                recipients=message.recipients(),
                message=_seal(message),
                message_id=message_id,
            )
    except IntegrityError:
        return None


def send(delivery: EmailDelivery, message: EmailMessage | None = None) -> bool:
    """Claim, send and mark one delivery; outside any transaction. True if this call sent it.

    ``message`` is the one just recorded (sent as built); without it the sealed copy is sent.
    """
    claimed = EmailDelivery.objects.filter(pk=delivery.pk, status=DeliveryStatus.PENDING).update(
        status=DeliveryStatus.SENDING,
        claimed_by=this_worker_id(),
        claimed_at=timezone.now(),
        attempts=F("attempts") + 1,
    )
    if not claimed:
        return False  # sent, failed for good, or being sent by someone else
    try:
        (message or _unseal(EmailDelivery.objects.get(pk=delivery.pk))).send()
    except Exception as error:
        failure = error
        _until_recorded(lambda: _record_failure(delivery.pk, failure))
        return False
    _until_recorded(lambda: _record_sent(delivery.pk))
    return True


def send_due(limit: int = 100) -> int:
    """The worker's sweep: take back what dead workers claimed, then send what is due (left by
    a crash between commit and send, or waiting for its next try). Returns how many were sent."""
    reclaim_abandoned()
    due = EmailDelivery.objects.filter(
        status=DeliveryStatus.PENDING, next_attempt_at__lte=timezone.now()
    ).order_by("next_attempt_at")
    return sum(send(delivery) for delivery in due[:limit])


def reclaim_abandoned() -> int:
    """Deliveries claimed more than a lease ago by a worker no longer beating go back to
    pending; old sent rows are deleted."""
    now = timezone.now()
    abandoned = EmailDelivery.objects.filter(
        status=DeliveryStatus.SENDING, claimed_at__lt=now - lease()
    ).exclude(claimed_by__in=live_worker_ids(now))
    taken = abandoned.update(status=DeliveryStatus.PENDING, next_attempt_at=now)
    if taken:
        logger.warning("outbox: %d email(s) claimed by a stopped worker will be sent again", taken)
    EmailDelivery.objects.filter(status=DeliveryStatus.SENT, sent_at__lt=now - KEEP_SENT).delete()
    return taken


def retry(delivery_id: int) -> bool:
    """An admin's "try again" on a failed delivery. True if it was failed and is now pending."""
    return bool(
        EmailDelivery.objects.filter(pk=delivery_id, status=DeliveryStatus.FAILED).update(
            status=DeliveryStatus.PENDING, attempts=0, next_attempt_at=timezone.now()
        )
    )


def failed_deliveries() -> QuerySet[EmailDelivery]:
    return EmailDelivery.objects.filter(status=DeliveryStatus.FAILED).order_by("-created_at")


def backoff(attempts: int) -> timedelta:
    """The wait before try ``attempts + 1``: 1, 4, 16 ... x RAPPORT_RETRY_SECONDS, at most a day."""
    return timedelta(seconds=min(settings.RAPPORT_RETRY_SECONDS * 4 ** (attempts - 1), 86400))


# --- Inside --------------------------------------------------------------------------------------


def _record_sent(delivery_id: int) -> None:
    EmailDelivery.objects.filter(pk=delivery_id).update(
        status=DeliveryStatus.SENT, sent_at=timezone.now(), message="", last_error=""
    )


def _record_failure(delivery_id: int, error: Exception) -> None:
    delivery = EmailDelivery.objects.get(pk=delivery_id)
    final = delivery.attempts >= settings.RAPPORT_RETRY_ATTEMPTS
    delivery.status = DeliveryStatus.FAILED if final else DeliveryStatus.PENDING
    delivery.next_attempt_at = timezone.now() + backoff(delivery.attempts)
    # The class and the server's reply, for the admins' page; never written to the log.
    delivery.last_error = f"{type(error).__name__}: {error}"[:300]
    delivery.save(update_fields=["status", "next_attempt_at", "last_error"])
    logger.warning(
        "outbox: %s email %d not sent, try %d (%s)%s",
        delivery.kind,
        delivery.pk,
        delivery.attempts,
        type(error).__name__,
        ", giving up" if final else "",
    )


def _until_recorded(write: Callable[[], None]) -> None:
    """An email went out (or failed): its row must say so, so wait out a database outage
    rather than leave it claimed by a live worker, which nobody would take back."""
    pause = 0.5
    while True:
        try:
            write()
            return
        except (OperationalError, InterfaceError):
            logger.warning("outbox: database unavailable, retrying in %.0f s", pause)
            close_old_connections()
            time.sleep(pause)
            pause = min(pause * 2, 30.0)


def _mail_domain() -> str:
    return urlsplit(settings.SITE_URL).hostname or "rapport.invalid"


def _seal(message: EmailMessage) -> str:
    raw = message.message(policy=email.policy.SMTP).as_bytes()
    packed = {
        "from": message.from_email,
        "to": message.recipients(),
        "raw": base64.b64encode(raw).decode("ascii"),
    }
    return key_ring().encrypt(json.dumps(packed), SEALED)


class _SealedEmail(EmailMessage):
    """A recorded email sent again as it was first built, Message-ID included."""

    def __init__(self, raw: bytes, from_email: str, to: list[str]) -> None:
        super().__init__(from_email=from_email, to=to)
        self.raw = raw

    def message(self, *, policy: Any = email.policy.default) -> Message:  # type: ignore[override]
        return email.message_from_bytes(self.raw, policy=policy)


def _unseal(delivery: EmailDelivery) -> _SealedEmail:
    packed = json.loads(key_ring().decrypt(delivery.message, SEALED))
    return _SealedEmail(base64.b64decode(packed["raw"]), packed["from"], packed["to"])
