"""Half-open time intervals [start, end) and the little algebra availability needs."""

from __future__ import annotations

import zoneinfo
from collections.abc import Iterable, Iterator
from datetime import UTC, date, datetime, time, timedelta

Interval = tuple[datetime, datetime]


def merge(intervals: Iterable[Interval]) -> list[Interval]:
    """Sorted, non-overlapping union of ``intervals``."""
    merged: list[Interval] = []
    for start, end in sorted(i for i in intervals if i[1] > i[0]):
        if merged and start <= merged[-1][1]:
            if end > merged[-1][1]:
                merged[-1] = (merged[-1][0], end)
        else:
            merged.append((start, end))
    return merged


def subtract(base: list[Interval], holes: list[Interval]) -> list[Interval]:
    """``base`` minus ``holes``; both sorted and merged."""
    result: list[Interval] = []
    index = 0
    for start, end in base:
        cursor = start
        while index < len(holes) and holes[index][1] <= cursor:
            index += 1
        probe = index
        while probe < len(holes) and holes[probe][0] < end:
            hole_start, hole_end = holes[probe]
            if hole_start > cursor:
                result.append((cursor, hole_start))
            cursor = max(cursor, hole_end)
            if cursor >= end:
                break
            probe += 1
        if cursor < end:
            result.append((cursor, end))
    return result


def local_to_utc(day: date, wall: time, zone: zoneinfo.ZoneInfo) -> datetime:
    """The UTC instant of wall-clock ``wall`` on ``day`` in ``zone``.

    An ambiguous fall-back time takes its first occurrence (fold=0), as people read "09:00" that
    day. A time skipped by a spring-forward change is read with the offset from before it, so it
    moves forward by the length of the gap: 02:00 becomes 03:00 in New York, and 02:30 on Lord
    Howe Island, where the clocks skip only half an hour.
    """
    return datetime.combine(day, wall, tzinfo=zone).astimezone(UTC)


def days(first: date, last: date) -> Iterator[date]:
    current = first
    while current <= last:
        yield current
        current += timedelta(days=1)
