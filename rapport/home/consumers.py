"""The per-user events socket, ``/ws/events/``: live events for every open tab of one person.

Safety alerts (therapists; escalations for admins), the waiting room (therapists) and the
unread-messages badge in the navigation (clients and therapists). Services publish to
``user_group(user_id)`` through ``rapport.core.realtime`` after their transaction commits. The
socket authenticates with the session cookie at the handshake (Origin checked by the ASGI
router), refuses anonymous users, and closes when the session ends.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qs

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer

from rapport.core import realtime
from rapport.core.db import KeepConnectionMixin
from rapport.core.sockets import (
    SESSION_ENDED,
    FrameError,
    HandlerGuard,
    live_groups,
    read_frame,
    refuse_unless_signed_in,
    session_alive,
)
from rapport.messaging.services import total_unread


class EventsConsumer(HandlerGuard, KeepConnectionMixin, AsyncWebsocketConsumer):  # type: ignore[misc]
    async def connect(self) -> None:
        if await refuse_unless_signed_in(self):
            return
        user = self.scope["user"]
        self.groups_joined = live_groups(self.scope)
        for group in self.groups_joined:
            await self.channel_layer.group_add(group, self.channel_name)
        await self.accept()
        realtime.catch_up_after_outages(self)  # the page reloads its alerts and badge then
        await self._correct_unread_badge(user)

    async def _correct_unread_badge(self, user: Any) -> None:
        """The page says how many unread messages its badge shows (``?unread=N``): a message that
        arrived between rendering the page and joining the groups (or while the socket was down)
        would otherwise go uncounted until the next page load."""
        shown = parse_qs(self.scope.get("query_string", b"").decode("latin-1")).get("unread")
        if not shown or not (user.is_therapist or user.is_client):
            return
        total = await database_sync_to_async(total_unread)(user)
        if shown[0] != str(total):
            await self.send(text_data=json.dumps({"type": "messages.unread", "total": total}))

    async def disconnect(self, code: int) -> None:
        for group in getattr(self, "groups_joined", []):
            await self.channel_layer.group_discard(group, self.channel_name)

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        try:
            message = read_frame(text_data, bytes_data)
        except FrameError as refusal:
            await self.send_error(str(refusal))
            return
        if not session_alive(self.scope):
            await self.close(code=SESSION_ENDED)
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
        await self.close(code=SESSION_ENDED)
