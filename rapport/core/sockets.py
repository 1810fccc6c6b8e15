"""What every WebSocket consumer shares: the Origin check, the handshake check, the session's
lifetime, the groups each socket joins, reading a frame, and what happens when a handler fails.

The HTTP middleware that signs idle and expired sessions out does not run for sockets, so
consumers check the same rule (``rapport.lib.sessions``) at the handshake and on every frame.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import logging
import re
import time
from typing import Any
from urllib.parse import urlsplit

from channels.db import database_sync_to_async
from channels.exceptions import StopConsumer
from channels.security.websocket import WebsocketDenier
from django.conf import settings
from django.http.request import split_domain_port, validate_host

from rapport.core.realtime import ensure_relay, session_group, user_group
from rapport.lib.sessions import SEEN, STARTED, expiry_reason

log = logging.getLogger(__name__)

MAX_MESSAGE_BYTES = 64 * 1024
# No frame of any socket nests deeper than 2 (a room's SDP or ICE candidate): levels to spare.
MAX_NESTING = 8
SESSION_ENDED = 4001  # close code: signed out, expired or deactivated
SECOND_FACTOR_REQUIRED = 4403  # close code: the role requires an authenticator not yet enrolled
HANDLER_FAILED = 1011  # close code: the server could not handle a frame or event
SESSION_TOUCH_SECONDS = 60

# --- The Origin of a handshake -------------------------------------------------------------------

DEFAULT_PORTS = {"http": 80, "https": 443}


def _origin(url: str) -> tuple[str, str, int] | None:
    """(scheme, host, port) of an http(s) URL or Origin, the port filled in; None if it is not
    one."""
    try:
        parts = urlsplit(url.strip().lower())
        port = parts.port
    except ValueError:
        return None
    if parts.scheme not in DEFAULT_PORTS or not parts.hostname:
        return None
    return parts.scheme, parts.hostname, port or DEFAULT_PORTS[parts.scheme]


def site_origins(host: str = "") -> set[tuple[str, str, int]]:
    """The origins Rapport's pages are served from: the site URL's, every
    ``CSRF_TRUSTED_ORIGINS`` entry, and the one the handshake itself was sent to (``host``, its
    Host header, when ``ALLOWED_HOSTS`` allows it) with the scheme the pages use — the rule
    Django's CSRF check applies to forms."""
    candidates = [settings.SITE_URL, *settings.CSRF_TRUSTED_ORIGINS]
    domain, _port = split_domain_port(host)
    if host and domain and validate_host(domain, settings.ALLOWED_HOSTS):
        candidates.append(f"{'https' if settings.HTTPS else 'http'}://{host}")
    return {origin for url in candidates if (origin := _origin(url)) is not None}


def origin_allowed(scope: dict[str, Any]) -> bool:
    """The handshake's Origin names one of the site's origins: scheme, host and port alike (a
    page on another port of the same host shares the session cookie, so a host name alone is
    not enough)."""
    headers = dict(scope.get("headers", []))
    sent = headers.get(b"origin")
    if sent is None:
        return False
    origin = _origin(sent.decode("latin-1"))
    return origin is not None and origin in site_origins(
        headers.get(b"host", b"").decode("latin-1")
    )


class SiteOriginValidator:
    """ASGI middleware: a WebSocket handshake from anywhere but the site's own pages is refused
    (HTTP 403)."""

    def __init__(self, application: Any) -> None:
        self.application = application

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> Any:
        if origin_allowed(scope):
            return await self.application(scope, receive, send)
        return await WebsocketDenier()(scope, receive, send)


# --- Frames --------------------------------------------------------------------------------------


class FrameError(ValueError):
    """A frame that cannot be read; the message says why, for the sender."""


# A JSON string, or an unterminated one up to the end (a parser stops there anyway). It always
# matches from a quote, so the scan stays linear whatever the text.
_STRING = re.compile(r'"[^"\\]*+(?:\\.[^"\\]*+)*+"?', re.DOTALL)
_NOT_BRACKET = re.compile(r"[^\[\]{}]+")
_DEPTH_STEP = {"[": 1, "{": 1, "]": -1, "}": -1}


