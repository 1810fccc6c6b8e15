"""Honest small numbers: the Wilson score interval for a proportion, and small-cell suppression
of a table of counts (primary and complementary) so that no hidden count can be worked out by
subtracting the shown ones from a total."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

Z_95 = 1.96


def wilson_interval(successes: int, total: int, z: float = Z_95) -> tuple[float, float]:
    """The Wilson score interval for ``successes`` out of ``total`` (Wilson 1927; Newcombe 1998,
    method 3), as proportions between 0 and 1. It stays inside [0, 1] and behaves at 0 and n."""
    if total <= 0:
        raise ValueError("A proportion needs at least one case.")
    if not 0 <= successes <= total:
        raise ValueError("Successes must be between 0 and the total.")
    p = successes / total
    z2 = z * z
    denominator = 1 + z2 / total
    centre = (p + z2 / (2 * total)) / denominator
    half = (z / denominator) * math.sqrt(p * (1 - p) / total + z2 / (4 * total * total))
    # At 0 and n the bound is exactly 0 or 1; floating point would leave a crumb.
    low = 0.0 if successes == 0 else max(0.0, centre - half)
    high = 1.0 if successes == total else min(1.0, centre + half)
    return low, high


def intervals_overlap(a: tuple[float, float], b: tuple[float, float]) -> bool:
    """Whether two intervals share a point: if they do, no difference is claimed."""
    return a[0] <= b[1] and b[0] <= a[1]


@dataclass(frozen=True)
class SuppressedTable:
    """A table of counts with its margins, and which cells may be shown.

    ``cells[i][j]`` for ``i < rows`` and ``j < columns`` are the counts; column ``columns`` holds
    the row totals, row ``rows`` the column totals, and ``cells[rows][columns]`` the grand total.
    ``hidden[i][j]`` is True where the count must not be shown."""

    cells: tuple[tuple[int, ...], ...]
    hidden: tuple[tuple[bool, ...], ...]

    @property
    def rows(self) -> int:
        return len(self.cells) - 1

    @property
    def columns(self) -> int:
        return len(self.cells[0]) - 1

    def shown(self, row: int, column: int) -> int | None:
        """The count, or None where it is suppressed (row/column ``-1`` is the margin)."""
        i = self.rows if row == -1 else row
        j = self.columns if column == -1 else column
        return None if self.hidden[i][j] else self.cells[i][j]


def suppress(
    counts: Sequence[Sequence[int]],
    threshold: int,
    *,
    hide: Sequence[Sequence[bool]] | None = None,
) -> SuppressedTable:
    """Suppress every count from 1 to ``threshold - 1`` (a zero describes nobody), margins
    included, then hide more cells until no hidden count can be recovered from the rest.

    ``hide`` (the shape of the table with its margins) marks more cells to hide from the start:
    counts of sessions, say, whose cell holds fewer than ``threshold`` clients.

    Each row with its total and each column with its total is one sum. In a sum, a hidden cell
    is safe only if at least one other cell of that sum is hidden too and the hidden cells
    together hold at least ``threshold`` (otherwise their sum, recoverable by subtraction, would
    itself be a small group). Complementary cells are chosen smallest first, inner cells before
    totals, so as little as possible is hidden and the grand total last of all."""
    if threshold < 1:
        raise ValueError("The threshold must be at least 1.")
    rows = len(counts)
    columns = len(counts[0]) if rows else 0
    if any(len(row) != columns for row in counts):
        raise ValueError("Every row needs the same number of columns.")
    if any(value < 0 for row in counts for value in row):
        raise ValueError("Counts cannot be negative.")
    cells = [[*row, sum(row)] for row in counts]
    cells.append([sum(cells[i][j] for i in range(rows)) for j in range(columns + 1)])
    hidden = [[0 < value < threshold for value in row] for row in cells]
    if hide is not None:
        if len(hide) != rows + 1 or any(len(row) != columns + 1 for row in hide):
            raise ValueError("The cells to hide need the table's shape with its margins.")
        hidden = [
            [h or bool(x) for h, x in zip(a, b, strict=True)]
            for a, b in zip(hidden, hide, strict=True)
        ]

    sums: list[list[tuple[int, int]]] = [
        [(i, j) for j in range(columns + 1)] for i in range(rows + 1)
    ] + [[(i, j) for i in range(rows + 1)] for j in range(columns + 1)]

    def margin(cell: tuple[int, int]) -> bool:
        return cell[0] == rows or cell[1] == columns

    changed = True
    while changed:
        changed = False
        for members in sums:
            secret = [c for c in members if hidden[c[0]][c[1]]]
            if not secret:
                continue
            held = sum(cells[i][j] for i, j in secret)
            if len(secret) >= 2 and held >= threshold:
                continue
            if len(secret) == len(members):
                continue  # nothing shown in this sum: nothing to subtract from
            candidates = [c for c in members if not hidden[c[0]][c[1]]]
            pick = min(
                candidates,
                key=lambda c: (margin(c), cells[c[0]][c[1]] == 0, cells[c[0]][c[1]], c),
            )
            hidden[pick[0]][pick[1]] = True
            changed = True
    return SuppressedTable(
        cells=tuple(tuple(row) for row in cells),
        hidden=tuple(tuple(row) for row in hidden),
    )
