"""The installable app: the web app manifest, the site-wide service worker (offline shell and
push notices) and the page it shows without a network.

None of them holds anyone's data, so all three answer everyone, signed in or not, like static
files. The worker's script carries a version made from everything it keeps (its own source, the
offline page, the stylesheet, the icons): a deployment that changes any of them changes the
version, so browsers install the new worker and it deletes the old copies.
"""

from __future__ import annotations

import hashlib
import json
from functools import cache
from importlib.metadata import version
from pathlib import Path

from django.conf import settings
from django.contrib.staticfiles import finders
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.template.loader import get_template, render_to_string
from django.templatetags.static import static
from django.urls import reverse
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

WORKER = Path(__file__).parent / "worker" / "app-sw.js"
THEME_COLOUR = "#1f5c8a"  # --accent in rapport.css
BACKGROUND_COLOUR = "#fbfaf7"  # --paper
# (static path, size, purpose)
ICONS = [
    ("rapport/icons/icon-192.png", 192, "any"),
    ("rapport/icons/icon-512.png", 512, "any"),
    ("rapport/icons/maskable-192.png", 192, "maskable"),
    ("rapport/icons/maskable-512.png", 512, "maskable"),
]
APPLE_TOUCH_ICON = "rapport/icons/apple-touch-icon-180.png"
# What the offline page needs besides itself, kept by the worker.
SHELL_STATIC = ["rapport/rapport.css", *(path for path, _size, _purpose in ICONS)]


@require_GET
def web_manifest(request: HttpRequest) -> HttpResponse:
    """The web app manifest: what a phone needs to put Rapport on its home screen."""
    name = settings.RAPPORT_PRACTICE_NAME
    manifest = {
        "id": "/",
        "name": name,
        "short_name": name if len(name) <= 12 else name[:12].rstrip(),
        "description": _("Private, measured therapy: sessions, messages and questionnaires."),
        "lang": get_language(),
        "start_url": reverse("home"),
        "scope": "/",
        "display": "standalone",
        "orientation": "any",
        "theme_color": THEME_COLOUR,
        "background_color": BACKGROUND_COLOUR,
        "icons": [
            {
                "src": static(path),
                "sizes": f"{size}x{size}",
                "type": "image/png",
                "purpose": purpose,
            }
            for path, size, purpose in ICONS
        ],
    }
    response = JsonResponse(manifest, content_type="application/manifest+json")
    response["Cache-Control"] = "no-cache"
    return response


@require_GET
def service_worker(request: HttpRequest) -> HttpResponse:
    """The site-wide service worker, with this deployment's version and shell in it."""
    source = (
        WORKER.read_text(encoding="utf-8")
        .replace("__VERSION__", shell_version())
        .replace("__OFFLINE__", reverse("offline"))
        .replace("__SHELL__", json.dumps(shell_urls()))
    )
    response = HttpResponse(source, content_type="text/javascript; charset=utf-8")
    response["Service-Worker-Allowed"] = "/"
    # Browsers check for a new worker at every navigation; never from an HTTP cache.
    response["Cache-Control"] = "no-cache, no-store, max-age=0"
    return response


@require_GET
def offline(request: HttpRequest) -> HttpResponse:
    """What the app shows when the network cannot be reached. Rendered without the request: the
    same for everyone, with no one's name or data on it, and no script."""
    context = {"practice_name": settings.RAPPORT_PRACTICE_NAME, "theme_colour": THEME_COLOUR}
    return HttpResponse(render_to_string("rapport/offline.html", context))


def shell_urls() -> list[str]:
    return [reverse("offline"), *(static(path) for path in SHELL_STATIC)]


@cache
def shell_version() -> str:
    """A digest of everything the worker keeps and of the worker itself."""
    digest = hashlib.sha256(version("rapport").encode())
    digest.update(WORKER.read_bytes())
    template = get_template("rapport/offline.html")
    digest.update(Path(template.origin.name).read_bytes())  # type: ignore[attr-defined]
    for path in SHELL_STATIC:
        found = finders.find(path)
        digest.update(Path(str(found)).read_bytes() if found else path.encode())
    return digest.hexdigest()[:16]
