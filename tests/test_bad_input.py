"""Malformed and hostile input gets a clear answer and never half a change."""

from __future__ import annotations

from django.test import Client

from rapport.accounts.models import Invitation, User
from rapport.care.models import CareRelationship, ClientProfile
from tests.conftest import PASSWORD, signed_in


def test_oversized_fields_are_refused_with_a_message(therapist_x: User, client_a: User) -> None:
    browser = signed_in(therapist_x)
    response = browser.post(
        "/invitations/", {"full_name": "x" * 5000, "email": "big@example.test", "role": "client"}
    )
    assert response.status_code == 200
    assert "at most 150 characters" in response.content.decode()
    assert not Invitation.objects.filter(email="big@example.test").exists()

    response = browser.post(
        f"/clients/{client_a.pk}/edit/",
        {"preferred_name": "Al", "phone": "1" * 41, "emergency_contact": "", "intake_notes": ""},
    )
    assert response.status_code == 200
    assert "at most 40 characters" in response.content.decode()
    assert ClientProfile.objects.get(client=client_a).preferred_name == ""


def test_null_bytes_and_markup_are_handled(therapist_x: User, client_a: User) -> None:
    browser = signed_in(therapist_x)
    response = browser.post(
        f"/clients/{client_a.pk}/edit/",
        {"preferred_name": "A\x00l", "phone": "", "emergency_contact": "", "intake_notes": ""},
    )
    assert response.status_code == 200
    assert "Null characters are not allowed" in response.content.decode()

    hostile = '<script>alert("x")</script>'
    response = browser.post(
        f"/clients/{client_a.pk}/edit/",
        {"preferred_name": hostile, "phone": "", "emergency_contact": "", "intake_notes": hostile},
    )
    assert response.status_code == 302
    page = browser.get(f"/clients/{client_a.pk}/").content.decode()
    assert hostile not in page
    assert "&lt;script&gt;" in page


def test_wrong_types_and_foreign_ids(admin: User, therapist_x: User, client_a: User) -> None:
    browser = signed_in(admin)
    response = browser.post("/practice/relationships/", {"therapist": "abc", "client": "1.5"})
    assert response.status_code == 200
    assert "Select a valid choice" in response.content.decode()
    assert browser.get("/clients/not-a-number/").status_code == 404
    assert (
        browser.post(f"/practice/people/{client_a.pk}/active/", {"active": "maybe"}).status_code
        == 400
    )
    assert User.objects.get(pk=client_a.pk).is_active
    assert browser.post("/practice/people/99999999/active/", {"active": "0"}).status_code == 404
    # Unknown and someone else's ids answer alike: 404.
    assert browser.post("/practice/relationships/99999999/end/").status_code == 404
    assert browser.get("/practice/audit/?since=yesterday&page=abc").status_code == 200
    response = browser.get("/practice/audit/?client=99999999")
    assert response.status_code == 200
    assert "Select a valid choice" in response.content.decode()

    # A therapist cannot withdraw another therapist's invitation.
    other = User.objects.create_user("t2@example.test", PASSWORD, full_name="T2", role="therapist")
    invitation = Invitation.objects.create(
        email="c@example.test",
        full_name="C",
        role="client",
        invited_by=other,
        token_hash="0" * 64,
        expires_at=Invitation.default_expiry(),
    )
    therapist = signed_in(therapist_x)
    assert therapist.post(f"/invitations/{invitation.pk}/revoke/").status_code == 404
    assert therapist.post("/invitations/99999999/revoke/").status_code == 404
    invitation.refresh_from_db()
    assert invitation.revoked_at is None


def test_missing_csrf_token_is_refused_and_nothing_saved(therapist_x: User, client_a: User) -> None:
    browser = Client(enforce_csrf_checks=True)
    browser.cookies = signed_in(therapist_x).cookies
    response = browser.post(
        f"/clients/{client_a.pk}/edit/",
        {"preferred_name": "Forged", "phone": "", "emergency_contact": "", "intake_notes": ""},
    )
    assert response.status_code == 403
    assert "This form has expired" in response.content.decode()
    assert ClientProfile.objects.get(client=client_a).preferred_name == ""

    response = browser.post("/settings/sign-out-everywhere/")
    assert response.status_code == 403
    assert browser.get("/").status_code == 200, "the session survived the forged request"


def test_oversized_request_body_is_a_400(therapist_x: User, client_a: User) -> None:
    browser = signed_in(therapist_x)
    response = browser.post(
        f"/clients/{client_a.pk}/edit/",
        {f"field{n}": "x" for n in range(1500)},
    )
    assert response.status_code == 400
    assert ClientProfile.objects.get(client=client_a).preferred_name == ""


def test_invalid_preferences_change_nothing(client_a: User) -> None:
    browser = signed_in(client_a)
    response = browser.post(
        "/settings/", {"full_name": "Alice", "time_zone": "Mars/Olympus", "language": "xx"}
    )
    assert response.status_code == 200
    body = response.content.decode()
    assert "Select a valid choice" in body
    client_a.refresh_from_db()
    assert (client_a.full_name, client_a.time_zone, client_a.language) == (
        "Alice Client",
        "UTC",
        "en",
    )


def test_relationship_constraint_holds_in_the_database(therapist_x: User, client_a: User) -> None:
    from django.db import IntegrityError, transaction

    try:
        with transaction.atomic():
            CareRelationship.objects.create(therapist=therapist_x, client=client_a)
    except IntegrityError:
        pass
    else:  # pragma: no cover - the assertion below reports it
        raise AssertionError("a second active relationship for the same pair was stored")
    assert CareRelationship.objects.filter(therapist=therapist_x, client=client_a).count() == 1
