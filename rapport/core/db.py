"""Database calls from WebSocket consumers.

Channels wraps every handler in ``close_old_connections()`` and every ``database_sync_to_async``
call in two more, so with ``CONN_MAX_AGE = 0`` each message opened and closed a database
connection: a few milliseconds on SQLite, more on PostgreSQL, and most of a message's cost.
Consumers here run their database work through ``db_call`` instead. All of it runs on the one
thread asgiref keeps for thread-sensitive calls, whose connection stays open; it is closed only
when it broke (a database restart) or was left inside a transaction, so the next call opens a
fresh one.
"""

from __future__ import annotations

from typing import Any

from asgiref.sync import SyncToAsync
from channels.consumer import get_handler_name
from django.db import connections


def close_broken_connections() -> None:
    for connection in connections.all(initialized_only=True):
        if connection.connection is None:
            continue
        if not connection.get_autocommit() or (
            connection.errors_occurred and not connection.is_usable()
        ):
            connection.close()


class KeptConnectionSyncToAsync(SyncToAsync):  # type: ignore[type-arg]
    def thread_handler(self, loop: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return super().thread_handler(loop, *args, **kwargs)  # type: ignore[no-untyped-call]
        finally:
            close_broken_connections()


# Used like channels' database_sync_to_async: ``await db_call(function)(arguments)``.
db_call = KeptConnectionSyncToAsync


class KeepConnectionMixin:
    """Dispatch a consumer's messages without Channels' ``close_old_connections()`` before each
    handler (a thread switch, and with ``CONN_MAX_AGE = 0`` a closed connection, per frame and
    per channel-layer event)."""

    async def dispatch(self, message: dict[str, Any]) -> None:
        handler = getattr(self, get_handler_name(message), None)
        if handler is None:
            raise ValueError(f"No handler for message type {message['type']}")
        await handler(message)
