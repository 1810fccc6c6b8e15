"""The per-user event socket: pushes live events (alerts, messages) to every open tab of a user.

Later features publish to ``user_group(user_id)`` after their transaction commits. The socket
authenticates with the session cookie at the handshake (Origin checked by the ASGI router), refuses
anonymous users, and closes when the user signs out everywhere.
"""

from __future__ import annotations

import hashlib
import json
import time
from typing import Any
from urllib.parse import parse_qs

from asgiref.sync import async_to_sync
from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer
from channels.layers import get_channel_layer

from rapport.core.db import KeepConnectionMixin

MAX_MESSAGE_BYTES = 64 * 1024


def user_group(user_id: int) -> str:
    return f"user-{user_id}"


def session_group(session_key: str) -> str:
    """The sockets opened by one browser session (hashed: group names end up in Redis keys)."""
    return "session-" + hashlib.sha256(session_key.encode()).hexdigest()[:32]


def end_session_connections(session_key: str) -> None:
    """Close the sockets of one browser session (it signed out or expired)."""
    layer = get_channel_layer()
    if layer is not None:
        async_to_sync(layer.group_send)(session_group(session_key), {"type": "session.ended"})


def session_alive(scope: dict[str, Any]) -> bool:
    """The socket's browser session is within its idle and absolute lifetimes.

    The HTTP middleware that enforces them does not run for sockets, so consumers check at the
    handshake and on every message.
    """
    from django.conf import settings

    from rapport.accounts.middleware import SEEN, STARTED

    session = scope.get("session")
    if session is None:
        return False
    started, seen = session.get(STARTED), session.get(SEEN)
    if started is None or seen is None:
        return True
    now = time.time()
    return (
        now - float(seen) <= settings.SESSION_IDLE_TIMEOUT
        and now - float(started) <= settings.SESSION_ABSOLUTE_LIFETIME
    )


def live_groups(scope: dict[str, Any]) -> list[str]:
    """The groups every socket of a signed-in user joins: the user's own ("sign out
    everywhere", deactivation, events) and its browser session's (sign-out in that browser)."""
    groups = [user_group(scope["user"].pk)]
    session_key = getattr(scope.get("session"), "session_key", None)
    if session_key:
        groups.append(session_group(session_key))
    return groups


class Bucket:
    """A token bucket: ``size`` messages at once, refilled at ``rate`` per second."""

    def __init__(self, size: float, rate: float) -> None:
        self.size, self.rate = size, rate
        self.tokens, self.stamp = size, time.monotonic()

    def take(self) -> bool:
        now = time.monotonic()
        self.tokens = min(self.size, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        if self.tokens < 1:
            return False
        self.tokens -= 1
        return True


async def refuse_unless_signed_in(consumer: Any) -> bool:
    """Close a socket whose handshake has no signed-in user (4401) or whose browser session has
    run out (4001). True when it was closed."""
    user = consumer.scope.get("user")
    if user is None or not user.is_authenticated:
        await consumer.close(code=4401)
        return True
    if not session_alive(consumer.scope):
        await consumer.close(code=4001)
        return True
    return False


def publish_to_user(user_id: int, event: dict[str, Any]) -> None:
    """Send ``event`` to every open socket of ``user_id`` (call after commit)."""
    layer = get_channel_layer()
    if layer is not None:
        async_to_sync(layer.group_send)(user_group(user_id), {"type": "user.event", "event": event})


class EventsConsumer(KeepConnectionMixin, AsyncWebsocketConsumer):  # type: ignore[misc]
    async def connect(self) -> None:
        if await refuse_unless_signed_in(self):
            return
        user = self.scope["user"]
        self.groups_joined = live_groups(self.scope)
        for group in self.groups_joined:
            await self.channel_layer.group_add(group, self.channel_name)
        await self.accept()
        await self._correct_unread_badge(user)

    async def _correct_unread_badge(self, user: Any) -> None:
        """The page says how many unread messages its badge shows (``?unread=N``): a message that
        arrived between rendering the page and joining the groups (or while the socket was down)
        would otherwise go uncounted until the next page load."""
        shown = parse_qs(self.scope.get("query_string", b"").decode("latin-1")).get("unread")
        if not shown or not (user.is_therapist or user.is_client):
            return
        from rapport.messaging.services import total_unread

        total = await database_sync_to_async(total_unread)(user)
        if shown[0] != str(total):
            await self.send(text_data=json.dumps({"type": "messages.unread", "total": total}))

    async def disconnect(self, code: int) -> None:
        for group in getattr(self, "groups_joined", []):
            await self.channel_layer.group_discard(group, self.channel_name)

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        if (
            bytes_data is not None
            or text_data is None
            or len(text_data.encode("utf-8", "surrogatepass")) > MAX_MESSAGE_BYTES
        ):
            await self.send_error("messages must be JSON text up to 64 KB")
            return
        try:
            message = json.loads(text_data)
        except ValueError:
            await self.send_error("message is not valid JSON")
            return
        if not session_alive(self.scope):
            await self.close(code=4001)
            return
        if not isinstance(message, dict) or message.get("type") != "ping":
            await self.send_error("unknown message type")
            return
        await self.send(text_data=json.dumps({"type": "pong", "id": message.get("id")}))

    async def send_error(self, text: str) -> None:
        await self.send(text_data=json.dumps({"type": "error", "error": text}))

    async def user_event(self, message: dict[str, Any]) -> None:
        await self.send(text_data=json.dumps(message["event"]))

    async def inbox_event(self, message: dict[str, Any]) -> None:
        """Messaging frames are for the messages socket; this one keeps the navigation badge."""
        for frame in message["frames"]:
            if "total" in frame and frame.get("type") in {"unread", "message"}:
                await self.send(
                    text_data=json.dumps({"type": "messages.unread", "total": frame["total"]})
                )

    async def session_ended(self, message: dict[str, Any]) -> None:
        await self.send(text_data=json.dumps({"type": "session.ended"}))
        await self.close(code=4001)
