"""Background jobs of scheduling (run by ``rapport worker``): change emails and reminders.

Thin on purpose: what to send, and whether it is still worth sending, is decided in
``rapport.scheduling.notifications`` when the task runs, not when it was queued. Each task
imports what it runs when it runs: the modules that queue tasks import this one.
"""

from __future__ import annotations

from django.tasks import task  # type: ignore[import-untyped,unused-ignore]


@task()  # type: ignore[untyped-decorator,unused-ignore]
def send_appointment_email(appointment_id: int, change: str, revision: int, recipient: str) -> None:
    """Tell ``recipient`` ("client" or "therapist") about ``change``, if still the newest."""
    from rapport.scheduling import notifications

    notifications.deliver_change(appointment_id, change, revision, recipient)


@task()  # type: ignore[untyped-decorator,unused-ignore]
def send_reminder(appointment_id: int, minutes_before: int, starts_at_iso: str) -> None:
    """Remind the client ``minutes_before`` the session, once, if it is still at that time."""
    from rapport.scheduling import notifications

    notifications.deliver_reminder(appointment_id, minutes_before, starts_at_iso)


@task()  # type: ignore[untyped-decorator,unused-ignore]
def send_start_notice(appointment_id: int, starts_at_iso: str) -> None:
    """Push "starts in 10 minutes" to both people, once, if it is still at that time."""
    from rapport.scheduling import notifications

    notifications.deliver_start_notice(appointment_id, starts_at_iso)
