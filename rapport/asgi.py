"""ASGI entry point: Django for HTTP, Channels for WebSockets (session auth, Origin checked)."""

from __future__ import annotations

import gc
import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "rapport.settings")

from django.core.asgi import get_asgi_application

django_application = get_asgi_application()

from rapport.core.sqlite import start_checkpointer  # noqa: E402

# Before any database connection: the server's connections leave checkpoints to this thread.
start_checkpointer()

from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402

from rapport.routing import websocket_urlpatterns  # noqa: E402

application = ProtocolTypeRouter(
    {
        "http": django_application,
        "websocket": AllowedHostsOriginValidator(
            AuthMiddlewareStack(URLRouter(websocket_urlpatterns))
        ),
    }
)

# Everything loaded so far lives as long as the process: keep it out of the garbage collector's
# full passes, which pause every open socket while they run.
gc.freeze()
