"""Page-weight budgets (compressed): the signed-in client home under 30 kB, the room 100 kB."""

from __future__ import annotations

import pytest

from bench.page_weight import BUDGET_BYTES, ROOM_BUDGET_BYTES, measure_pages, measure_room, report
from tests.browser.server import DemoServer

pytestmark = pytest.mark.browser


def test_client_home_is_under_the_page_weight_budget(server: DemoServer) -> None:
    baseline, home = measure_pages(server.url)
    table = report((baseline, home))
    assert [r.kind for r in home.resources].count("css") >= 1, table
    assert home.total() < BUDGET_BYTES, table


def test_session_room_is_under_its_page_weight_budget(server: DemoServer) -> None:
    room = measure_room(server)
    table = report((room,), ROOM_BUDGET_BYTES)
    kinds = [r.kind for r in room.resources]
    assert kinds.count("js") >= 5, table  # room.js and the modules it preloads
    assert room.total() < ROOM_BUDGET_BYTES, table
