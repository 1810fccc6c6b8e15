"""Background jobs of matching (run by ``rapport worker``). Each imports what it runs when it
runs: the services that queue them import this module."""

from __future__ import annotations

from django.tasks import task  # type: ignore[import-untyped,unused-ignore]


@task()  # type: ignore[untyped-decorator,unused-ignore]
def rematch_waitlist() -> None:
    """A profile, working hours or session types changed: match the waitlist again."""
    from rapport.matching import services

    services.rematch_waitlisted()
