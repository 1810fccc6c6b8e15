"""Care relationships as the root of access, and emergency ("break glass") access."""

from __future__ import annotations

import re
from datetime import date, timedelta
from typing import Any

import pytest
import time_machine
from allauth.mfa.totp.internal.auth import TOTP, generate_totp_secret
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import connection
from django.test import Client
from django.utils import timezone

from rapport.accounts.models import Invitation, User
from rapport.accounts.services import invite
from rapport.audit.models import AuditEvent
from rapport.care.models import CareRelationship, ClientProfile, EmergencyAccess
from rapport.care.services import start_care
from tests.conftest import PASSWORD, make_user, signed_in

REASON = "Client missed a safety call; police welfare check needs the emergency contact."


def test_therapist_reaches_only_clients_in_active_care(
    therapist_x: User, therapist_y: User, client_a: User, client_b: User
) -> None:
    browser = signed_in(therapist_x)
    assert browser.get(f"/clients/{client_a.pk}/").status_code == 200
    assert browser.get(f"/clients/{client_b.pk}/").status_code == 404
    caseload = browser.get("/clients/").content.decode()
    assert "Alice Client" in caseload
    assert "Bob Client" not in caseload

    relationship = CareRelationship.objects.get(therapist=therapist_x, client=client_a)
    response = browser.post(f"/practice/relationships/{relationship.pk}/end/")
    assert response.status_code == 302
    relationship.refresh_from_db()
    assert relationship.status == "ended"
    assert relationship.ended_by == therapist_x
    assert browser.get(f"/clients/{client_a.pk}/").status_code == 404
    assert "Alice Client" not in browser.get("/clients/").content.decode()
    assert AuditEvent.objects.filter(action="care.relationship_ended", client=client_a).exists()


def test_every_read_of_a_record_is_audited_with_who_and_from_where(
    therapist_x: User, client_a: User
) -> None:
    browser = Client(HTTP_USER_AGENT="TestBrowser/1.0", REMOTE_ADDR="203.0.113.7")
    signed = signed_in(therapist_x)
    browser.cookies = signed.cookies
    browser.get(f"/clients/{client_a.pk}/")
    event = AuditEvent.objects.filter(action="client.record_viewed").latest("sequence")
    assert event.actor == therapist_x
    assert event.client == client_a
    assert event.ip_address == "203.0.113.7"
    assert event.user_agent == "TestBrowser/1.0"
    assert event.detail == {"purpose": "view", "via": "care"}


def test_admin_sees_no_clinical_content_without_breaking_the_glass(
    admin: User, client_a: User, therapist_x: User
) -> None:
    browser = signed_in(admin)
    assert browser.get(f"/clients/{client_a.pk}/").status_code == 404

    # A reason that says nothing is refused, and nothing is granted.
    response = browser.post(f"/clients/{client_a.pk}/emergency-access/", {"reason": "need it"})
    assert response.status_code == 200
    assert "at least 15 characters" in response.content.decode()
    assert not EmergencyAccess.objects.exists()

    response = browser.post(f"/clients/{client_a.pk}/emergency-access/", {"reason": REASON})
    assert response.status_code == 302
    grant = EmergencyAccess.objects.get()
    assert grant.reason == REASON and grant.admin == admin and grant.client == client_a
    event = AuditEvent.objects.get(action="security.emergency_access")
    assert event.actor == admin and event.client == client_a
    assert REASON not in str(event.detail), "the written reason stays out of the trail"

    page = browser.get(f"/clients/{client_a.pk}/")
    assert page.status_code == 200
    assert "emergency access" in page.content.decode()
    viewed = AuditEvent.objects.filter(action="client.record_viewed", actor=admin).get()
    assert viewed.detail["via"] == "emergency"
    # Emergency access reads; it does not write.
    assert browser.get(f"/clients/{client_a.pk}/edit/").status_code == 403

    # The client can see that it happened.
    seen = signed_in(client_a).get("/my-record/access/").content.decode()
    assert "Emergency access to your record" in seen
    assert "Ada Admin" in seen

    # It expires by itself.
    with time_machine.travel(timezone.now() + timedelta(minutes=61)):
        again = signed_in(admin).get(f"/clients/{client_a.pk}/")
        assert again.status_code == 404


