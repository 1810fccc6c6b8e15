"""Background jobs of intake (run by ``rapport worker``): the content-free notice to the client."""

from __future__ import annotations

from django.tasks import task  # type: ignore[import-untyped,unused-ignore]


@task()  # type: ignore[untyped-decorator,unused-ignore]
def send_intake_notice(intake_id: int) -> None:
    """Tell the client, without content, that a form waits for them."""
    from rapport.intake import notifications

    notifications.deliver_intake_notice(intake_id)
