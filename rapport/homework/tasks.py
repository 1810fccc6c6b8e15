"""Background jobs of homework (run by ``rapport worker``): the reminder on the due day."""

from __future__ import annotations

from django.tasks import task  # type: ignore[import-untyped,unused-ignore]


@task()  # type: ignore[untyped-decorator,unused-ignore]
def send_due_reminder(homework_id: int) -> None:
    """On the due day: tell the client, without content, that homework is waiting."""
    from rapport.homework import notifications

    notifications.deliver_due_reminder(homework_id)
