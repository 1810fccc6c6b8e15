"""Helpers for tests that talk to Rapport's WebSockets through the real ASGI application."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.conf import settings
from django.test import Client

ORIGIN = b"http://127.0.0.1"


def socket_headers(
    browser: Client | None, origin: bytes | None = ORIGIN
) -> list[tuple[bytes, bytes]]:
    """Handshake headers: Host, the Origin (or none), and ``browser``'s session cookie."""
    headers = [(b"host", b"127.0.0.1")]
    if origin is not None:
        headers.append((b"origin", origin))
    if browser is not None:
        session = browser.cookies[settings.SESSION_COOKIE_NAME].value
        headers.append((b"cookie", f"{settings.SESSION_COOKIE_NAME}={session}".encode()))
    return headers


def run_async(test: Callable[[], Awaitable[None]]) -> None:
    """Run an async test body; thread-sensitive database work comes back to this thread."""

    async def wrapped() -> None:
        layer = get_channel_layer()
        assert layer is not None
        try:
            await test()
        finally:
            await layer.flush()

    async_to_sync(wrapped)()
