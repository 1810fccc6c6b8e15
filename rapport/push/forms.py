"""Reading what a browser sends to turn push on or off: JSON from ``static/push/push.js``.

Every problem is a ``PushError`` with a sentence for the person (the views answer 400 with it).
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ec
from django.http import HttpRequest
from django.utils.translation import gettext as _

from rapport.push.models import NoticeKind
from rapport.push.services import Device, PushError

MAX_BODY = 8 * 1024


def _b64url(text: object, length: int, what: str) -> str:
    if not isinstance(text, str) or not text or len(text) > 200:
        raise PushError(_("The browser's %(what)s is missing.") % {"what": what})
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError) as exc:
        raise PushError(_("The browser's %(what)s is not readable.") % {"what": what}) from exc
    if len(raw) != length:
        raise PushError(_("The browser's %(what)s has the wrong length.") % {"what": what})
    return text


def read_json(request: HttpRequest) -> dict[str, Any]:
    if request.content_type != "application/json":
        raise PushError(_("Send the subscription as JSON."))
    if len(request.body) > MAX_BODY:
        raise PushError(_("The subscription is too large."))
    try:
        data = json.loads(request.body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise PushError(_("The subscription is not valid JSON.")) from exc
    if not isinstance(data, dict):
        raise PushError(_("The subscription must be a JSON object."))
    return data


def read_endpoint(value: object) -> str:
    if not isinstance(value, str) or not value.strip():
        raise PushError(_("The push service's address is missing."))
    if len(value) > 1024:
        raise PushError(_("The push service's address is too long."))
    return value.strip()


def read_subscription(data: dict[str, Any]) -> tuple[Device, list[str], str]:
    """The device, the kinds of notice chosen and the device's label."""
    subscription = data.get("subscription")
    if not isinstance(subscription, dict):
        raise PushError(_("The browser's subscription is missing."))
    keys = subscription.get("keys")
    if not isinstance(keys, dict):
        raise PushError(_("The browser's keys are missing."))
    endpoint = read_endpoint(subscription.get("endpoint"))
    p256dh = _b64url(keys.get("p256dh"), 65, _("public key"))
    try:
        ec.EllipticCurvePublicKey.from_encoded_point(
            ec.SECP256R1(), base64.urlsafe_b64decode(p256dh + "=" * (-len(p256dh) % 4))
        )
    except ValueError as exc:
        raise PushError(_("The browser's public key is not a P-256 key.")) from exc
    auth = _b64url(keys.get("auth"), 16, _("authentication secret"))
    kinds = data.get("kinds", [])
    if not isinstance(kinds, list) or not all(isinstance(kind, str) for kind in kinds):
        raise PushError(_("Choose the notices as a list."))
    if not kinds:
        raise PushError(_("Choose at least one kind of notice."))
    if set(kinds) - set(NoticeKind.values):
        raise PushError(_("Unknown kind of notice."))
    label = data.get("label", "")
    if not isinstance(label, str):
        raise PushError(_("The device's name must be text."))
    return Device(endpoint, p256dh, auth), kinds, " ".join(label.split())[:80]
