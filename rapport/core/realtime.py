"""The one way Rapport publishes live events to open sockets.

A write publishes only after it commits (``publish``, ``to_user``: inside a transaction they wait
for the commit; outside one they send at once), so no browser hears of a change that was rolled
back. Publishing never fails the caller: a channel-layer error (Redis down) is logged and the
event is lost, never the committed write. Sockets that were down catch up from the database.

Events are channel-layer messages: ``{"type": <handler>, ...}`` sent to a group. Their content
must be plain JSON (the Redis layer serialises them; the in-process layer hands the same object
to every socket), which ``RAPPORT_CHECK_EVENTS`` (on in the tests) verifies on every publish.

Consumers, which run in the event loop, use ``publish_now`` for what they relay without a write
(signaling between two browsers) and for the events a service returned after it committed.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Iterable
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.conf import settings
from django.db import transaction

log = logging.getLogger(__name__)

Event = dict[str, Any]
Addressed = tuple[str, Event]  # (group, event)


def user_group(user_id: int) -> str:
    """Every open socket of one person (events, messages, visit rooms)."""
    return f"user-{user_id}"


def session_group(session_key: str) -> str:
    """The sockets opened by one browser session (hashed: group names end up in Redis keys)."""
    return "session-" + hashlib.sha256(session_key.encode()).hexdigest()[:32]


def check(event: Event) -> None:
    """Refuse an event that is not plain JSON (only when ``RAPPORT_CHECK_EVENTS`` is on)."""
    if not getattr(settings, "RAPPORT_CHECK_EVENTS", False):
        return
    if not isinstance(event.get("type"), str):
        raise TypeError(f"an event needs a string 'type': {event!r}")
    try:
        same = json.loads(json.dumps(event)) == event
    except (TypeError, ValueError) as error:
        raise TypeError(f"an event must be plain JSON: {error}") from None
    if not same:
        raise TypeError(f"an event must be plain JSON (tuples, non-string keys?): {event!r}")


def deliver(events: list[Addressed]) -> None:
    """Hand events to the channel layer now, in order, logging (never raising) a failure.
    ``publish_all`` calls it after commit; the tests capture what leaves here."""
    layer = get_channel_layer()
    if layer is None:
        return
    for group, event in events:
        try:
            async_to_sync(layer.group_send)(group, event)
        except Exception:
            # The write has committed; only the live notice is lost (pages catch up on reconnect).
            log.exception("could not publish %s to %s", event.get("type"), group)


def publish(group: str, event: Event) -> None:
    """Send ``event`` to ``group`` after the current transaction commits (now, outside one)."""
    publish_all([(group, event)])


def publish_to_user(user_id: int, event: Event) -> None:
    """``publish`` to the events sockets of ``user_id`` (``user.event`` carries ``event``)."""
    publish(user_group(user_id), {"type": "user.event", "event": event})


def close_sockets(group: str) -> None:
    """After commit, close the sockets of ``group``: their session was signed out or ended."""
    publish(group, {"type": "session.ended"})


def publish_all(events: Iterable[Addressed]) -> None:
    """``publish`` each (group, event), in order."""
    events = list(events)
    for _group, event in events:
        check(event)
    if events:
        transaction.on_commit(lambda: deliver(events), robust=True)


async def publish_now(group: str, event: Event) -> None:
    """From a consumer: send now (signaling relayed between two browsers)."""
    await publish_all_now([(group, event)])


async def publish_all_now(events: Iterable[Addressed]) -> None:
    """From a consumer: send each (group, event) now, in order (the events a service returned
    after its transaction committed)."""
    layer = get_channel_layer()
    for group, event in events:
        check(event)
        if layer is None:
            continue
        try:
            await layer.group_send(group, event)
        except Exception:
            log.exception("could not publish %s to %s", event.get("type"), group)


async def send_now(channel: str, event: Event) -> None:
    """From a consumer: send to one socket by its channel name (a newer tab tells the one it
    replaces)."""
    check(event)
    layer = get_channel_layer()
    if layer is None:
        return
    try:
        await layer.send(channel, event)
    except Exception:
        log.exception("could not send %s to a socket", event.get("type"))
