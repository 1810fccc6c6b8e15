"""Background jobs of the journal (run by ``rapport worker``): the daily check-in reminder."""

from __future__ import annotations

from datetime import date

from django.tasks import task  # type: ignore[import-untyped,unused-ignore]


@task()  # type: ignore[untyped-decorator,unused-ignore]
def send_mood_reminder(client_id: int, day: str, revision: int, first: bool = True) -> None:
    """At the client's chosen time on ``day``: remind them, without content, to check in, and
    (``first``: not a reminder that waited for quiet hours) queue the next day's."""
    from rapport.journal import notifications

    notifications.deliver_mood_reminder(client_id, date.fromisoformat(day), revision, first=first)