def nesting(text: str) -> int:
    """How deeply the JSON in ``text`` nests arrays and objects, without parsing it: brackets
    inside strings do not count. For text that is not JSON it may answer more, never less
    before the point where a parser would stop."""
    if text.count("[") + text.count("{") <= MAX_NESTING:
        return 0  # cannot be deeper than the limit: skip the scan (nearly every frame)
    brackets = _NOT_BRACKET.sub("", _STRING.sub("", text))
    return max(itertools.accumulate(_DEPTH_STEP[b] for b in brackets), default=0)


def read_frame(text_data: str | None, bytes_data: bytes | None) -> Any:
    """The JSON value of a text frame. Every socket reads its frames here, so none of them can
    be made to fail by a frame: binary, too big, nested too deeply (a few kilobytes of ``[`` are
    enough to exhaust the decoder's recursion) or not JSON raise ``FrameError``."""
    if bytes_data is not None or text_data is None:
        raise FrameError("messages must be JSON text")
    if len(text_data.encode("utf-8", "surrogatepass")) > MAX_MESSAGE_BYTES:
        raise FrameError("messages must be at most 64 KB")
    if nesting(text_data) > MAX_NESTING:
        raise FrameError(f"messages may nest at most {MAX_NESTING} levels deep")
    try:
        return json.loads(text_data)
    except (ValueError, RecursionError):
        raise FrameError("message is not valid JSON") from None


class HandlerGuard:
    """First base of every consumer: a handler that fails (a bug, a database error) is logged
    and closes its socket with 1011 instead of ending the consumer on the spot. The ASGI server
    then sends ``websocket.disconnect`` as for any close, so the consumer's own cleanup runs:
    its groups are left and, in a room, the person's presence is cleared for the other side."""

    async def dispatch(self, message: dict[str, Any]) -> None:
        try:
            await super().dispatch(message)  # type: ignore[misc]
        except StopConsumer:
            raise
        except Exception:
            kind = message.get("type")
            log.exception("socket handler for %s failed", kind)  # never the frame's content
            if kind == "websocket.disconnect":
                raise StopConsumer() from None  # the cleanup itself failed: nothing more to do
            with contextlib.suppress(Exception):  # already closing: its disconnect is on its way
                await self.close(code=HANDLER_FAILED)  # type: ignore[attr-defined]


def session_alive(scope: dict[str, Any]) -> bool:
    """The socket's browser session is within its idle and absolute lifetimes."""
    session = scope.get("session")
    if session is None:
        return False
    reason = expiry_reason(
        session,
        time.time(),
        idle_seconds=settings.SESSION_IDLE_TIMEOUT,
        lifetime_seconds=settings.SESSION_ABSOLUTE_LIFETIME,
    )
    return reason is None


def live_groups(scope: dict[str, Any]) -> list[str]:
    """The groups every socket of a signed-in user joins: the user's own ("sign out
    everywhere", deactivation, events) and its browser session's (sign-out in that browser)."""
    groups = [user_group(scope["user"].pk)]
    session_key = getattr(scope.get("session"), "session_key", None)
    if session_key:
        groups.append(session_group(session_key))
    return groups


async def refuse_unless_signed_in(consumer: Any) -> bool:
    """Refuse the handshake of a socket with no signed-in user, whose browser session has run
    out, or whose user's role requires a second factor they have not enrolled (the pages send
    them to enrolment, and no socket may serve them before). True when it was refused.

    A refusal before accepting reaches the client as HTTP 403 whatever close code is given (ASGI
    servers send none), so browsers see a failed connection (1006) and Rapport's pages then ask
    whether the person is still signed in (``socket.js``)."""
    await ensure_relay()  # events stored by the worker reach this process's sockets
    user = consumer.scope.get("user")
    if user is None or not user.is_authenticated or not session_alive(consumer.scope):
        await consumer.close()
        return True
    # The user model's rule (rapport.accounts), asked through the object: core imports no app.
    if user.requires_mfa and await database_sync_to_async(user.second_factor_missing)():
        await consumer.close(code=SECOND_FACTOR_REQUIRED)
        return True
    return False


class SessionToucher:
    """Writing over a socket is activity: keep the browser session's idle timer fresh, at most
    once a minute (the HTTP middleware does the same for requests)."""

    def __init__(self) -> None:
        self.touched = time.monotonic()

    async def touch(self, scope: dict[str, Any]) -> None:
        if time.monotonic() - self.touched < SESSION_TOUCH_SECONDS:
            return
        self.touched = time.monotonic()
        session = scope.get("session")
        if session is not None and session.get(STARTED) is not None:
            session[SEEN] = time.time()
            await database_sync_to_async(session.save)()
