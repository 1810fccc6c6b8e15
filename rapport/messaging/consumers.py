"""The messaging socket (protocol: docs/protocol.md, "Messages socket").

One socket per open tab, for all of the user's conversations. Each frame is size-checked,
rate-limited (per socket and per user), validated, and authorised through
``rapport.messaging.access`` against the database before anything happens; the browser session's
lifetime is checked on every frame too. A send is acknowledged only after its transaction
committed, and a repeated id is acknowledged again without a second row (the same id with
another text is refused).
"""

from __future__ import annotations

import json
import time
import uuid
from datetime import datetime
from typing import Any

from channels.generic.websocket import AsyncWebsocketConsumer
from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404
from django.utils import timezone, translation
from django.utils.dateparse import parse_datetime

from rapport.core import metrics, realtime
from rapport.core.db import KeepConnectionMixin, db_call
from rapport.core.sockets import (
    FrameError,
    HandlerGuard,
    live_groups,
    read_frame,
    refuse_unless_signed_in,
    session_alive,
)
from rapport.lib.ratelimit import Bucket
from rapport.lib.sessions import SEEN, STARTED
from rapport.messaging import services
from rapport.messaging.access import audit_messages_read

SESSION_ENDED = 4001
TOO_MANY = 4429
REFUSALS_BEFORE_CLOSE = 100
SESSION_TOUCH_SECONDS = 60
TYPING_BUCKET = (3.0, 0.5)

WRITES = {"send", "edit", "retract"}

# One bucket per user for writes, shared by all of the user's sockets in this process.
_user_buckets: dict[int, Bucket] = {}


def _user_bucket(user_id: int) -> Bucket:
    bucket = _user_buckets.get(user_id)
    if bucket is None:
        bucket = _user_buckets[user_id] = Bucket(
            float(settings.RAPPORT_MESSAGE_BURST), float(settings.RAPPORT_MESSAGE_RATE)
        )
    return bucket


class Refused(Exception):
    """A frame that is not acceptable; ``text`` says why."""


def _uuid(message: dict[str, Any], key: str) -> uuid.UUID:
    value = message.get(key)
    try:
        return uuid.UUID(value) if isinstance(value, str) else uuid.UUID(int=-1)
    except ValueError:
        raise Refused(f"'{key}' must be an id") from None


def _moment(message: dict[str, Any], key: str) -> datetime | None:
    value = message.get(key)
    if value is None:
        return None
    moment = parse_datetime(value) if isinstance(value, str) else None
    if moment is None or moment.tzinfo is None:
        raise Refused(f"'{key}' must be a date and time with its offset")
    return moment


def _seq(message: dict[str, Any], key: str) -> int:
    value = message.get(key)
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise Refused(f"'{key}' must be a whole number")
    return value


