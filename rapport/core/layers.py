"""The channel layer of the embedded configuration (one process, no Redis).

Channels' ``InMemoryChannelLayer`` scans every channel and every group membership for expired
entries on each ``receive`` and ``group_send``. With a few hundred open sockets that scan, not the
delivery, was most of the cost of a message (``bench/message_delivery.py``). Expiry is measured in
minutes (messages) and a day (memberships), so scanning once a second changes nothing else.
"""

from __future__ import annotations

import time

from channels.layers import InMemoryChannelLayer

CLEAN_EVERY_SECONDS = 1.0


class InProcessChannelLayer(InMemoryChannelLayer):  # type: ignore[misc]
    _cleaned_at = 0.0

    def _clean_expired(self) -> None:
        now = time.monotonic()
        if now - self._cleaned_at < CLEAN_EVERY_SECONDS:
            return
        self._cleaned_at = now
        super()._clean_expired()
