"""Push notices: turning them on and off per device, deciding to send one, and sending it.

A domain function that decides a notice (a message left unread, a questionnaire to fill in, an
alert) calls ``notify`` inside its own transaction, beside its email: when the person has a
device that wants that kind of notice, a ``PushDelivery`` row keyed by the decision is written
and the ``send_push`` task queued; both commit with the decision or not at all, and a decision
taken twice finds its key and records nothing. ``rapport worker`` runs the task (``deliver``):
it claims the row, stays silent in the person's quiet hours, and posts the encrypted notice to
each device's push service with no transaction open. A device the push service no longer knows
(404 or 410) is deleted.

Every notice is content-free, like the emails: one fixed sentence ("You have a new message in
Rapport") in the person's language and the address of a page to open, never a name, a text or
a score. The payload is encrypted to the device's keys (RFC 8291, aes128gcm) and signed for the
push service with the practice's VAPID key (RFC 8292).
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from urllib.parse import urlsplit

import requests
from django.conf import settings
from django.db import IntegrityError, transaction
from django.http import HttpRequest
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from py_vapid import Vapid02
from pywebpush import WebPushException, webpush

from rapport.accounts.models import User
from rapport.audit.services import Action, record
from rapport.push.models import NoticeKind, PushDelivery, PushStatus, PushSubscription
from rapport.push.signals import quiet_hours_end
from rapport.push.tasks import send_push

logger = logging.getLogger(__name__)

GONE = {404, 410}  # the push service no longer knows this subscription (RFC 8030 §7.3)
TIMEOUT_SECONDS = 10
# Which notices each role can turn on.
KINDS_FOR_ROLE = {
    "client": [
        NoticeKind.NEW_MESSAGE,
        NoticeKind.SESSION_STARTING,
        NoticeKind.QUESTIONNAIRE_DUE,
        NoticeKind.CARE_REQUEST,
    ],
    "therapist": [
        NoticeKind.NEW_MESSAGE,
        NoticeKind.SESSION_STARTING,
        NoticeKind.CLIENT_WAITING,
        NoticeKind.SAFETY_ALERT,
        NoticeKind.CARE_REQUEST,
    ],
    "admin": [NoticeKind.SAFETY_ALERT, NoticeKind.CARE_REQUEST],
}
URGENT = {NoticeKind.SESSION_STARTING, NoticeKind.CLIENT_WAITING, NoticeKind.SAFETY_ALERT}


class PushError(ValueError):
    """A subscription the server refuses; the message is for the person."""


@dataclass(frozen=True)
class Device:
    """A subscription as the browser sends it (``PushSubscription.toJSON()``), checked."""

    endpoint: str
    p256dh: str
    auth: str


def kinds_for(user: User) -> list[NoticeKind]:
    return list(KINDS_FOR_ROLE.get(user.role, []))


def push_available() -> bool:
    return bool(settings.RAPPORT_VAPID_PRIVATE_KEY)


# --- Devices ------------------------------------------------------------------------------------


def check_endpoint(endpoint: str) -> None:
    """Only a push service's address: the worker posts to it, so anything else would let a
    person aim the server at a machine of their choosing (RAPPORT_PUSH_SERVICES)."""
    parts = urlsplit(endpoint)
    if parts.scheme not in {"https", "http"} or not parts.hostname or parts.username:
        raise PushError(_("This is not a push service's address."))
    for allowed in settings.RAPPORT_PUSH_SERVICES:
        rule = urlsplit(allowed if "://" in allowed else f"https://{allowed}")
        host = rule.hostname or ""
        host_matches = (
            parts.hostname.endswith(host[1:]) if host.startswith("*.") else parts.hostname == host
        )
        if parts.scheme == rule.scheme and host_matches and (rule.port in (None, parts.port)):
            return
    raise PushError(_("This browser's push service is not one this practice sends notices to."))


def subscribe(
    user: User,
    device: Device,
    *,
    kinds: list[str],
    label: str,
    request: HttpRequest | None = None,
) -> PushSubscription:
    """Turn notices on for one device (or change which ones it gets); audited.

    An endpoint another person turned on before in this browser moves to ``user``: one browser
    profile receives one person's notices.
    """
    allowed = {str(kind) for kind in kinds_for(user)}
    if not allowed:
        raise PushError(_("There are no notices for your role."))
    unknown = set(kinds) - set(NoticeKind.values)
    if unknown:
        raise PushError(_("Unknown kind of notice."))
    check_endpoint(device.endpoint)
    choices = {kind: kind in kinds and kind in allowed for kind in NoticeKind.values}
    if not any(choices.values()):
        raise PushError(_("Choose at least one kind of notice you can get."))
    with transaction.atomic():
        found = (
            PushSubscription.objects.select_for_update().filter(endpoint=device.endpoint).first()
        )
        if found is None:
            subscription = PushSubscription.objects.create(
                user=user,
                endpoint=device.endpoint,
                p256dh=device.p256dh,
                auth=device.auth,
                label=label[:80],
                **choices,
            )
            action = Action.PUSH_DEVICE_ADDED
        else:
            subscription = found
            if found.user_id != user.pk:
                record(Action.PUSH_DEVICE_REMOVED, actor=found.user, request=request, obj=found)
                action = Action.PUSH_DEVICE_ADDED
            else:
                action = Action.PUSH_DEVICE_CHANGED
            subscription.user = user
            subscription.p256dh, subscription.auth = device.p256dh, device.auth
            subscription.label = label[:80]
            for kind, wanted in choices.items():
                setattr(subscription, kind, wanted)
            subscription.save()
        record(action, actor=user, request=request, obj=subscription, kinds=subscription.kinds())
    return subscription


def unsubscribe(
    user: User,
    *,
    endpoint: str | None = None,
    device_id: int | None = None,
    request: HttpRequest | None = None,
) -> bool:
    """Turn notices off for one of the person's own devices; audited. False if not theirs."""
    with transaction.atomic():
        rows = PushSubscription.objects.select_for_update().filter(user=user)
        if endpoint is not None:
            found = rows.filter(endpoint=endpoint).first()
        elif device_id is not None:
            found = rows.filter(pk=device_id).first()
        else:
            found = None
        if found is None:
            return False
        record(Action.PUSH_DEVICE_REMOVED, actor=user, request=request, obj=found)
        found.delete()
    return True


