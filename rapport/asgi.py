"""ASGI entry point: Django for HTTP (one thread hop per request: ``rapport.core.http``),
Channels for WebSockets (session auth; the Origin must be one of the site's own, scheme and port
included: ``rapport.core.sockets.origin_allowed``)."""

from __future__ import annotations

import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "rapport.settings")

import django

django.setup(set_prefix=False)  # as django.core.asgi.get_asgi_application does

from rapport.core.http import RequestHandler  # noqa: E402

django_application = RequestHandler()

from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402

from rapport.core.sockets import SiteOriginValidator  # noqa: E402
from rapport.routing import websocket_urlpatterns  # noqa: E402

application = ProtocolTypeRouter(
    {
        "http": django_application,
        "websocket": SiteOriginValidator(AuthMiddlewareStack(URLRouter(websocket_urlpatterns))),
    }
)
