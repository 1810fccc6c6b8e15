from __future__ import annotations

from typing import Any

from django.conf import settings
from django.http import HttpRequest


def rapport(request: HttpRequest) -> dict[str, Any]:
    from rapport.accounts.models import Practice

    return {
        "demo_mode": settings.DEMO_MODE,
        "practice": Practice.get(),
    }
