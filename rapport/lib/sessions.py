"""How long a signed-in browser session lives: an idle limit and an absolute lifetime.

The HTTP middleware (``rapport.accounts.middleware``) and the sockets (``rapport.core.sockets``)
apply the same rule to the same two session keys.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

STARTED = "rapport_session_started"  # when the person signed in (seconds since the epoch)
SEEN = "rapport_session_seen"  # their last request or write


def expiry_reason(
    session: Mapping[str, Any], now: float, *, idle_seconds: float, lifetime_seconds: float
) -> str | None:
    """Why the session has run out ("idle" or "lifetime"), or None while it is alive.

    A session without the two stamps (made before they existed) is alive: the middleware
    stamps it on its next request."""
    started, seen = session.get(STARTED), session.get(SEEN)
    if started is None or seen is None:
        return None
    if now - float(seen) > idle_seconds:
        return "idle"
    if now - float(started) > lifetime_seconds:
        return "lifetime"
    return None
