"""The browser harness itself: pages that skip or fail the axe audit are caught; the server is
isolated from the test database."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.browser.browsing import AccessibilityError
from tests.browser.conftest import MakeVisitor
from tests.browser.server import DemoServer

pytestmark = pytest.mark.browser


def test_a_page_loaded_around_the_helper_is_flagged(visitor: MakeVisitor) -> None:
    raw = visitor("raw")
    raw.page.goto(raw.url("/accounts/login/"))  # bypasses Visitor.goto on purpose
    with pytest.raises(AssertionError, match="never audited"):
        raw.finish()
    raw.audit()  # audited now: the fixture's own end-of-test check passes


def test_axe_violations_fail_with_a_readable_report(visitor: MakeVisitor) -> None:
    broken = visitor("broken")
    broken.goto("/accounts/login/")
    broken.page.evaluate(
        "document.querySelector('main').append(Object.assign(document.createElement('input'),"
        " {type: 'text', name: 'unlabelled'}))"
    )
    with pytest.raises(AccessibilityError, match=r"(?s)\[critical\] label: .*unlabelled"):
        broken.audit()


def test_csp_violations_are_caught(visitor: MakeVisitor) -> None:
    injector = visitor("inline script")
    page = injector.goto("/accounts/login/")
    page.evaluate(
        "document.head.append(Object.assign(document.createElement('script'),"
        " {textContent: 'window.inlineRan = true'}))"
    )
    assert page.evaluate("window.inlineRan === undefined"), "the CSP let an inline script run"
    page.wait_for_timeout(200)  # console events arrive asynchronously
    with pytest.raises(AssertionError, match="CSP violations"):
        injector.finish()
    injector.csp_violations.clear()  # seen: the fixture's own end-of-test check passes


def test_the_server_has_its_own_database(server: DemoServer) -> None:
    """Never pytest-django's test database: SQLite in its own folder, or its own PostgreSQL db."""
    vendor, name = server.shell(
        "from django.db import connection; "
        "print(connection.vendor, connection.settings_dict['NAME'])"
    ).split()
    if os.environ.get("DATABASE_URL"):
        assert vendor == "postgresql"
        assert name.endswith("_browser") and not name.startswith("test_"), name
    else:
        assert vendor == "sqlite"
        assert Path(name).parent == server.data_dir, name
