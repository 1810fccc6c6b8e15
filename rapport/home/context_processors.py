"""What every page's layout needs: demo mode, the practice, the unread-messages badge, and
whether a client has a safety plan (its link is one tap away on every page)."""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from typing import Any

from django.conf import settings
from django.http import HttpRequest

from rapport.accounts.models import Practice
from rapport.messaging.services import total_unread
from rapport.safety.access import has_safety_plan


def rapport(request: HttpRequest) -> dict[str, Any]:
    return {
        "demo_mode": settings.DEMO_MODE,
        "practice": Practice.get(),
        # Counted only when a template shows it (the navigation of clients and therapists).
        "unread_messages": _unread(request),
        # Asked only when a template shows it (the clients' navigation and crisis boxes).
        "has_safety_plan": _has_plan(request),
    }


def _unread(request: HttpRequest) -> Callable[[], int]:
    @cache
    def count() -> int:
        user = getattr(request, "user", None)
        if user is None or not user.is_authenticated:
            return 0
        return total_unread(user)

    return count


def _has_plan(request: HttpRequest) -> Callable[[], bool]:
    @cache
    def found() -> bool:
        user = getattr(request, "user", None)
        if user is None or not user.is_authenticated:
            return False
        return has_safety_plan(user)

    return found
