"""The channel layer of the embedded configuration (one process, no Redis).

Channels' ``InMemoryChannelLayer`` does, for every event: a scan of every channel and every
group membership for expired entries, a task per group member, a deep copy of the event per
member, and a new queue per ``receive``. With a few hundred open sockets that, not the delivery,
was most of the cost of a message (``bench/message_delivery.py``). This layer keeps the same
contract (the channel layer specification: ``send``, ``receive``, ``new_channel``, groups,
``flush``; per-channel capacity; events expire after ``expiry`` seconds unreceived and their
channel leaves its groups; memberships end after ``group_expiry``) and does the bookkeeping
once a second instead.

Kept because ``bench/message_delivery.py`` measured the embedded server overloaded at 400
messages a second with Channels' layer (docs/architecture.md, "Cost of a message").

One difference: an event is handed to every receiver as the same dictionary, not a copy.
Rapport builds a new event for every send and no handler changes the event it receives; with
Redis the events are serialised, so code that changed a received event would behave differently
on the two layers — don't.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import string
import time
from typing import Any

from channels.exceptions import ChannelFull
from channels.layers import BaseChannelLayer

SWEEP_EVERY_SECONDS = 1.0
MEMBERSHIPS_EVERY_SECONDS = 60.0


class InProcessChannelLayer(BaseChannelLayer):  # type: ignore[misc]
    extensions = ["groups", "flush"]
    clock = staticmethod(time.monotonic)  # tests move it forward

    def __init__(
        self,
        expiry: int = 60,
        group_expiry: int = 86400,
        capacity: int = 100,
        channel_capacity: dict[str, int] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(
            expiry=expiry, capacity=capacity, channel_capacity=channel_capacity, **kwargs
        )
        self.group_expiry = group_expiry
        # channel -> queue of (expires at, event); group -> {channel: joined at}
        self.channels: dict[str, asyncio.Queue[tuple[float, dict[str, Any]]]] = {}
        self.groups: dict[str, dict[str, float]] = {}
        self._swept_at = self._memberships_swept_at = self.clock()

    # --- Channels --------------------------------------------------------------------------

    def _queue(self, channel: str) -> asyncio.Queue[tuple[float, dict[str, Any]]]:
        queue = self.channels.get(channel)
        if queue is None:
            queue = self.channels[channel] = asyncio.Queue(maxsize=self.get_capacity(channel))
        return queue

    def _put(self, channel: str, message: dict[str, Any], expires_at: float) -> None:
        try:
            self._queue(channel).put_nowait((expires_at, message))
        except asyncio.QueueFull:
            raise ChannelFull(channel) from None

    async def send(self, channel: str, message: dict[str, Any]) -> None:
        if not isinstance(message, dict):
            raise TypeError("message is not a dict")
        self.require_valid_channel_name(channel)
        self._sweep()
        self._put(channel, message, self.clock() + self.expiry)

    async def receive(self, channel: str) -> dict[str, Any]:
        self.require_valid_channel_name(channel)
        self._sweep()
        queue = self._queue(channel)
        try:
            _, message = await queue.get()
        except asyncio.CancelledError:
            # The receiver went away (its consumer ended): forget an empty channel.
            if queue.empty() and self.channels.get(channel) is queue:
                del self.channels[channel]
            raise
        return message

    async def new_channel(self, prefix: str = "specific.") -> str:
        suffix = "".join(random.choices(string.ascii_letters, k=12))  # noqa: S311 (a name, not a secret)
        return f"{prefix}.inprocess!{suffix}"

    # --- Groups ----------------------------------------------------------------------------

    async def group_add(self, group: str, channel: str) -> None:
        self.require_valid_group_name(group)
        self.require_valid_channel_name(channel)
        self.groups.setdefault(group, {})[channel] = self.clock()

    async def group_discard(self, group: str, channel: str) -> None:
        self.require_valid_channel_name(channel)
        self.require_valid_group_name(group)
        members = self.groups.get(group)
        if members is not None:
            members.pop(channel, None)
            if not members:
                del self.groups[group]

    async def group_send(
        self, group: str, message: dict[str, Any], *, skip: str | None = None
    ) -> None:
        """Send to every member of ``group`` (but ``skip``, a member that needs no copy)."""
        if not isinstance(message, dict):
            raise TypeError("message is not a dict")
        self.require_valid_group_name(group)
        self._sweep()
        members = self.groups.get(group)
        if not members:
            return
        expires_at = self.clock() + self.expiry
        for channel in list(members):
            if channel == skip:
                continue
            # As in every channel layer, a member whose queue is full misses group events.
            with contextlib.suppress(ChannelFull):
                self._put(channel, message, expires_at)

    # --- Housekeeping ------------------------------------------------------------------------

    def _sweep(self) -> None:
        """Once a second, drop events nobody received in time (their channel leaves its groups:
        its consumer is gone); once a minute, memberships older than ``group_expiry``."""
        now = self.clock()
        if now - self._swept_at < SWEEP_EVERY_SECONDS:
            return
        self._swept_at = now
        dead = set()
        for channel, queue in list(self.channels.items()):
            while not queue.empty() and queue._queue[0][0] < now:  # type: ignore[attr-defined]
                queue.get_nowait()
                dead.add(channel)
            if channel in dead and queue.empty():
                del self.channels[channel]
        if not dead and now - self._memberships_swept_at < MEMBERSHIPS_EVERY_SECONDS:
            return
        self._memberships_swept_at = now
        joined_before = now - self.group_expiry
        for group, members in list(self.groups.items()):
            for channel, joined_at in list(members.items()):
                if channel in dead or joined_at < joined_before:
                    del members[channel]
            if not members:
                del self.groups[group]

    async def flush(self) -> None:
        self.channels = {}
        self.groups = {}

    async def close(self) -> None:
        """Nothing to release."""


async def group_send_to_others(
    layer: BaseChannelLayer, group: str, message: dict[str, Any], sender: str
) -> None:
    """``group_send`` for the other members of a group the sending channel is in (a person's
    other tabs). The in-process layer leaves the sender out; other layers deliver to it too, so
    receivers still drop events that carry their own channel as the origin."""
    if isinstance(layer, InProcessChannelLayer):
        await layer.group_send(group, message, skip=sender)
    else:
        await layer.group_send(group, message)
