"""What every WebSocket consumer shares: the handshake check, the session's lifetime, the groups
each socket joins, the frame size limit.

The HTTP middleware that signs idle and expired sessions out does not run for sockets, so
consumers check the same rule (``rapport.lib.sessions``) at the handshake and on every frame.
"""

from __future__ import annotations

import time
from typing import Any

from channels.db import database_sync_to_async
from django.conf import settings

from rapport.core.realtime import ensure_relay, session_group, user_group
from rapport.lib.sessions import SEEN, STARTED, expiry_reason

MAX_MESSAGE_BYTES = 64 * 1024
SESSION_ENDED = 4001  # close code: signed out, expired or deactivated
NOT_SIGNED_IN = 4401  # close code: the handshake had no signed-in user
SECOND_FACTOR_REQUIRED = 4403  # close code: the role requires an authenticator not yet enrolled
SESSION_TOUCH_SECONDS = 60


def session_alive(scope: dict[str, Any]) -> bool:
    """The socket's browser session is within its idle and absolute lifetimes."""
    session = scope.get("session")
    if session is None:
        return False
    reason = expiry_reason(
        session,
        time.time(),
        idle_seconds=settings.SESSION_IDLE_TIMEOUT,
        lifetime_seconds=settings.SESSION_ABSOLUTE_LIFETIME,
    )
    return reason is None


def live_groups(scope: dict[str, Any]) -> list[str]:
    """The groups every socket of a signed-in user joins: the user's own ("sign out
    everywhere", deactivation, events) and its browser session's (sign-out in that browser)."""
    groups = [user_group(scope["user"].pk)]
    session_key = getattr(scope.get("session"), "session_key", None)
    if session_key:
        groups.append(session_group(session_key))
    return groups


async def refuse_unless_signed_in(consumer: Any) -> bool:
    """Close a socket whose handshake has no signed-in user (4401), whose browser session has
    run out (4001), or whose user's role requires a second factor they have not enrolled (4403:
    the pages send them to enrolment, and no socket may serve them before). True when it was
    closed."""
    await ensure_relay()  # events stored by the worker reach this process's sockets
    user = consumer.scope.get("user")
    if user is None or not user.is_authenticated:
        await consumer.close(code=NOT_SIGNED_IN)
        return True
    if not session_alive(consumer.scope):
        await consumer.close(code=SESSION_ENDED)
        return True
    # The user model's rule (rapport.accounts), asked through the object: core imports no app.
    if user.requires_mfa and await database_sync_to_async(user.second_factor_missing)():
        await consumer.close(code=SECOND_FACTOR_REQUIRED)
        return True
    return False


class SessionToucher:
    """Writing over a socket is activity: keep the browser session's idle timer fresh, at most
    once a minute (the HTTP middleware does the same for requests)."""

    def __init__(self) -> None:
        self.touched = time.monotonic()

    async def touch(self, scope: dict[str, Any]) -> None:
        if time.monotonic() - self.touched < SESSION_TOUCH_SECONDS:
            return
        self.touched = time.monotonic()
        session = scope.get("session")
        if session is not None and session.get(STARTED) is not None:
            session[SEEN] = time.time()
            await database_sync_to_async(session.save)()
