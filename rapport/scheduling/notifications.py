"""What happens after an appointment changes: emails with calendar invitations, and reminders.

Called after commit only (``transaction.on_commit``), so nobody is told about a rolled-back change.
"""

from __future__ import annotations


def appointment_changed(appointment_id: int, change: str) -> None:
    """Queue the emails for ``change`` ("booked", "moved", "cancelled") and the reminders."""
    # Filled in by the notifications work: emails with iCalendar parts, reminder scheduling.
    return None