def test_emergency_access_asks_for_the_password_again(admin: User, client_a: User) -> None:
    browser = signed_in(admin)
    with time_machine.travel(timezone.now() + timedelta(minutes=10)):
        response = browser.get(f"/clients/{client_a.pk}/emergency-access/")
        assert response.status_code == 302
        assert response["Location"].startswith("/accounts/reauthenticate/")
        browser.post("/accounts/reauthenticate/", {"password": "correct horse battery staple"})
        assert browser.get(f"/clients/{client_a.pk}/emergency-access/").status_code == 200


def test_admin_starts_care_and_duplicates_are_refused(admin: User, client_b: User) -> None:
    therapist = make_user("new.therapist@example.test", "therapist", "Nia Therapist")
    browser = signed_in(admin)
    data = {"therapist": therapist.pk, "client": client_b.pk}
    assert browser.post("/practice/relationships/", data).status_code == 302
    assert CareRelationship.objects.filter(therapist=therapist, client=client_b).count() == 1
    again = browser.post("/practice/relationships/", data)
    assert again.status_code == 200
    assert "already treats" in again.content.decode()
    assert CareRelationship.objects.filter(therapist=therapist, client=client_b).count() == 1
    # A client offered as the therapist is not a valid choice.
    swapped = browser.post(
        "/practice/relationships/", {"therapist": client_b.pk, "client": client_b.pk}
    )
    assert swapped.status_code == 200
    assert "Select a valid choice" in swapped.content.decode()


def test_caseload_query_count_does_not_grow_with_clients(
    therapist_x: User, django_assert_max_num_queries: Any
) -> None:
    for number in range(15):
        client = make_user(f"extra{number}@example.test", "client", f"Extra {number}")
        CareRelationship.objects.create(therapist=therapist_x, client=client)
    browser = signed_in(therapist_x)
    with django_assert_max_num_queries(12):
        response = browser.get("/clients/")
    assert response.status_code == 200
    assert response.content.decode().count("/clients/") >= 16


def test_admin_people_page_query_count_is_flat(
    admin: User, personas: dict[str, Any], django_assert_max_num_queries: Any
) -> None:
    for number in range(15):
        make_user(f"people{number}@example.test", "client", f"People {number}")
    browser = signed_in(admin)
    with django_assert_max_num_queries(12):
        response = browser.get("/practice/people/")
    assert response.status_code == 200
    assert "People 14" in response.content.decode()


# --- Admins starting care: sudo mode, the one-day rule and what the client sees


def join_by_invitation(inviter: User, email: str, role: str, name: str) -> User:
    """The account ``inviter`` invited, accepted through the invitation page just now."""
    _invitation, token = invite(inviter, email=email, full_name=name, role=role)
    form = {"password1": PASSWORD, "password2": PASSWORD, "time_zone": "UTC"}
    assert Client().post(f"/invite/{token}/", form).status_code == 302
    joined = User.objects.get(email=email)
    TOTP.activate(joined, generate_totp_secret())  # staff enrol an app before anything else
    return joined


def test_staff_invitations_and_starting_care_ask_for_the_password_again(
    admin: User, client_b: User, therapist_x: User
) -> None:
    therapist = make_user("nia@example.test", "therapist", "Nia Therapist")
    with time_machine.travel(timezone.now()) as clock:
        browser = signed_in(admin)
        clock.shift(timedelta(seconds=settings.ACCOUNT_REAUTHENTICATION_TIMEOUT + 5))
        start = {"therapist": therapist.pk, "client": client_b.pk}
        hire = {"full_name": "Hal Hire", "email": "hal@example.test", "role": "therapist"}
        for path, data in [("/practice/relationships/", start), ("/invitations/", hire)]:
            response = browser.post(path, data)
            assert response.status_code == 302, path
            assert response["Location"].startswith("/accounts/reauthenticate/"), path
            assert browser.get(path).status_code == 200, path  # reading needs no password
        assert not CareRelationship.objects.filter(therapist=therapist).exists()
        assert not Invitation.objects.exists()
        # A therapist inviting a client is not asked.
        therapist_browser = signed_in(therapist_x)
        clock.shift(timedelta(seconds=settings.ACCOUNT_REAUTHENTICATION_TIMEOUT + 5))
        cleo = {"full_name": "Cleo New", "email": "cleo@example.test", "role": "client"}
        assert therapist_browser.post("/invitations/", cleo)["Location"] == "/invitations/"

        assert browser.post("/accounts/reauthenticate/", {"password": PASSWORD}).status_code == 302
        assert browser.post("/practice/relationships/", start).status_code == 302
        assert browser.post("/invitations/", hire)["Location"] == "/invitations/"
    assert CareRelationship.objects.filter(therapist=therapist, client=client_b).exists()
    assert Invitation.objects.filter(email="hal@example.test").exists()


