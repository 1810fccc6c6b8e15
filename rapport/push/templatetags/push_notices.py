"""``{% push_notices %}``: the Account page's "Notices on this device" section (the Account page
belongs to accounts, below push, so it draws the section through this tag)."""

from __future__ import annotations

import hashlib
from typing import Any

from django import template
from django.conf import settings

from rapport.push.services import devices_of, kinds_for, push_available

register = template.Library()


@register.inclusion_tag("push/_section.html", takes_context=True)
def push_notices(context: template.Context) -> dict[str, Any]:
    request = context["request"]
    user = request.user
    devices = devices_of(user)
    return {
        "user": user,
        "available": push_available(),
        "public_key": settings.RAPPORT_VAPID_PUBLIC_KEY,
        "kinds": [(kind.value, kind.label) for kind in kinds_for(user)],
        "devices": devices,
        # Which device is this browser: its script hashes its own endpoint and finds its choices
        # here, so the page never prints an endpoint (the address others could push to).
        "device_kinds": {
            hashlib.sha256(device.endpoint.encode()).hexdigest(): device.kinds()
            for device in devices
        },
        "csrf_token": context.get("csrf_token"),
        "csp_nonce": context.get("csp_nonce"),
    }
