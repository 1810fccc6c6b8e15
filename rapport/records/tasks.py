"""Background jobs of records (run by ``rapport worker``): telling a client their record is on
hold for erasure."""

from __future__ import annotations

from django.tasks import task  # type: ignore[import-untyped,unused-ignore]


@task()  # type: ignore[untyped-decorator,unused-ignore]
def send_erasure_notice(erasure_id: int) -> None:
    """Tell the client, while their address still exists, that their record will be erased."""
    from rapport.records import erasure_requests

    erasure_requests.deliver_erasure_notice(erasure_id)