def devices_of(user: User) -> list[PushSubscription]:
    return list(PushSubscription.objects.filter(user=user).order_by("-created_at"))


# --- Deciding -----------------------------------------------------------------------------------


def wants(user_id: int, kind: NoticeKind) -> bool:
    """Whether one of the person's devices wants notices of ``kind``."""
    return PushSubscription.objects.filter(user_id=user_id, **{kind.value: True}).exists()


def notify(user_id: int, kind: NoticeKind, key: str) -> PushDelivery | None:
    """Inside the deciding transaction: record a push of ``kind`` to the person and queue its
    task, when one of their devices wants it. None when none does or ``key`` was decided."""
    if not wants(user_id, kind):
        return None
    if PushDelivery.objects.filter(key=key).exists():
        return None
    try:
        with transaction.atomic():  # a savepoint: losing a race on the key undoes nothing else
            delivery = PushDelivery.objects.create(key=key, user_id=user_id, kind=kind)
    except IntegrityError:
        return None
    send_push.enqueue(delivery.pk)
    return delivery


# --- Sending (the worker) -----------------------------------------------------------------------


@cache
def _vapid() -> Vapid02:
    return Vapid02.from_raw(settings.RAPPORT_VAPID_PRIVATE_KEY.encode("ascii"))


def payload(user: User, kind: str) -> dict[str, str]:
    """The notice's words in the person's language and the page it opens: nothing else."""
    with translation.override(user.language):
        texts = {
            NoticeKind.NEW_MESSAGE: (_("You have a new message in Rapport."), reverse("inbox")),
            NoticeKind.SESSION_STARTING: (
                _("Your session in Rapport starts in 10 minutes."),
                reverse("home"),
            ),
            NoticeKind.QUESTIONNAIRE_DUE: (
                _("You have a questionnaire to fill in in Rapport."),
                reverse("my_measures"),
            ),
            NoticeKind.CLIENT_WAITING: (
                _("A client is waiting for you in Rapport."),
                reverse("home"),
            ),
            NoticeKind.SAFETY_ALERT: (
                _("A safety alert in Rapport needs your attention."),
                # An admin's alert is an escalated one or a new client's (before any
                # therapist): the practice's home page shows both, with their links.
                reverse("home" if user.is_practice_admin else "alerts"),
            ),
            # A client hears about their own request; a therapist or admin that one waits.
            NoticeKind.CARE_REQUEST: (
                _("There is news about your request for a therapist in Rapport.")
                if user.is_client
                else _("A request for a therapist waits for you in Rapport."),
                reverse("home"),
            ),
        }
        body, url = texts[NoticeKind(kind)]
        return {"title": "Rapport", "body": body, "url": url, "tag": kind}


