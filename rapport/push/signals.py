"""What push asks the apps above it.

``quiet_hours_end``: sent with ``user`` and ``now``; a receiver answers when the person's quiet
hours that ``now`` falls in end, or None. Messaging answers it (quiet hours are a messaging
preference, rapport.messaging.preferences); push sends nothing while any receiver says quiet.
"""

from __future__ import annotations

from django.dispatch import Signal

quiet_hours_end = Signal()
