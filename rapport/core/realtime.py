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

After an outage of the channel layer (Redis down, or unreachable from this process) the sockets
that stayed open have missed every event of it. The server watches Redis (``ensure_layer_watch``,
a ping every ``WATCH_SECONDS``); when it answers again after a failed ping or a failed publish,
the sockets that asked for it (``catch_up_after_outages``: messages and events) are closed with
``LAYER_RECOVERED``, and the pages reconnect and fetch what they missed by sequence number, as
after any reconnect (docs/protocol.md, "After an outage").

Across processes: Redis carries events between server processes and from the worker. The
embedded configuration's in-process layer cannot, so there the worker and ``rapport manage``
(``deliver_through_database``) store their events as ``PendingEvent`` rows, and the server hands
them to its sockets within ``RELAY_SECONDS`` (``ensure_relay``, started with the first socket).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import weakref
from collections.abc import Iterable
from datetime import timedelta
from typing import Any

import redis
import redis.asyncio
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from rapport.core.db import db_call
from rapport.core.layers import InProcessChannelLayer, group_send_to_others
from rapport.core.models import PendingEvent

log = logging.getLogger(__name__)

Event = dict[str, Any]
Addressed = tuple[str, Event]  # (group, event)

RELAY_SECONDS = 0.5
# An event from another process older than this when the server finds it is dropped: sockets
# that open later load the state from the database, as after any outage.
RELAY_STALE = timedelta(seconds=60)
_through_database = False
_relays: set[asyncio.AbstractEventLoop] = set()

WATCH_SECONDS = 1.0
LAYER_RECOVERED = 1012  # close code ("service restart"): reconnect, then fetch what was missed
_publish_failed = False  # since the last recovery: an event of this process was lost
_watches: set[asyncio.AbstractEventLoop] = set()
_catching_up: weakref.WeakSet[Any] = weakref.WeakSet()


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
    if _through_database and isinstance(layer, InProcessChannelLayer):
        _store_for_the_server(events)
        return
    for group, event in events:
        try:
            async_to_sync(layer.group_send)(group, event)
        except Exception as error:
            # The write has committed; only the live notice is lost (pages catch up on reconnect).
            _publish_lost(error, event, group)


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


async def publish_now(group: str, event: Event, *, skip: str = "") -> None:
    """From a consumer: send now (signaling relayed between two browsers, or an event a service
    returned after its transaction committed). ``skip``: see ``publish_all_now``."""
    await publish_all_now([(group, event)], skip=skip)


async def publish_all_now(events: Iterable[Addressed], *, skip: str = "") -> None:
    """From a consumer: send each (group, event) now, in order (the events a service returned
    after its transaction committed). ``skip``: the sending socket's channel, left out where the
    layer can (its tab hears an acknowledgement instead; receivers drop their own echo anyway)."""
    layer = get_channel_layer()
    for group, event in events:
        check(event)
        if layer is None:
            continue
        try:
            if skip:
                await group_send_to_others(layer, group, event, skip)
            else:
                await layer.group_send(group, event)
        except Exception as error:
            _publish_lost(error, event, group)


async def send_now(channel: str, event: Event) -> None:
    """From a consumer: send to one socket by its channel name (a newer tab tells the one it
    replaces)."""
    check(event)
    layer = get_channel_layer()
    if layer is None:
        return
    try:
        await layer.send(channel, event)
    except Exception as error:
        _publish_lost(error, event, "a socket")


def _publish_lost(error: Exception, event: Event, to: str) -> None:
    """Log a publish that failed; when Redis failed, the sockets catch up once it is back."""
    global _publish_failed
    if isinstance(error, (redis.RedisError, OSError)):
        _publish_failed = True
    log.error("could not publish %s to %s", event.get("type"), to, exc_info=error)


# --- Catching up after an outage of the channel layer ------------------------------------------


def catch_up_after_outages(consumer: Any) -> None:
    """From a consumer's ``connect``: close this socket with ``LAYER_RECOVERED`` when the channel
    layer comes back from an outage, so that its page reconnects and fetches what it missed.
    (Closing a socket whose page already went away does nothing.)"""
    _catching_up.add(consumer)
    ensure_layer_watch()


def ensure_layer_watch() -> None:
    """In a server with the Redis layer: watch Redis from this event loop for as long as it runs
    (the in-process layer cannot fail on its own)."""
    loop = asyncio.get_running_loop()
    if loop in _watches or not settings.REDIS_URL or WATCH_SECONDS <= 0:
        return
    if isinstance(get_channel_layer(), InProcessChannelLayer):
        return
    _watches.add(loop)
    task = loop.create_task(_watch_layer(settings.REDIS_URL))
    task.add_done_callback(lambda _task: _watches.discard(loop))


async def _watch_layer(url: str) -> None:
    global _publish_failed
    client = redis.asyncio.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)
    down = False
    try:
        while True:
            await asyncio.sleep(WATCH_SECONDS)
            try:
                await client.ping()
            except (redis.RedisError, OSError) as error:
                if not down:
                    log.error("Redis unreachable; live events are lost until it returns: %s", error)
                down = True
                continue
            if down or _publish_failed:
                down = _publish_failed = False
                await _tell_sockets_to_catch_up()
    finally:
        with contextlib.suppress(Exception):
            await client.aclose()


async def _tell_sockets_to_catch_up() -> None:
    consumers = list(_catching_up)
    _catching_up.clear()
    log.warning("Redis is back: %d socket(s) asked to reconnect and catch up", len(consumers))
    for consumer in consumers:
        with contextlib.suppress(Exception):  # already closed: its page is gone
            await consumer.close(code=LAYER_RECOVERED)


# --- Between processes in the embedded configuration -------------------------------------------


def deliver_through_database() -> None:
    """This process has no sockets (the worker, ``rapport manage``): with the in-process layer,
    its events go to the server through the database."""
    global _through_database
    _through_database = True


def _store_for_the_server(events: list[Addressed]) -> None:
    try:
        PendingEvent.objects.bulk_create(PendingEvent(group=g, event=e) for g, e in events)
    except Exception:
        log.exception("could not store %d live event(s) for the server", len(events))


def _take_pending() -> list[Addressed]:
    """The events other processes stored, oldest first, removed from the table."""
    if not PendingEvent.objects.exists():
        return []  # the usual answer, without a write transaction (SQLite's lock)
    with transaction.atomic():
        rows = list(PendingEvent.objects.order_by("pk")[:500])
        if not rows:
            return []
        PendingEvent.objects.filter(pk__in=[row.pk for row in rows]).delete()
    fresh_after = timezone.now() - RELAY_STALE
    return [(row.group, row.event) for row in rows if row.created_at >= fresh_after]


async def ensure_relay() -> None:
    """In the server, with the in-process layer: hand other processes' stored events to this
    process's sockets, every ``RELAY_SECONDS``, for as long as the event loop runs. Called when
    a socket connects (a server without sockets has nobody to tell)."""
    loop = asyncio.get_running_loop()
    if loop in _relays or not isinstance(get_channel_layer(), InProcessChannelLayer):
        return
    _relays.add(loop)
    task = loop.create_task(_relay())
    task.add_done_callback(lambda _task: _relays.discard(loop))


async def _relay() -> None:
    while True:
        await asyncio.sleep(RELAY_SECONDS)
        try:
            events = await db_call(_take_pending)()
        except Exception:
            log.exception("could not read the live events of other processes")
            continue
        await publish_all_now(events)
