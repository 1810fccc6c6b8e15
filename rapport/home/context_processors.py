"""What every page's layout needs: demo mode, the practice, the unread-messages badge."""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from typing import Any

from django.conf import settings
from django.http import HttpRequest

from rapport.accounts.models import Practice
from rapport.messaging.services import total_unread


def rapport(request: HttpRequest) -> dict[str, Any]:
    return {
        "demo_mode": settings.DEMO_MODE,
        "practice": Practice.get(),
        # Counted only when a template shows it (the navigation of clients and therapists).
        "unread_messages": _unread(request),
    }


def _unread(request: HttpRequest) -> Callable[[], int]:
    @cache
    def count() -> int:
        user = getattr(request, "user", None)
        if user is None or not user.is_authenticated:
            return 0
        return total_unread(user)

    return count
