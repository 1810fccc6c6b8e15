"""Rebuild every episode's outcome facts from the records (after an import, or to check)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from rapport.outcomes.episodes import rebuild_all


class Command(BaseCommand):
    help = "Rebuild the per-episode outcome facts of every client."

    def handle(self, *args: Any, **options: Any) -> None:
        count = rebuild_all()
        self.stdout.write(f"{count} episodes rebuilt.")
