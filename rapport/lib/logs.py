"""Keep an outage from flooding the log.

With the database or Redis down, every request (and every retry of a background loop) fails the
same way, many times a second. ``CollapseRepeats`` lets the first such record through, traceback
and all, counts its repeats for a while instead of writing them, and says how many there were on
the next one it lets through.
"""

from __future__ import annotations

import copy
import logging
import threading
import time

Key = tuple[str, int, str, str]


def _key(record: logging.LogRecord) -> Key:
    """Records alike: same logger, level, message template (not its arguments: the request path
    differs from one failed request to the next) and exception type."""
    error = record.exc_info[0] if record.exc_info else None
    return (record.name, record.levelno, str(record.msg), error.__name__ if error else "")


class CollapseRepeats(logging.Filter):
    """A logging filter: of the warnings and errors alike (``_key``), one per ``seconds`` is
    written; the one written after a quiet spell carries the count of those left out before it.
    Records below ``level`` always pass."""

    clock = staticmethod(time.monotonic)  # tests move it forward
    MAX_KINDS = 1000  # kinds remembered; older ones are forgotten beyond that

    def __init__(self, seconds: float = 60, level: int = logging.WARNING) -> None:
        super().__init__()
        self.seconds = seconds
        self.level = level
        self._lock = threading.Lock()
        # kind -> [when its last written record was written, repeats left out since]
        self._kinds: dict[Key, list[float]] = {}

    def filter(self, record: logging.LogRecord) -> bool | logging.LogRecord:
        if record.levelno < self.level or self.seconds <= 0:
            return True
        key = _key(record)
        now = self.clock()
        with self._lock:
            kind = self._kinds.get(key)
            if kind is not None and now - kind[0] < self.seconds:
                kind[1] += 1
                return False
            left_out = int(kind[1]) if kind is not None else 0
            self._kinds[key] = [now, 0]
            if len(self._kinds) > self.MAX_KINDS:
                self._forget_before(now - self.seconds)
        if not left_out:
            return True
        # A copy for this handler: other handlers (the tests' log capture) see the record as is.
        since = now - kind[0] if kind is not None else 0.0
        counted = copy.copy(record)
        counted.msg = (
            f"{record.msg} [repeated {left_out} more time{'s' if left_out > 1 else ''} "
            f"in the {since:.0f} s before; those were not logged]"
        )
        return counted

    def _forget_before(self, moment: float) -> None:
        for key in [key for key, (written, _) in self._kinds.items() if written < moment]:
            del self._kinds[key]
