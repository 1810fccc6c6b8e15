"""A Chromium with fake camera, microphone and speakers, for pages that use media devices.

Import the fixtures into a test module (``from tests.browser.media import media_browser,
media_visitor``). The fake camera shows a test pattern, the fake microphone beeps, and the
permission prompt is answered "allow" by itself. ``--use-fake-ui-for-media-stream`` wins over
any permission setting, so a refused prompt needs a browser without it: :func:`launch_media`
with ``allow=False``.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Playwright

from tests.browser.conftest import CHROMIUM, CHROMIUM_ARGS, MakeVisitor, visitors_in
from tests.browser.server import DemoServer

FAKE_DEVICES = "--use-fake-device-for-media-stream"
ALLOW_DEVICES = "--use-fake-ui-for-media-stream"
MEDIA_ARGS = [
    *CHROMIUM_ARGS,
    FAKE_DEVICES,
    "--autoplay-policy=no-user-gesture-required",
    # Host candidates as plain addresses: runners that block multicast cannot resolve *.local.
    "--disable-features=WebRtcHideLocalIpsWithMdns",
]


def launch_media(playwright: Playwright, *, allow: bool = True) -> Browser:
    """Chromium with fake devices; ``allow=False`` refuses every camera/microphone prompt."""
    args = [*MEDIA_ARGS, ALLOW_DEVICES] if allow else MEDIA_ARGS
    return playwright.chromium.launch(executable_path=str(CHROMIUM), args=args)


@pytest.fixture(scope="session")
def media_browser(playwright: Playwright) -> Iterator[Browser]:
    launched = launch_media(playwright)
    yield launched
    launched.close()


@pytest.fixture
def media_visitor(
    request: pytest.FixtureRequest, media_browser: Browser, server: DemoServer
) -> Iterator[MakeVisitor]:
    """Like ``visitor``, in the fake-media browser: camera and microphone are allowed."""
    with visitors_in(request, media_browser, server) as make:
        yield make
