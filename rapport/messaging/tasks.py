"""Background jobs of messaging (run by ``rapport worker``): the unread-message email and the
clean-up of attachments that were never sent.

Thin on purpose: whether the email is still needed, and when, is decided in
``rapport.messaging.notifications`` when the task runs, not when it was queued.
"""

from __future__ import annotations

from django.tasks import task  # type: ignore[import-untyped,unused-ignore]


@task()  # type: ignore[untyped-decorator,unused-ignore]
def send_unread_notice(participant_id: int) -> None:
    """Tell the person, once and without content, that messages wait for them in Rapport."""
    from rapport.messaging import notifications

    notifications.deliver_unread_notice(participant_id)


@task()  # type: ignore[untyped-decorator,unused-ignore]
def remove_abandoned() -> None:
    """Delete attachment files uploaded but never sent (queued a day after each upload)."""
    from rapport.messaging.attachments import remove_abandoned_attachments

    remove_abandoned_attachments()
