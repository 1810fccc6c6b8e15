"""Matching test data: therapists with a profile and real working hours, clients with a request.

Plain functions, like ``tests/scheduling_data.py``, so the domain tests, the access matrix and
the browser test's server build the same things.
"""

from __future__ import annotations

from datetime import time
from typing import Any

from rapport.accounts.models import User
from rapport.billing.models import SessionKind, SessionTypeBilling
from rapport.matching.models import CareRequest, TherapistProfile
from rapport.matching.services import open_request
from rapport.scheduling.models import SessionType, WeeklyWindow
from tests.conftest import make_user

EVERY_DAY = tuple((day, time(0), time(23, 45)) for day in range(7))


def therapist_for_matching(
    email: str,
    name: str,
    *,
    zone: str = "Europe/London",
    windows: Any = EVERY_DAY,
    intake: bool = True,
    **profile: Any,
) -> User:
    """An active therapist with working hours, an intake and an individual session type, and a
    profile (English, licensed in GB, video and audio, accepting) changed by ``profile``."""
    therapist = make_user(email, "therapist", name)
    therapist.time_zone = zone
    therapist.save(update_fields=["time_zone"])
    WeeklyWindow.objects.bulk_create(
        WeeklyWindow(therapist=therapist, weekday=d, start_time=s, end_time=e, time_zone=zone)
        for d, s, e in windows
    )
    if intake:
        first = SessionType.objects.create(
            therapist=therapist, name="Intake", minutes=60, min_notice_hours=1
        )
        SessionTypeBilling.objects.create(session_type=first, kind=SessionKind.INTAKE)
    SessionType.objects.create(
        therapist=therapist, name="Individual session", minutes=50, min_notice_hours=1
    )
    values: dict[str, Any] = {
        "languages": ["en"],
        "licensed_regions": ["GB"],
        "modalities": ["video", "audio"],
        "accepting_new_clients": True,
        "bio": f"{name} works with adults.",
        **profile,
    }
    TherapistProfile.objects.create(therapist=therapist, **values)
    return therapist


def client_asking(email: str, name: str, **wish: Any) -> tuple[User, CareRequest]:
    """A new client (no therapist) and their request, still in the intake state."""
    client = make_user(email, "client", name)
    values: dict[str, Any] = {
        "region": "GB",
        "language": "en",
        "modalities": ["video"],
        "time_zone": "Europe/London",
        "concerns": ["anxiety"],
        **wish,
    }
    return client, open_request(client, **values)
