"""The ledger: invoices, payments, write-offs, balances and statements, exact in minor units."""

from __future__ import annotations

import pytest

from rapport.billing.ledger import split_exactly


@pytest.mark.parametrize(
    ("total", "weights", "shares"),
    [
        (100, [1, 1, 1], [34, 33, 33]),
        (200, [1, 1, 1], [67, 67, 66]),
        (100, [15000, 15000, 15000], [34, 33, 33]),
        (1, [3, 3, 3], [1, 0, 0]),
        (2, [1, 2], [1, 1]),
        (10, [1, 2], [3, 7]),
        (99, [12345, 6789, 1], [64, 35, 0]),
        (0, [5, 5], [0, 0]),
        (7, [0, 0], [0, 0]),
        (15000, [15000, 0], [15000, 0]),
        (100, [1, 0, 1], [50, 0, 50]),
    ],
)
def test_split_exactly_sums_to_the_total(total: int, weights: list[int], shares: list[int]) -> None:
    got = split_exactly(total, weights)
    assert got == shares
    if any(weights):
        assert sum(got) == total


def test_split_exactly_refuses_negative_amounts() -> None:
    with pytest.raises(ValueError, match="non-negative"):
        split_exactly(-1, [1])
