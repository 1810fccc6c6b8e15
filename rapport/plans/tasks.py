"""Background jobs of treatment plans (run by ``rapport worker``): the review-due email."""

from __future__ import annotations

from django.tasks import task  # type: ignore[import-untyped,unused-ignore]


@task()  # type: ignore[untyped-decorator,unused-ignore]
def send_review_reminder(version_id: int) -> None:
    """On the review date: tell the therapist, without content, that a plan is due for review."""
    from rapport.plans import notifications

    notifications.deliver_review_reminder(version_id)