def deliver(delivery_id: int, now: datetime | None = None) -> int:
    """Send one recorded notice to each of the person's devices that wants it (at most once).
    Returns how many push services accepted it."""
    now = now or timezone.now()
    claimed = PushDelivery.objects.filter(pk=delivery_id, status=PushStatus.PENDING).update(
        status=PushStatus.SENDING
    )
    if not claimed:
        return 0
    delivery = PushDelivery.objects.select_related("user").get(pk=delivery_id)
    user = delivery.user
    if not user.is_active or not push_available():
        return _finish(delivery, PushStatus.SKIPPED, "not sendable")
    if any(end is not None for _receiver, end in quiet_hours_end.send(User, user=user, now=now)):
        return _finish(delivery, PushStatus.SKIPPED, "quiet hours")
    devices = list(PushSubscription.objects.filter(user=user, **{delivery.kind: True}))
    data = json.dumps(payload(user, delivery.kind))
    accepted = 0
    for device in devices:
        accepted += _post(device, data, urgent=delivery.kind in URGENT)
    return _finish(delivery, PushStatus.SENT, f"{accepted} of {len(devices)} devices", accepted)


def _post(device: PushSubscription, data: str, *, urgent: bool) -> int:
    info = {"endpoint": device.endpoint, "keys": {"p256dh": device.p256dh, "auth": device.auth}}
    try:
        webpush(
            info,
            data=data,
            vapid_private_key=_vapid(),
            vapid_claims={"sub": settings.RAPPORT_VAPID_SUBJECT},
            ttl=settings.RAPPORT_PUSH_TTL_SECONDS,
            timeout=TIMEOUT_SECONDS,
            headers={"Urgency": "high" if urgent else "normal"},
        )
    except WebPushException as error:
        status = error.response.status_code if error.response is not None else None
        if status in GONE:
            PushSubscription.objects.filter(pk=device.pk).delete()
            logger.info("push: subscription %d is gone (%s), removed", device.pk, status)
        else:
            logger.warning("push: subscription %d refused a notice (%s)", device.pk, status)
        return 0
    except (requests.RequestException, ValueError) as error:
        logger.warning("push: subscription %d unreachable (%s)", device.pk, type(error).__name__)
        return 0
    PushSubscription.objects.filter(pk=device.pk).update(last_success_at=timezone.now())
    return 1


def _finish(delivery: PushDelivery, status: str, outcome: str, accepted: int = 0) -> int:
    delivery.status, delivery.outcome, delivery.sent_at = status, outcome, timezone.now()
    delivery.save(update_fields=["status", "outcome", "sent_at"])
    return accepted
