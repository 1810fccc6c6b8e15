"""HTTP requests served in one thread hop, on database connections that stay open.

Django's ``ASGIHandler`` runs a request through an asynchronous middleware chain. Every
middleware here (Django's, allauth's and Rapport's) does synchronous work, so the chain switched
threads several times per request: into a worker thread for the middleware, back to the event
loop to resolve the URL, into the thread again for the view, and once more for the request's
signals and ``response.close()``. Each request also got a thread of its own (asgiref's
``ThreadSensitiveContext``), started and stopped with it, and with it a new database connection
(a new PostgreSQL backend process), because Django's connections belong to threads. Under load
the hand-offs queued behind busy threads, and a cancelled hand-off logged "CurrentThreadExecutor
already quit or is broken".

``RequestHandler`` runs the same request the way a threaded WSGI server does: the body is read
on the event loop, then the synchronous handler (``request_started``, the middleware, the view,
exactly Django's ``BaseHandler.get_response``) runs in one call on a pool of
``RAPPORT_WEB_THREADS`` threads, and the response is written from the event loop. The pool's
threads live as long as the process, so their connections are reused
(``RAPPORT_WEB_CONN_MAX_AGE``; ``close_old_connections`` still closes one that broke or was left
in a transaction, at the start and the end of each request, as under WSGI). A streaming response
from a synchronous generator is read on the web thread, then sent.
"""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing
from typing import IO, Any

from asgiref.sync import sync_to_async
from django.conf import settings
from django.core import signals
from django.core.exceptions import RequestAborted
from django.core.handlers import base
from django.core.handlers.asgi import ASGIHandler, get_script_prefix
from django.db import connections
from django.http import FileResponse, HttpResponseBase, StreamingHttpResponse
from django.urls import set_script_prefix

from rapport.core.db import close_connections_of

_pool: ThreadPoolExecutor | None = None
_pool_lock = threading.Lock()


def _executor() -> ThreadPoolExecutor:
    global _pool
    with _pool_lock:
        if _pool is None:
            _pool = ThreadPoolExecutor(
                max_workers=int(settings.RAPPORT_WEB_THREADS),
                thread_name_prefix="rapport-web",
                initializer=_keep_connections,
            )
        return _pool


def _keep_connections() -> None:
    """In a new web thread: its connections (Django's are per thread) are kept for
    ``RAPPORT_WEB_CONN_MAX_AGE`` seconds, with a health check at the start of each request.

    Only here: ``DATABASES``' ``CONN_MAX_AGE`` (0) stays the rule for every other thread, because
    threads that end (asgiref's per-socket threads, a command's helpers) would leave a kept
    connection open until the garbage collector finds it."""
    for alias in connections:
        wrapper = connections[alias]
        wrapper.settings_dict = {
            **wrapper.settings_dict,
            "CONN_MAX_AGE": int(settings.RAPPORT_WEB_CONN_MAX_AGE),
            "CONN_HEALTH_CHECKS": True,
        }


def close_pool() -> None:
    """Close every web thread's connection and stop the pool (tests, before dropping their
    database; the next request starts a new pool)."""
    global _pool
    with _pool_lock:
        pool, _pool = _pool, None
    if pool is not None:
        close_connections_of(pool)


async def in_pool[Result](function: Callable[..., Result], *args: Any) -> Result:
    """``function(*args)`` on a web thread, with the caller's context variables. asgiref's
    ``sync_to_async`` (not thread-sensitive, on this pool) also tells the thread which event loop
    is the server's, so that ``async_to_sync`` in a view (publishing live events) runs there,
    where the sockets and the in-process channel layer live."""
    return await sync_to_async(function, thread_sensitive=False, executor=_executor())(*args)


async def _replay(parts: list[bytes]) -> AsyncIterator[bytes]:
    for part in parts:
        yield part


class RequestHandler(ASGIHandler):
    """Django's ASGI handler with the synchronous middleware chain, run in one thread hop."""

    def __init__(self) -> None:
        base.BaseHandler.__init__(self)  # not ASGIHandler's: it builds the asynchronous chain
        self.load_middleware(is_async=False)

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            raise ValueError(f"Django can only handle ASGI/HTTP connections, not {scope['type']}.")
        try:
            body = await self.read_body(receive)
        except RequestAborted:
            return
        with closing(body):
            response = await in_pool(self.respond, scope, body)
            if (
                isinstance(response, StreamingHttpResponse)
                and not isinstance(response, FileResponse)  # a file: no database, sent as before
                and not response.is_async
            ):
                # A view's generator (the audit CSV) reads the database: on this web thread and
                # its connection, all at once, as Django's handler consumes one (in a thread of
                # its own, with a warning).
                response.streaming_content = _replay(await in_pool(list, response))
            try:
                await self.send_response(response, send)
            finally:
                await in_pool(response.close)  # request_finished: close_old_connections

    def respond(self, scope: dict[str, Any], body: IO[bytes]) -> HttpResponseBase:
        """The whole server side of a request, in this (web) thread."""
        set_script_prefix(get_script_prefix(scope))
        signals.request_started.send(sender=self.__class__, scope=scope)
        request, error_response = self.create_request(scope, body)
        if error_response is not None:  # an undecodable path, a body over the limit
            return error_response
        assert request is not None  # noqa: S101 (create_request returns one of the two)
        response = self.get_response(request)
        response._handler_class = self.__class__  # type: ignore[attr-defined]
        if isinstance(response, FileResponse):
            response.block_size = self.chunk_size
        return response