def test_an_admin_cannot_give_clients_to_a_therapist_they_invited_within_a_day(
    admin: User, client_b: User
) -> None:
    other_admin = make_user("second.admin@example.test", "admin", "Sol Second")
    with time_machine.travel(timezone.now()) as clock:
        recruit = join_by_invitation(admin, "recruit@example.test", "therapist", "Rex Recruit")
        # An admin account this admin has just invited does not count as a second admin.
        puppet = join_by_invitation(admin, "puppet@example.test", "admin", "Pip Puppet")
        start = {"therapist": recruit.pk, "client": client_b.pk}
        for who in (admin, puppet):
            response = signed_in(who).post("/practice/relationships/", start)
            assert response.status_code == 200
            assert "Ask another admin to start this care" in response.content.decode()
            with pytest.raises(ValidationError):
                start_care(recruit, client_b, actor=who)
        assert not CareRelationship.objects.filter(therapist=recruit).exists()

        # A different, established admin may; and after a day the inviting admin may too.
        assert signed_in(other_admin).post("/practice/relationships/", start).status_code == 302
        assert CareRelationship.objects.filter(therapist=recruit, client=client_b).exists()
        late = make_user("late.client@example.test", "client", "Lee Late")
        clock.shift(timedelta(hours=24, minutes=1))
        response = signed_in(admin).post(
            "/practice/relationships/", {"therapist": recruit.pk, "client": late.pk}
        )
        assert response.status_code == 302
    assert CareRelationship.objects.filter(therapist=recruit, client=late).exists()


def test_the_client_sees_reads_by_a_therapist_an_admin_gave_them_to(
    admin: User, client_b: User, therapist_y: User
) -> None:
    therapist = make_user("nia@example.test", "therapist", "Nia Therapist")
    with time_machine.travel(timezone.now()) as clock:
        assert (
            signed_in(admin)
            .post("/practice/relationships/", {"therapist": therapist.pk, "client": client_b.pk})
            .status_code
            == 302
        )
        started = timezone.localdate()
        assert signed_in(therapist).get(f"/clients/{client_b.pk}/").status_code == 200
        assert signed_in(therapist_y).get(f"/clients/{client_b.pk}/").status_code == 200
        clock.shift(timedelta(days=8))
        assert signed_in(therapist).get(f"/clients/{client_b.pk}/").status_code == 200
        response = signed_in(client_b).get("/my-record/access/")
    assert response.status_code == 200
    rows = re.findall(r"<tr>.*?</tr>", response.content.decode(), re.DOTALL)
    nia_reads = [r for r in rows if "Nia Therapist" in r and "Opened your record" in r]
    yuri_reads = [r for r in rows if "Yuri Therapist" in r]
    label = f"care started by an admin on {started.strftime('%-d %b %Y')}"
    # Newest first: the read eight days later is not marked, the first one is.
    assert [label in r for r in nia_reads] == [False, True]
    assert yuri_reads
    assert not any("care started by an admin" in r for r in yuri_reads)


# --- Date of birth and postal address on the client's record ------------------------------------


def test_the_therapist_records_date_of_birth_and_address_audited_and_shown(
    therapist_x: User, client_a: User
) -> None:
    browser = signed_in(therapist_x)
    response = browser.post(
        f"/clients/{client_a.pk}/edit/",
        {"date_of_birth": "1984-07-19", "postal_address": "221 Elm Street\nPortland, ME 04102"},
    )
    assert response.status_code == 302
    profile = ClientProfile.objects.get(client=client_a)
    assert profile.date_of_birth == date(1984, 7, 19)
    assert profile.postal_address == "221 Elm Street\nPortland, ME 04102"
    changed = AuditEvent.objects.get(action="client.record_changed", client=client_a)
    assert changed.actor == therapist_x
    assert changed.detail == {"fields": ["date_of_birth", "postal_address"]}
    assert "1984" not in str(changed.detail) and "Elm" not in str(changed.detail)
    # Stored encrypted: the plain values are not in the table.
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT date_of_birth, postal_address FROM care_clientprofile WHERE client_id = %s",
            [client_a.pk],
        )
        stored = cursor.fetchone()
    assert "1984" not in stored[0] and "Elm" not in stored[1]
    page = browser.get(f"/clients/{client_a.pk}/").content.decode()
    assert "19 Jul 1984" in page
    assert "221 Elm Street<br>Portland, ME 04102" in page
    # The edit form shows the stored date back as the date input reads it.
    assert 'value="1984-07-19"' in browser.get(f"/clients/{client_a.pk}/edit/").content.decode()
    # Saving the same values again changes nothing and records nothing.
    browser.post(
        f"/clients/{client_a.pk}/edit/",
        {"date_of_birth": "1984-07-19", "postal_address": "221 Elm Street\nPortland, ME 04102"},
    )
    assert AuditEvent.objects.filter(action="client.record_changed").count() == 1