class MessagesConsumer(HandlerGuard, KeepConnectionMixin, AsyncWebsocketConsumer):  # type: ignore[misc]
    async def connect(self) -> None:
        self.groups_joined: list[str] = []
        if await refuse_unless_signed_in(self):
            return
        self.user = user = self.scope["user"]
        self.frames = Bucket(
            float(settings.RAPPORT_MESSAGE_SOCKET_BURST),
            float(settings.RAPPORT_MESSAGE_SOCKET_RATE),
        )
        self.typing = Bucket(*TYPING_BUCKET)
        self.refusals = 0
        self.closed = False
        self.touched = time.monotonic()
        self.groups_joined = [*live_groups(self.scope), services.messages_group(user.pk)]
        for group in self.groups_joined:
            await self.channel_layer.group_add(group, self.channel_name)
        await self.accept()
        realtime.catch_up_after_outages(self)  # the page reconnects and fetches by seq then
        await self.send_json(await db_call(services.welcome)(user))

    async def disconnect(self, code: int) -> None:
        for group in self.groups_joined:
            await self.channel_layer.group_discard(group, self.channel_name)

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        if self.closed:
            return
        message: Any = None
        try:
            if not self.frames.take():
                raise Refused("rate limit: slow down")
            try:
                message = read_frame(text_data, bytes_data)
            except FrameError as refusal:
                raise Refused(str(refusal)) from None
            if not isinstance(message, dict) or not isinstance(message.get("type"), str):
                raise Refused("a message is a JSON object with a 'type'")
            kind = message["type"]
            handler = getattr(self, f"on_{kind}", None) if kind.isidentifier() else None
            if handler is None:
                raise Refused("unknown message type")
            if not session_alive(self.scope):
                self.closed = True
                await self.close(code=SESSION_ENDED)
                return
            if kind in WRITES:
                if not _user_bucket(self.user.pk).take():
                    raise Refused("rate limit: you are sending too fast; try again in a moment")
                await self._touch_session()
            # The person's own language for what they are told (the HTTP middleware that
            # activates it does not run for sockets).
            with translation.override(self.user.language):
                await handler(message)
        except Refused as refusal:
            await self._refuse(str(refusal), message)
        except Http404:
            await self._refuse("no such conversation", message)
        except PermissionDenied:
            await self._refuse("not allowed", message)
        except ValidationError as exc:
            await self._refuse(" ".join(exc.messages), message)

    async def _refuse(self, text: str, message: Any) -> None:
        self.refusals += 1
        ref = message.get("type") if isinstance(message, dict) else None
        ident = message.get("id") if isinstance(message, dict) else None
        await self.send_json(
            {
                "type": "error",
                "error": text,
                "ref": ref if isinstance(ref, str) else None,
                "id": ident if isinstance(ident, str) else None,
            }
        )
        if self.refusals > REFUSALS_BEFORE_CLOSE:
            self.closed = True
            await self.close(code=TOO_MANY)

    async def _touch_session(self) -> None:
        """Writing is activity: keep the browser session's idle timer fresh (once a minute)."""
        if time.monotonic() - self.touched < SESSION_TOUCH_SECONDS:
            return
        self.touched = time.monotonic()
        session = self.scope.get("session")
        if session is not None and session.get(STARTED) is not None:
            session[SEEN] = time.time()
            await db_call(session.save)()

    async def _publish(self, outcome: services.Outcome) -> None:
        """The write has committed: tell the others before acknowledging the sending tab. Events
        for the sender's other tabs leave this socket out (it hears an acknowledgement)."""
        for group, event in outcome.events:
            mine = event["origin"] == self.channel_name
            await realtime.publish_now(group, event, skip=self.channel_name if mine else "")

    # --- Frames from the browser -----------------------------------------------------------

    async def on_ping(self, message: dict[str, Any]) -> None:
        ident = message.get("id")
        await self.send_json(
            {"type": "pong", "id": ident if isinstance(ident, (str, int)) else None}
        )

    async def on_send(self, message: dict[str, Any]) -> None:
        conversation = _uuid(message, "conversation")
        ident = _uuid(message, "id")
        attachment = _uuid(message, "attachment") if message.get("attachment") else None
        outcome = await db_call(services.send_message)(
            self.user,
            conversation,
            ident,
            message.get("text", ""),
            attachment_uid=attachment,
            origin=self.channel_name,
        )
        await self._publish(outcome)
        await self._ack(outcome, str(ident))

    async def on_edit(self, message: dict[str, Any]) -> None:
        ident = _uuid(message, "id")
        outcome = await db_call(services.edit_message)(
            self.user, ident, message.get("text", ""), origin=self.channel_name
        )
        await self._publish(outcome)
        await self._ack(outcome, str(ident))

    async def on_retract(self, message: dict[str, Any]) -> None:
        ident = _uuid(message, "id")
        outcome = await db_call(services.retract_message)(
            self.user, ident, origin=self.channel_name
        )
        await self._publish(outcome)
        await self._ack(outcome, str(ident))

    async def _ack(self, outcome: services.Outcome, ident: str) -> None:
        await self.send_json({"type": "ack", "id": ident, "message": outcome.shown})

    async def on_read(self, message: dict[str, Any]) -> None:
        outcome = await db_call(services.mark_read)(
            self.user, _uuid(message, "conversation"), _seq(message, "seq")
        )
        await self._publish(outcome)

    async def on_typing(self, message: dict[str, Any]) -> None:
        if not self.typing.take():
            return  # typing hints are best effort: extra ones are dropped quietly
        outcome = await db_call(services.typing)(self.user, _uuid(message, "conversation"))
        await self._publish(outcome)

    async def on_fetch(self, message: dict[str, Any]) -> None:
        after = _seq(message, "after")
        changed_after = _moment(message, "changed_after")

        def fetch() -> dict[str, Any]:
            conversation, rows, more = services.messages_after(
                self.user, _uuid(message, "conversation"), after
            )
            changed = (
                services.changed_since(conversation, after, changed_after)
                if changed_after is not None
                else []
            )
            if rows or changed:
                audit_messages_read(self.user, conversation)
            # How far each side has read: receipts that went out while this tab was offline.
            read = services.participants_read(conversation)
            return {
                "type": "history",
                "conversation": str(conversation.uid),
                "messages": [services.message_json(conversation, row) for row in rows],
                "more": more,
                # Corrections and retractions of older messages since "changed_after".
                "changed": [services.message_json(conversation, row) for row in changed],
                "at": timezone.now().isoformat(),
                "read": {
                    services.CLIENT: 0,
                    services.THERAPIST: 0,
                    **{services.role_of(conversation, user): seq for user, seq in read.items()},
                },
            }

        await self.send_json(await db_call(fetch)())

    # --- Events from the channel layer -----------------------------------------------------

    async def inbox_event(self, event: dict[str, Any]) -> None:
        if event.get("origin") == self.channel_name:
            return  # the sending tab hears an "ack" instead
        for frame in event["frames"]:
            await self.send_json(frame)
            if frame.get("type") == "message":
                metrics.message_delivered(frame["message"]["at"])

    async def user_event(self, event: dict[str, Any]) -> None:
        """Per-user events (alerts, waiting room) are for the events socket."""

    async def session_ended(self, event: dict[str, Any]) -> None:
        self.closed = True
        await self.send_json({"type": "session.ended"})
        await self.close(code=SESSION_ENDED)

    async def send_json(self, message: dict[str, Any]) -> None:
        await self.send(text_data=json.dumps(message))
