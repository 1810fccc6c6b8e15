"""The demo practice: what `rapport demo` seeds, and that seeding again keeps the data."""

from __future__ import annotations

from typing import Any

from django.test import Client

from rapport.accounts.models import User
from rapport.care.models import CareRelationship, ClientProfile
from rapport.home.demo import DEMO_PASSWORD, demo_logins, seed_demo


def test_seed_creates_the_practice_once(db: Any) -> None:
    assert seed_demo() is True
    counts = {
        role: User.objects.filter(role=role).count() for role in ("admin", "therapist", "client")
    }
    assert counts == {"admin": 1, "therapist": 3, "client": 6}
    assert CareRelationship.objects.filter(status="active").count() == 6
    profile = ClientProfile.objects.get(client__email="client@demo.rapport.test")
    profile.preferred_name = "Changed by a visitor"
    profile.save()

    assert seed_demo() is False
    assert User.objects.count() == 10
    profile.refresh_from_db()
    assert profile.preferred_name == "Changed by a visitor", "a second run keeps the data"


def test_demo_logins_sign_in_and_every_page_shows_the_banner(db: Any) -> None:
    seed_demo()
    for _role, email, password in demo_logins():
        assert password == DEMO_PASSWORD
        assert User.objects.get(email=email).check_password(password)
    browser = Client()
    page = browser.get("/accounts/login/").content.decode()
    assert 'class="demo-banner"' in page
    response = browser.post(
        "/accounts/login/", {"login": "client@demo.rapport.test", "password": DEMO_PASSWORD}
    )
    assert response.status_code == 302
    home = browser.get("/").content.decode()
    assert 'class="demo-banner"' in home
    assert "Dr. Maya Okafor" in home


def test_seed_gives_every_therapist_hours_types_and_two_weeks_of_sessions(db: Any) -> None:
    from django.utils import timezone

    from rapport.scheduling.availability import open_slots
    from rapport.scheduling.consent import has_current_consent
    from rapport.scheduling.models import Appointment, ConsentSignature, SessionType

    seed_demo()
    now = timezone.now()
    for therapist in User.objects.filter(role="therapist"):
        individual = SessionType.objects.get(therapist=therapist, name="Individual session")
        assert individual.modalities == ["video", "audio", "text"]
        assert SessionType.objects.get(therapist=therapist, name="Intake").minutes == 60
        assert open_slots(individual), f"{therapist} has no open slots"
        mine = Appointment.objects.filter(therapist=therapist)
        assert mine.filter(starts_at__gt=now, status="confirmed").exists()
        assert mine.filter(starts_at__lt=now).exists()
        assert all(abs(a.starts_at - now).days <= 14 for a in mine), (
            "two weeks either side of today"
        )
    assert Appointment.objects.filter(status="no_show").count() == 1
    late = Appointment.objects.get(status="cancelled")
    assert late.late_cancellation and late.cancelled_by == late.client
    assert Appointment.objects.filter(status="completed").exists()
    unsigned = [
        c.full_name for c in User.objects.filter(role="client") if not has_current_consent(c)
    ]
    assert unsigned == ["Sam Rivera"]
    signatures = ConsentSignature.objects.count()

    assert seed_demo() is False
    assert ConsentSignature.objects.count() == signatures
    assert SessionType.objects.count() == 6