def test_the_client_keeps_their_own_date_of_birth_and_address(client_a: User) -> None:
    browser = signed_in(client_a)
    form = browser.get(f"/clients/{client_a.pk}/edit/").content.decode()
    assert 'name="date_of_birth"' in form and 'name="postal_address"' in form
    assert 'name="intake_notes"' not in form
    response = browser.post(
        f"/clients/{client_a.pk}/edit/",
        {"date_of_birth": "1990-02-14", "postal_address": "4 Park Row\nLeeds LS1 5HD"},
    )
    assert response.status_code == 302
    profile = ClientProfile.objects.get(client=client_a)
    assert (profile.date_of_birth, profile.postal_address) == (
        date(1990, 2, 14),
        "4 Park Row\nLeeds LS1 5HD",
    )
    assert AuditEvent.objects.get(action="client.record_changed").actor == client_a
    # Clearing them is allowed: the superbill goes back to lines to write on.
    browser.post(f"/clients/{client_a.pk}/edit/", {"date_of_birth": "", "postal_address": ""})
    profile.refresh_from_db()
    assert (profile.date_of_birth, profile.postal_address) == (None, "")


@pytest.mark.parametrize(
    ("value", "error"),
    [
        ("2999-01-01", "A date of birth cannot be in the future."),
        ("tomorrow", "cannot be in the future."),
        ("1850-06-01", "A date of birth cannot be more than 120 years ago."),
        ("19/07/1984", "Enter the date of birth as year-month-day, for example 1980-04-23."),
        ("1984-02-30", "Enter the date of birth as year-month-day"),
    ],
)
def test_a_bad_date_of_birth_is_refused_clearly_and_nothing_is_saved(
    therapist_x: User, client_a: User, value: str, error: str
) -> None:
    if value == "tomorrow":
        value = (timezone.localdate() + timedelta(days=1)).isoformat()
    browser = signed_in(therapist_x)
    response = browser.post(
        f"/clients/{client_a.pk}/edit/",
        {"date_of_birth": value, "postal_address": "221 Elm Street", "phone": "555 0100"},
    )
    assert response.status_code == 200
    assert error in response.content.decode()
    profile = ClientProfile.objects.filter(client=client_a).first()
    assert profile is None or (profile.date_of_birth, profile.postal_address, profile.phone) == (
        None,
        "",
        "",
    )
    assert not AuditEvent.objects.filter(action="client.record_changed").exists()


def test_the_oldest_and_newest_dates_of_birth_are_allowed(
    therapist_x: User, client_a: User
) -> None:
    today = timezone.localdate()
    browser = signed_in(therapist_x)
    try:
        oldest = today.replace(year=today.year - 120)
    except ValueError:  # 29 February
        oldest = today.replace(year=today.year - 120, day=28)
    for day in [today, oldest]:
        response = browser.post(f"/clients/{client_a.pk}/edit/", {"date_of_birth": day})
        assert response.status_code == 302, response.content.decode()
        assert ClientProfile.objects.get(client=client_a).date_of_birth == day
    response = browser.post(
        f"/clients/{client_a.pk}/edit/", {"date_of_birth": oldest - timedelta(days=1)}
    )
    assert "more than 120 years ago" in response.content.decode()


def test_a_postal_address_too_long_is_refused(therapist_x: User, client_a: User) -> None:
    response = signed_in(therapist_x).post(
        f"/clients/{client_a.pk}/edit/", {"postal_address": "x" * 501}
    )
    assert response.status_code == 200
    assert "at most 500 characters" in response.content.decode()
    assert not AuditEvent.objects.filter(action="client.record_changed").exists()
