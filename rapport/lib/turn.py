"""ICE servers for the browser's RTCPeerConnection: STUN URLs and short-lived TURN credentials.

TURN credentials follow the TURN REST convention that coturn checks with ``use-auth-secret``:
the username is ``<expiry unix time>:<user reference>`` and the password is
base64(HMAC-SHA1(shared secret, username)). coturn recomputes the password from the username,
so Rapport never tells coturn about users, and a leaked credential stops working at its expiry.
The user reference is an HMAC of the user id under the secret key: coturn's logs can tell one
person's allocations apart without learning who they are.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from typing import Any

from rapport.lib.config import ConfigError

ICE_TRANSPORT_POLICIES = ("all", "relay")
MIN_TTL_SECONDS = 60


def rest_credential(secret: str, username: str) -> str:
    """The password coturn expects for ``username`` (``use-auth-secret``)."""
    digest = hmac.new(secret.encode(), username.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode("ascii")


def user_reference(user_id: int) -> str:
    """A stable, opaque stand-in for ``user_id`` in TURN usernames (and so in coturn's logs)."""
    from django.utils.crypto import salted_hmac

    return salted_hmac("rapport.turn.user", str(user_id), algorithm="sha256").hexdigest()[:20]


def ice_servers(user_id: int, now: float | None = None) -> list[dict[str, Any]]:
    """The ``iceServers`` list for ``user_id``'s RTCPeerConnection, TURN credentials included."""
    from django.conf import settings

    servers: list[dict[str, Any]] = []
    if settings.RAPPORT_STUN_URLS:
        servers.append({"urls": list(settings.RAPPORT_STUN_URLS)})
    if settings.RAPPORT_TURN_URLS:
        issued = time.time() if now is None else now
        expiry = int(issued) + settings.RAPPORT_TURN_TTL_SECONDS
        username = f"{expiry}:{user_reference(user_id)}"
        servers.append(
            {
                "urls": list(settings.RAPPORT_TURN_URLS),
                "username": username,
                "credential": rest_credential(settings.RAPPORT_TURN_SECRET, username),
            }
        )
    return servers


def check_ice_settings(
    stun_urls: list[str], turn_urls: list[str], secret: str, ttl: int, policy: str
) -> None:
    """Refuse ICE settings that would hand browsers servers they cannot use."""
    for url in stun_urls:
        if not url.startswith(("stun:", "stuns:")):
            raise ConfigError(f"RAPPORT_STUN_URLS: {url!r} must start with stun: or stuns:")
    for url in turn_urls:
        if not url.startswith(("turn:", "turns:")):
            raise ConfigError(f"RAPPORT_TURN_URLS: {url!r} must start with turn: or turns:")
    if turn_urls and not secret:
        raise ConfigError(
            "RAPPORT_TURN_URLS is set but RAPPORT_TURN_SECRET is not "
            "(coturn's static-auth-secret; see docs/deployment.md)"
        )
    if ttl < MIN_TTL_SECONDS:
        raise ConfigError(f"RAPPORT_TURN_TTL_SECONDS must be at least {MIN_TTL_SECONDS}")
    if policy not in ICE_TRANSPORT_POLICIES:
        raise ConfigError(f"RAPPORT_ICE_TRANSPORT_POLICY must be 'all' or 'relay', not {policy!r}")
    if policy == "relay" and not turn_urls:
        raise ConfigError("RAPPORT_ICE_TRANSPORT_POLICY=relay needs RAPPORT_TURN_URLS")
