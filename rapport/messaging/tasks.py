"""Background jobs of messaging (run by ``rapport worker``): the clean-up of attachments that
were never sent. (Unread-message emails need no task: the worker sweeps the due ones, see
``rapport.messaging.notifications``.)
"""

from __future__ import annotations

from django.tasks import task  # type: ignore[import-untyped,unused-ignore]


@task()  # type: ignore[untyped-decorator,unused-ignore]
def remove_abandoned() -> None:
    """Delete attachment files uploaded but never sent (queued a day after each upload)."""
    from rapport.messaging.attachments import remove_abandoned_attachments

    remove_abandoned_attachments()
