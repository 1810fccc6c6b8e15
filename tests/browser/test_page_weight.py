"""The signed-in client home page stays under its 30 kB (compressed) page-weight budget."""

from __future__ import annotations

import pytest

from bench.page_weight import BUDGET_BYTES, measure_pages, report
from tests.browser.server import DemoServer

pytestmark = pytest.mark.browser


def test_client_home_is_under_the_page_weight_budget(server: DemoServer) -> None:
    baseline, home = measure_pages(server.url)
    table = report((baseline, home))
    assert [r.kind for r in home.resources].count("css") >= 1, table
    assert home.total() < BUDGET_BYTES, table
