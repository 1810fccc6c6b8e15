"""Deployment checks of the practice's people, run by ``rapport check``."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.apps import AppConfig
from django.core import checks

from rapport.accounts.models import Role, User


def active_admin(
    *, app_configs: Sequence[AppConfig] | None, databases: Sequence[str] | None, **kwargs: Any
) -> list[checks.CheckMessage]:
    """Safety alerts that nobody acknowledges escalate to the practice admins: one must exist."""
    if not databases:
        return []
    if User.objects.filter(role=Role.ADMIN, is_active=True).exists():
        return []
    return [
        checks.Error(
            "The practice has no active admin: unacknowledged safety alerts would escalate to "
            "every therapist instead. Create one with 'rapport createadmin'.",
            id="rapport.E001",
        )
    ]
