"""A token bucket: how sockets limit the frames and messages a person may send."""

from __future__ import annotations

import time


class Bucket:
    """``size`` messages at once, refilled at ``rate`` per second."""

    def __init__(self, size: float, rate: float) -> None:
        self.size, self.rate = size, rate
        self.tokens, self.stamp = size, time.monotonic()

    def take(self) -> bool:
        now = time.monotonic()
        self.tokens = min(self.size, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        if self.tokens < 1:
            return False
        self.tokens -= 1
        return True
