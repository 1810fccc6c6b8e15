"""rapport.lib.statistics: Wilson intervals against published values, and small-cell
suppression that no subtraction from the totals can undo."""

from __future__ import annotations

import itertools

import pytest

from rapport.lib.statistics import intervals_overlap, suppress, wilson_interval

# Newcombe RG (1998), "Two-sided confidence intervals for the single proportion: comparison of
# seven methods", Statistics in Medicine 17:857-872, Table I, method 3 (Wilson score, no
# continuity correction), to 4 decimals.
NEWCOMBE_1998 = [
    (81, 263, 0.2553, 0.3662),
    (15, 148, 0.0624, 0.1605),
    (0, 20, 0.0000, 0.1611),
    (1, 29, 0.0061, 0.1718),
]


@pytest.mark.parametrize(("successes", "total", "low", "high"), NEWCOMBE_1998)
def test_wilson_matches_newcombe_1998(successes: int, total: int, low: float, high: float) -> None:
    got_low, got_high = wilson_interval(successes, total)
    assert round(got_low, 4) == low
    assert round(got_high, 4) == high


def test_wilson_is_exact_at_the_ends_and_symmetric() -> None:
    assert wilson_interval(0, 7)[0] == 0.0
    assert wilson_interval(7, 7)[1] == 1.0
    low, high = wilson_interval(3, 10)
    mirror_low, mirror_high = wilson_interval(7, 10)
    assert low == pytest.approx(1 - mirror_high)
    assert high == pytest.approx(1 - mirror_low)
    # A wider z gives a wider interval.
    assert wilson_interval(3, 10, z=2.576)[0] < low


@pytest.mark.parametrize(("successes", "total"), [(1, 0), (-1, 5), (6, 5)])
def test_wilson_refuses_impossible_counts(successes: int, total: int) -> None:
    with pytest.raises(ValueError, match=r"proportion|Successes"):
        wilson_interval(successes, total)


def test_overlap() -> None:
    assert intervals_overlap((0.1, 0.3), (0.3, 0.5))
    assert intervals_overlap((0.1, 0.6), (0.2, 0.3))
    assert not intervals_overlap((0.1, 0.29), (0.3, 0.5))


def _recoverable(table: list[list[int]], hidden: list[list[bool]]) -> set[tuple[int, int]]:
    """Hidden cells an attacker can solve for exactly: a row or column sum (margins included)
    with exactly one hidden member gives that member away; repeat until nothing more falls."""
    rows, columns = len(table), len(table[0])
    known = [[not h for h in row] for row in hidden]
    lines = [[(i, j) for j in range(columns)] for i in range(rows)] + [
        [(i, j) for i in range(rows)] for j in range(columns)
    ]
    solved: set[tuple[int, int]] = set()
    changed = True
    while changed:
        changed = False
        for line in lines:
            unknown = [c for c in line if not known[c[0]][c[1]]]
            if len(unknown) == 1:
                i, j = unknown[0]
                known[i][j] = True
                solved.add((i, j))
                changed = True
    return solved


TABLES = [
    # One small cell in a row of two: its neighbour goes too, or total - neighbour gives it.
    [[3, 40], [30, 25], [50, 60]],
    # A small cell alone in its column as well as its row.
    [[12, 4, 30], [20, 25, 30], [40, 41, 50]],
    # A small row total (every cell of the row is small).
    [[2, 3], [40, 50], [30, 35]],
    # Two small cells in a row that together still make a small group.
    [[3, 4, 80], [20, 30, 40], [25, 35, 45]],
    # Zeros describe nobody and stay shown.
    [[0, 50], [20, 30]],
    # Nothing small: nothing hidden.
    [[10, 20], [30, 40]],
]


@pytest.mark.parametrize("table", TABLES)
def test_no_hidden_count_can_be_recovered_by_subtraction(table: list[list[int]]) -> None:
    result = suppress(table, threshold=10)
    hidden = [list(row) for row in result.hidden]
    cells = [list(row) for row in result.cells]
    # Every small non-zero count is hidden (primary), margins included.
    for i, j in itertools.product(range(len(cells)), range(len(cells[0]))):
        if 0 < cells[i][j] < 10:
            assert hidden[i][j], (i, j)
    assert _recoverable(cells, hidden) == set()
    # In every sum, the hidden members together are not a small group either.
    for i, row in enumerate(cells):
        secret = [v for v, h in zip(row, hidden[i], strict=True) if h]
        assert not secret or len(secret) == len(row) or sum(secret) >= 10
    for j in range(len(cells[0])):
        column = [(cells[i][j], hidden[i][j]) for i in range(len(cells))]
        secret = [v for v, h in column if h]
        assert not secret or len(secret) == len(column) or sum(secret) >= 10


def test_the_subtraction_case_hides_the_neighbour() -> None:
    result = suppress([[3, 40], [30, 25], [50, 60]], threshold=10)
    assert result.shown(0, 0) is None
    assert result.shown(0, 1) is None  # else 43 - 40 = 3
    assert result.shown(0, -1) == 43  # the row total stays
    assert result.shown(-1, -1) == 208  # the grand total stays
    # The column of the 3 needed a second hidden cell too: the smallest, 30.
    assert result.shown(1, 0) is None
    assert result.shown(2, 0) == 50


def test_nothing_hidden_when_nothing_is_small() -> None:
    result = suppress([[10, 20], [30, 40]], threshold=10)
    assert not any(any(row) for row in result.hidden)
    assert result.shown(1, 1) == 40


def test_bad_tables_are_refused() -> None:
    with pytest.raises(ValueError, match="same number"):
        suppress([[1, 2], [3]], threshold=10)
    with pytest.raises(ValueError, match="negative"):
        suppress([[1, -2]], threshold=10)
    with pytest.raises(ValueError, match="threshold"):
        suppress([[1, 2]], threshold=0)
