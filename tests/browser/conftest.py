"""Browser tests: real Chromium against a real uvicorn server running the demo practice.

The server is a subprocess with its own data folder (and its own PostgreSQL database when
``DATABASE_URL`` is set), so these tests never touch pytest-django's test database.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Playwright, sync_playwright

from tests.browser.browsing import AXE_JS, Visitor, install_axe_route
from tests.browser.server import DemoServer, ServerError, demo_server

CHROMIUM = Path(os.environ.get("RAPPORT_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

MakeVisitor = Callable[..., Visitor]
CALL_FAILED = pytest.StashKey[bool]()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    report = yield
    if report.when == "call":
        item.stash[CALL_FAILED] = report.failed
    return report


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoServer]:
    """The demo server, with its data folder inside ``$RAPPORT_DATA_DIR`` when that is set."""
    outer = os.environ.get("RAPPORT_DATA_DIR")
    if outer:
        data_dir = Path(outer) / "browser-server"
        shutil.rmtree(data_dir, ignore_errors=True)
    else:
        data_dir = tmp_path_factory.mktemp("rapport-server")
    try:
        # Push notices may also go to a stand-in push service on this machine (test_app.py).
        push_services = "https://fcm.googleapis.com,http://127.0.0.1"
        with demo_server(data_dir, env={"RAPPORT_PUSH_SERVICES": push_services}) as running:
            yield running
    except ServerError as exc:
        pytest.fail(f"demo server did not start: {exc}")


@pytest.fixture(scope="session")
def playwright() -> Iterator[Playwright]:
    if not CHROMIUM.exists():
        pytest.fail(f"Chromium is required for the browser tests and is missing at {CHROMIUM}")
    if not AXE_JS.exists():
        pytest.fail(f"axe-core is missing at {AXE_JS}: run `npm ci`")
    with sync_playwright() as running:
        yield running


@pytest.fixture(scope="session")
def browser(playwright: Playwright) -> Iterator[Browser]:
    launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
    yield launched
    launched.close()


@contextlib.contextmanager
def visitors_in(
    request: pytest.FixtureRequest, browser: Browser, server: DemoServer
) -> Iterator[MakeVisitor]:
    """Make participants in ``browser``, each with its own context; check and close them after."""
    made: list[Visitor] = []

    def make(name: str, **context_options: Any) -> Visitor:
        # The site-wide service worker (rapport.core.shell) answers the page's requests itself,
        # and Playwright's routes and request events never see requests a worker handles. Tests
        # of the worker itself (the installable app, the offline safety plan) allow it.
        context_options.setdefault("service_workers", "block")
        context = browser.new_context(**context_options)
        context.set_default_timeout(15_000)
        install_axe_route(context)
        participant = Visitor(name, context, server.browser_url)
        made.append(participant)
        return participant

    yield make
    failures = []
    # After a failed test, its own error is the story: skip the end-of-test bookkeeping checks.
    check = not request.node.stash.get(CALL_FAILED, True)
    for participant in made:
        try:
            if check:
                participant.finish()
        except AssertionError as exc:
            failures.append(str(exc))
        finally:
            participant.context.close()
    if failures:
        pytest.fail("\n".join(failures))


@pytest.fixture
def visitor(
    request: pytest.FixtureRequest, browser: Browser, server: DemoServer
) -> Iterator[MakeVisitor]:
    """Make a participant: ``visitor("therapist")`` gets its own browser context and page."""
    with visitors_in(request, browser, server) as make:
        yield make
