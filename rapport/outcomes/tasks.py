"""Background jobs of outcomes (run by ``rapport worker``): a rebuild of every episode when
the practice changes its episode gap (minutes at practice scale: never inside the request)."""

from __future__ import annotations

from django.tasks import task  # type: ignore[import-untyped,unused-ignore]

from rapport.outcomes.episodes import rebuild_all


@task()  # type: ignore[untyped-decorator,unused-ignore]
def rebuild_episodes() -> None:
    """Rebuild every client's episodes with the practice's current gap."""
    rebuild_all()
