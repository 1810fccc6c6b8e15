"""Database calls from WebSocket consumers.

Channels wraps every handler in ``close_old_connections()`` and every ``database_sync_to_async``
call in two more, so with ``CONN_MAX_AGE = 0`` each message opened and closed a database
connection: a few milliseconds on SQLite, more on PostgreSQL, and most of a message's cost.
Consumers here run their database work through ``db_call`` instead, on a small pool of threads
whose connections stay open; a connection is closed only when it broke (a database restart) or
was left inside a transaction, so the next call opens a fresh one.

On PostgreSQL the pool has ``RAPPORT_DB_THREADS`` threads (default 4): a send spends most of its
time waiting for the database, so several can wait at once (sends to one conversation queue on
its row lock). SQLite takes one writer at a time, so there it is one thread.

Kept because ``bench/message_delivery.py`` measured Channels' own way (``database_sync_to_async``
on persistent connections, and ``close_old_connections()`` before every handler) overloaded at
400 messages a second where this kept up (docs/architecture.md, "Cost of a message").
"""

from __future__ import annotations

import asyncio
import contextvars
import threading
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from channels.consumer import get_handler_name
from django.conf import settings
from django.db import connections
from django.utils import translation

_pool: ThreadPoolExecutor | None = None
_pool_lock = threading.Lock()


def _on_sqlite() -> bool:
    return "sqlite" in settings.DATABASES["default"]["ENGINE"]


def _threads() -> int:
    return 1 if _on_sqlite() else int(settings.RAPPORT_DB_THREADS)


def _executor() -> ThreadPoolExecutor:
    global _pool
    with _pool_lock:
        if _pool is None:
            _pool = ThreadPoolExecutor(max_workers=_threads(), thread_name_prefix="rapport-db")
        return _pool


def close_pool() -> None:
    """Close every pool thread's connection and stop the pool (tests, before dropping their
    database; the next ``db_call`` starts a new pool)."""
    global _pool
    with _pool_lock:
        pool, _pool = _pool, None
    if pool is not None:
        close_connections_of(pool)


def close_connections_of(pool: ThreadPoolExecutor) -> None:
    """Close the database connection of every thread of ``pool``, then stop it."""
    workers = pool._max_workers
    barrier = threading.Barrier(workers)

    def close_here() -> None:
        barrier.wait(timeout=10)  # one task per thread
        connections.close_all()

    for future in [pool.submit(close_here) for _ in range(workers)]:
        future.result(timeout=30)
    pool.shutdown()


def close_broken_connections() -> None:
    for connection in connections.all(initialized_only=True):
        if connection.connection is None:
            continue
        if not connection.get_autocommit() or (
            connection.errors_occurred and not connection.is_usable()
        ):
            connection.close()


def _call(function: Callable[..., Any], language: str | None, args: Any, kwargs: Any) -> Any:
    """In a pool thread: run ``function`` in the caller's language, then close this thread's
    connection if the call broke it or left a transaction open."""
    try:
        with translation.override(language):
            return function(*args, **kwargs)
    finally:
        close_broken_connections()


def db_call(function: Callable[..., Any]) -> Callable[..., Awaitable[Any]]:
    """Like channels' ``database_sync_to_async``: ``await db_call(function)(arguments)``.

    A plain executor call with the caller's context variables: asgiref's ``SyncToAsync``
    machinery (thread-sensitive mode, re-entry into the event loop) is not needed here, and it
    cost more per message than the call itself. Functions run here must not call
    ``async_to_sync``.
    """

    async def call(*args: Any, **kwargs: Any) -> Any:
        loop = asyncio.get_running_loop()
        context = contextvars.copy_context()
        # The active language is bound to the caller's thread (asgiref's Local): carried over.
        language = translation.get_language()
        return await loop.run_in_executor(
            _executor(), context.run, _call, function, language, args, kwargs
        )

    return call


class KeepConnectionMixin:
    """Dispatch a consumer's messages without Channels' ``close_old_connections()`` before each
    handler (a thread switch, and with ``CONN_MAX_AGE = 0`` a closed connection, per frame and
    per channel-layer event)."""

    async def dispatch(self, message: dict[str, Any]) -> None:
        handler = getattr(self, get_handler_name(message), None)
        if handler is None:
            raise ValueError(f"No handler for message type {message['type']}")
        await handler(message)
