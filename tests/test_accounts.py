"""Accounts end to end: MFA, lockout, session lifetimes, passwords, invitations, self-registration,
sudo mode and preferences. Every test checks what the person sees and what was stored."""

from __future__ import annotations

import html
import re
import time
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit
from zoneinfo import ZoneInfo

import pytest
import time_machine
from allauth.account.models import EmailAddress
from allauth.mfa.models import Authenticator
from django.conf import settings
from django.contrib.sessions.models import Session
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import URLPattern, reverse
from django.utils import dateformat
from django_tasks_db.models import DBTaskResult

from rapport.accounts import services
from rapport.accounts.middleware import MFA_EXEMPT_PREFIXES
from rapport.accounts.models import Invitation, Practice, Role, User, hash_token
from rapport.audit.models import AuditEvent
from rapport.audit.services import Action, verify_trail
from rapport.care.models import CareRelationship
from rapport.core import outbox
from rapport.urls import urlpatterns
from tests.conftest import (
    PASSWORD,
    make_user,
    signed_in,
    signed_in_through_the_form,
    totp_secret,
)
from tests.helpers import totp_code
from tests.mail import Inbox, body_of, text_of
from tests.worker import run_task_worker

PASSPHRASE = "quiet river under maple leaves"
ACTIVATE_TOTP = "/accounts/2fa/totp/activate/"
MFA_AUTHENTICATE = "/accounts/2fa/authenticate/"
BAD_CREDENTIALS = "The email address and/or password you specified are not correct."
LOCKED = "Too many failed login attempts. Try again later."


# --- helpers -------------------------------------------------------------------------------------

# The practice form's scheduling and safety fields, at their defaults.
SCHEDULING_DEFAULTS = {
    "late_cancel_hours": "24",
    "reminder_minutes": "1440,60",
    "join_opens_minutes": "10",
    "alert_escalation_minutes": "60",
    "message_attachment_limit_mb": "20",
    "unsent_risk_minutes": "120",
    "late_note_hours": "72",
    "outcomes_suppression_threshold": "10",
    "outcomes_episode_gap_days": "90",
    "offers_answered_by": "therapist",
    "offer_answer_hours": "48",
    "retention_jurisdiction": "us",
}


def page(response: Any) -> str:
    """The response body as a person reads it (entities decoded)."""
    return html.unescape(response.content.decode())


def sign_in(browser: Client, email: str, password: str = PASSWORD) -> Any:
    return browser.post("/accounts/login/", {"login": email, "password": password})


def signed_in_user_id(browser: Client) -> str | None:
    value = browser.session.get("_auth_user_id")
    return None if value is None else str(value)


def events(action: str, **filters: Any) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(action=action, **filters).order_by("sequence"))


def invitation_token_from(mailbox: list[Any], email: str) -> str:
    [message] = [m for m in mailbox if m.to == [email]]
    match = re.search(r"^https?://\S+/invite/([A-Za-z0-9_-]+)/$", message.body, re.MULTILINE)
    assert match is not None, message.body
    return match.group(1)


def totp_secret_from(response: Any) -> str:
    """The secret the enrolment page shows next to the QR code."""
    tag = re.search(r"<input[^>]*id=\"authenticator_secret\"[^>]*>", response.content.decode())
    assert tag is not None
    value = re.search(r"value=\"([A-Z2-7]+)\"", tag.group(0))
    assert value is not None
    return value.group(1)


def rapport_pages() -> list[str]:
    """A concrete path for every route of Rapport outside the MFA-exempt prefixes."""
    paths = []
    for pattern in urlpatterns:
        if not isinstance(pattern, URLPattern):
            continue  # allauth's include under /accounts/
        route = re.sub(r"<int:\w+>", "1", re.sub(r"<str:\w+>", "sometoken", str(pattern.pattern)))
        path = "/" + route
        if not path.startswith(MFA_EXEMPT_PREFIXES):
            paths.append(path)
    return paths


def wrong(code: str) -> str:
    return f"{(int(code) + 1) % 10**6:06d}"


def accept_form(password: str, confirm: str | None = None, zone: str = "UTC") -> dict[str, str]:
    second = password if confirm is None else confirm
    return {"password1": password, "password2": second, "time_zone": zone}


# --- MFA -----------------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_therapist_must_enrol_totp_then_signs_in_with_code_or_recovery_code() -> None:
    therapist = make_user("nina.new@example.test", Role.THERAPIST, "Nina New", mfa=False)
    with time_machine.travel(time.time(), tick=False) as clock:
        browser = Client()
        response = sign_in(browser, therapist.email)
        assert response.status_code == 302
        assert signed_in_user_id(browser) == str(therapist.pk)

        # Every page outside /accounts/ sends them to enrolment first, for reading or writing.
        paths = rapport_pages()
        assert {"/", "/clients/", "/invitations/", "/settings/", "/practice/audit/"} <= set(paths)
        for path in paths:
            response = browser.get(path)
            assert response.status_code == 302, path
            assert response["Location"] == ACTIVATE_TOTP, path
        response = browser.post(
            "/invitations/", {"full_name": "Early", "email": "early@example.test", "role": "client"}
        )
        assert response["Location"] == ACTIVATE_TOTP
        assert not Invitation.objects.exists()

        response = browser.get(ACTIVATE_TOTP)
        assert response.status_code == 200
        assert "Your role requires two-factor authentication" in page(response)
        secret = totp_secret_from(response)
        assert secret == response.context["form"].secret

        response = browser.post(ACTIVATE_TOTP, {"code": wrong(totp_code(secret))})
        assert response.status_code == 200
        assert "Incorrect code." in page(response)
        assert not Authenticator.objects.filter(user=therapist).exists()

        response = browser.post(ACTIVATE_TOTP, {"code": totp_code(secret)})
        assert response.status_code == 302
        assert response["Location"] == "/accounts/2fa/recovery-codes/"
        response = browser.get(response["Location"])
        assert response.status_code == 200
        recovery_codes = list(response.context["unused_codes"])
        assert len(recovery_codes) == settings.MFA_RECOVERY_CODE_COUNT
        assert all(code in page(response) for code in recovery_codes)

        # Secrets are stored encrypted by rapport.accounts.adapter.MFAAdapter.
        totp = Authenticator.objects.get(user=therapist, type=Authenticator.Type.TOTP)
        assert totp.data["secret"].startswith("enc1$")
        assert secret not in str(totp.data)
        codes = Authenticator.objects.get(user=therapist, type=Authenticator.Type.RECOVERY_CODES)
        assert codes.data["seed"].startswith("enc1$")
        added = events(Action.MFA_ADDED, actor=therapist)
        assert [e.detail["kind"] for e in added] == ["totp"]  # recovery codes come with it

        response = browser.get("/")
        assert response.status_code == 200
        assert "Today's sessions" in page(response)

        response = browser.post("/accounts/logout/")
        assert response.status_code == 302
        assert signed_in_user_id(browser) is None

        # Signing in again: the password alone is not enough.
        clock.shift(timedelta(seconds=30))
        response = sign_in(browser, therapist.email)
        assert response.status_code == 302
        assert response["Location"] == MFA_AUTHENTICATE
        assert signed_in_user_id(browser) is None
        response = browser.post(MFA_AUTHENTICATE, {"code": wrong(totp_code(secret))})
        assert response.status_code == 200
        assert "Incorrect code." in page(response)
        assert signed_in_user_id(browser) is None
        response = browser.post(MFA_AUTHENTICATE, {"code": totp_code(secret)})
        assert response.status_code == 302
        assert response["Location"] == "/"
        assert signed_in_user_id(browser) == str(therapist.pk)
        assert browser.get("/").status_code == 200

        # A recovery code works once in place of the app.
        browser.post("/accounts/logout/")
        clock.shift(timedelta(seconds=30))
        assert sign_in(browser, therapist.email)["Location"] == MFA_AUTHENTICATE
        response = browser.post(MFA_AUTHENTICATE, {"code": recovery_codes[0]})
        assert response.status_code == 302
        assert signed_in_user_id(browser) == str(therapist.pk)
        assert browser.get("/").status_code == 200
        codes.refresh_from_db()
        assert codes.data["used_mask"] == 1

        browser.post("/accounts/logout/")
        clock.shift(timedelta(seconds=30))
        assert sign_in(browser, therapist.email)["Location"] == MFA_AUTHENTICATE
        response = browser.post(MFA_AUTHENTICATE, {"code": recovery_codes[0]})
        assert response.status_code == 200
        assert "Incorrect code." in page(response)
        assert signed_in_user_id(browser) is None
    assert verify_trail().ok


def test_client_is_not_forced_to_enrol_mfa(client_a: User) -> None:
    browser = signed_in_through_the_form(client_a)
    for path in ["/", "/settings/", "/my-record/access/"]:
        response = browser.get(path)
        assert response.status_code == 200, path
    assert not Authenticator.objects.filter(user=client_a).exists()


def test_the_second_factor_is_read_with_the_person_and_is_never_stale(
    therapist_x: User,
) -> None:
    """The sign-in backends read "has an authenticator" in the person's own query
    (``rapport.accounts.backends``); removing the authenticator counts from the next page on."""
    browser = Client()
    browser.force_login(therapist_x)
    with CaptureQueriesContext(connection) as queries:
        assert browser.get("/").status_code == 200
    asked_alone = [
        q["sql"]
        for q in queries.captured_queries
        if '"mfa_authenticator"' in q["sql"] and '"accounts_user"' not in q["sql"]
    ]
    assert asked_alone == []
    assert any('"mfa_authenticator"' in q["sql"] for q in queries.captured_queries)

    Authenticator.objects.filter(user=therapist_x).delete()
    response = browser.get("/")
    assert response.status_code == 302
    assert response["Location"] == reverse("mfa_activate_totp")


# --- Lockout -------------------------------------------------------------------------------------


def test_lockout_after_repeated_failures_is_shared_and_expires(
    client_a: User, client_b: User
) -> None:
    wrong_password = "definitely not the password"
    with time_machine.travel(time.time()) as clock:
        browser = Client()
        for _attempt in range(settings.LOCKOUT_FAILURES):
            response = sign_in(browser, client_a.email, wrong_password)
            assert response.status_code == 200
            assert BAD_CREDENTIALS in page(response)

        # Now even the right password is refused, with a message saying why.
        response = sign_in(browser, client_a.email)
        assert response.status_code == 200
        assert LOCKED in page(response)
        assert signed_in_user_id(browser) is None

        # The lock lives in the shared cache, not in this browser's session: another browser
        # from another address is refused too (mixed case does not get around it).
        elsewhere = Client(REMOTE_ADDR="203.0.113.9")
        response = sign_in(elsewhere, client_a.email.upper())
        assert response.status_code == 200
        assert LOCKED in page(response)
        assert signed_in_user_id(elsewhere) is None

        # Only that account is locked.
        other = Client()
        assert sign_in(other, client_b.email).status_code == 302
        assert signed_in_user_id(other) == str(client_b.pk)

        clock.shift(timedelta(minutes=settings.LOCKOUT_MINUTES, seconds=1))
        response = sign_in(Client(), client_a.email)
        assert response.status_code == 302
        assert response["Location"] == "/"

    failed = events(Action.SIGN_IN_FAILED)
    assert len(failed) == settings.LOCKOUT_FAILURES
    assert all(e.actor_id == client_a.pk and e.actor_label == client_a.email for e in failed)
    locked = events(Action.LOCKED_OUT)
    assert len(locked) == 2
    assert all(e.actor_id == client_a.pk for e in locked)
    # Neither the audit trail nor any session holds a password, tried or real.
    stored = [str(e.chain_content()) for e in AuditEvent.objects.all()]
    stored += [str(s.get_decoded()) for s in Session.objects.all()]
    assert stored
    for text in stored:
        assert wrong_password not in text
        assert PASSWORD not in text


def test_failed_sign_in_for_unknown_address_is_audited_without_password(db: Any) -> None:
    response = sign_in(Client(), "nobody@example.test", "some guess at a password")
    assert response.status_code == 200
    assert BAD_CREDENTIALS in page(response)
    [failed] = events(Action.SIGN_IN_FAILED)
    assert failed.actor is None
    assert failed.actor_label == "nobody@example.test"
    assert "some guess" not in str(failed.chain_content())


def test_failed_second_factor_codes_and_the_lockout_are_audited(therapist_x: User) -> None:
    secret = totp_secret(therapist_x)
    recovery_like = "not-a-recovery-code"
    with time_machine.travel(time.time(), tick=False):
        browser = Client()
        assert sign_in(browser, therapist_x.email)["Location"] == MFA_AUTHENTICATE
        for attempt in range(settings.LOCKOUT_FAILURES):
            code = recovery_like if attempt == 0 else wrong(totp_code(secret))
            response = browser.post(MFA_AUTHENTICATE, {"code": code})
            assert response.status_code == 200
            assert "Incorrect code." in page(response)
        assert not events(Action.MFA_LOCKED_OUT)

        # Locked: even the right code is refused, and the refusal is audited too.
        response = browser.post(MFA_AUTHENTICATE, {"code": totp_code(secret)})
        assert response.status_code == 200
        assert LOCKED in page(response)
        assert signed_in_user_id(browser) is None

    failed = events(Action.MFA_FAILED)
    assert len(failed) == settings.LOCKOUT_FAILURES
    assert all(e.actor_id == therapist_x.pk and e.object_id == str(therapist_x.pk) for e in failed)
    assert all(e.detail == {"reauthentication": False} for e in failed)
    [locked] = events(Action.MFA_LOCKED_OUT)
    assert locked.actor_id == therapist_x.pk
    assert locked.detail == {"reauthentication": False}
    # Codes typed are never kept.
    stored = str([e.chain_content() for e in AuditEvent.objects.all()])
    assert recovery_like not in stored
    assert totp_code(secret) not in stored
    assert verify_trail().ok


def test_a_wrong_code_when_asked_again_for_the_second_factor_is_audited(
    therapist_x: User,
) -> None:
    with time_machine.travel(time.time(), tick=False) as clock:
        browser = signed_in(therapist_x)
        clock.shift(timedelta(seconds=settings.ACCOUNT_REAUTHENTICATION_TIMEOUT + 5))
        response = browser.post(
            "/accounts/2fa/reauthenticate/", {"code": wrong(totp_code(totp_secret(therapist_x)))}
        )
    assert response.status_code == 200
    assert "Incorrect code." in page(response)
    [failed] = events(Action.MFA_FAILED)
    assert failed.actor_id == therapist_x.pk
    assert failed.detail == {"reauthentication": True}


# --- Sessions ------------------------------------------------------------------------------------


def test_activity_keeps_session_alive_until_absolute_lifetime(client_a: User) -> None:
    with time_machine.travel(time.time(), tick=False) as clock:
        browser = signed_in_through_the_form(client_a)
        lifetime = timedelta(seconds=settings.SESSION_ABSOLUTE_LIFETIME)
        elapsed = timedelta()
        while elapsed + timedelta(minutes=20) <= lifetime:
            clock.shift(timedelta(minutes=20))
            elapsed += timedelta(minutes=20)
            response = browser.get("/")
            assert response.status_code == 200, f"signed out after {elapsed}"
        assert elapsed == lifetime == timedelta(hours=12)

        clock.shift(timedelta(minutes=20))
        response = browser.get("/settings/")
        assert response.status_code == 302
        assert response["Location"] == "/accounts/login/?next=/settings/"
        assert signed_in_user_id(browser) is None
        response = browser.get(response["Location"])
        assert "For your security, please sign in again." in page(response)
        assert browser.get("/").status_code == 302

    [expired] = events(Action.SESSION_EXPIRED)
    assert expired.actor_id == client_a.pk
    assert expired.detail == {"reason": "lifetime"}
    assert events(Action.SIGN_OUT, actor=client_a)


def test_idle_session_ends_after_timeout(client_a: User) -> None:
    idle = timedelta(seconds=settings.SESSION_IDLE_TIMEOUT)
    assert idle == timedelta(minutes=30)
    with time_machine.travel(time.time(), tick=False) as clock:
        browser = signed_in_through_the_form(client_a)
        clock.shift(idle - timedelta(minutes=1))
        assert browser.get("/").status_code == 200
        clock.shift(idle + timedelta(minutes=1))
        response = browser.get("/my-record/access/?page=2&sort=when")
        assert response.status_code == 302
        login_url = urlsplit(response["Location"])
        assert login_url.path == "/accounts/login/"
        assert parse_qs(login_url.query) == {"next": ["/my-record/access/?page=2&sort=when"]}
        assert signed_in_user_id(browser) is None
        response = browser.get(response["Location"])
        assert response.status_code == 200
        assert "You were signed out after a period of inactivity." in page(response)
        assert browser.get("/").status_code == 302
    [expired] = events(Action.SESSION_EXPIRED)
    assert expired.actor_id == client_a.pk
    assert expired.detail == {"reason": "idle"}


def test_sign_out_everywhere_ends_every_session(therapist_x: User) -> None:
    laptop = signed_in_through_the_form(therapist_x)
    # A TOTP code is accepted once: the second device signs in during the next time step.
    with time_machine.travel(time.time() + 30):
        phone = signed_in_through_the_form(therapist_x)
    assert laptop.get("/").status_code == 200
    assert phone.get("/").status_code == 200

    response = laptop.get("/settings/sign-out-everywhere/")
    assert response.status_code == 405
    assert phone.get("/").status_code == 200
    assert not events(Action.SIGN_OUT_EVERYWHERE)

    generation = User.objects.get(pk=therapist_x.pk).session_generation
    response = laptop.post("/settings/sign-out-everywhere/")
    assert response.status_code == 302
    assert response["Location"] == "/accounts/login/"
    assert "You are signed out on every device." in page(laptop.get(response["Location"]))
    assert User.objects.get(pk=therapist_x.pk).session_generation == generation + 1

    for browser in (laptop, phone):
        response = browser.get("/")
        assert response.status_code == 302
        assert response["Location"].startswith("/accounts/login/")
        assert signed_in_user_id(browser) is None
    [event] = events(Action.SIGN_OUT_EVERYWHERE)
    assert event.actor_id == therapist_x.pk

    # Signing in afresh still works.
    with time_machine.travel(time.time() + 60):
        assert signed_in_through_the_form(therapist_x).get("/").status_code == 200


# --- Passwords and invitations -------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_invitations_by_email_through_task_queue(
    admin: User, therapist_x: User, mailoutbox: list[Any]
) -> None:
    # An admin invites a therapist.
    admin_browser = signed_in(admin)
    response = admin_browser.post(
        "/invitations/",
        {"full_name": "Theo New", "email": "Theo.New@Example.test", "role": Role.THERAPIST},
    )
    assert response.status_code == 302
    assert response["Location"] == "/invitations/"
    assert "Invitation sent to theo.new@example.test." in page(admin_browser.get("/invitations/"))
    invitation = Invitation.objects.get(email="theo.new@example.test")
    assert (invitation.role, invitation.invited_by_id) == (Role.THERAPIST, admin.pk)
    assert invitation.status == "pending"
    assert events(Action.INVITATION_SENT, actor=admin)

    # Nothing is mailed from the request: the email is a queued task.
    assert mailoutbox == []
    assert DBTaskResult.objects.count() == 1
    run_task_worker()
    assert len(mailoutbox) == 1
    message = mailoutbox[0]
    assert message.subject.startswith("Your invitation to")
    assert "Theo New" in message.body
    token = invitation_token_from(mailoutbox, "theo.new@example.test")
    # The database keeps only the hash: not on the invitation, not in the queued task.
    invitation.refresh_from_db()
    assert invitation.token_hash == hash_token(token) != token
    assert token not in str(list(DBTaskResult.objects.values()))
    assert token not in str(list(Invitation.objects.values()))

    newcomer = Client()
    response = newcomer.get(f"/invite/{token}/")
    assert response.status_code == 200
    assert "theo.new@example.test" in page(response)
    response = newcomer.post(f"/invite/{token}/", accept_form(PASSPHRASE, zone="Europe/Berlin"))
    assert response.status_code == 302
    assert response["Location"] == "/"
    theo = User.objects.get(email="theo.new@example.test")
    assert theo.role == Role.THERAPIST
    assert theo.full_name == "Theo New"
    assert theo.time_zone == "Europe/Berlin"
    assert theo.password.startswith("argon2")
    assert theo.check_password(PASSPHRASE)
    assert EmailAddress.objects.filter(user=theo, email=theo.email, verified=True).exists()
    assert signed_in_user_id(newcomer) == str(theo.pk)
    # A therapist: straight on to MFA enrolment.
    assert newcomer.get("/")["Location"] == ACTIVATE_TOTP
    invitation.refresh_from_db()
    assert invitation.status == "accepted"
    assert invitation.accepted_user_id == theo.pk
    assert events(Action.ACCOUNT_CREATED, actor=theo)
    assert events(Action.INVITATION_ACCEPTED, actor=theo)

    # The link works once.
    users = User.objects.count()
    for attempt in (Client().get, Client().post):
        response = attempt(f"/invite/{token}/", accept_form(PASSPHRASE))
        assert response.status_code == 410
        assert "This invitation has already been used." in page(response)
    assert User.objects.count() == users

    # A therapist invites a client: the client is in their care once they accept.
    therapist_browser = signed_in(therapist_x)
    response = therapist_browser.post(
        "/invitations/",
        {"full_name": "Cleo New", "email": "cleo.new@example.test", "role": Role.CLIENT},
    )
    assert response.status_code == 302
    run_task_worker()
    token = invitation_token_from(mailoutbox, "cleo.new@example.test")
    newcomer = Client()
    assert newcomer.get(f"/invite/{token}/").status_code == 200
    response = newcomer.post(f"/invite/{token}/", accept_form(PASSPHRASE))
    assert response.status_code == 302
    cleo = User.objects.get(email="cleo.new@example.test")
    assert cleo.role == Role.CLIENT
    assert EmailAddress.objects.get(user=cleo).verified
    relationship = CareRelationship.objects.get(client=cleo)
    assert relationship.therapist_id == therapist_x.pk
    assert relationship.status == CareRelationship.Status.ACTIVE
    # Signed in, no MFA demanded, and the home page names the therapist.
    response = newcomer.get("/")
    assert response.status_code == 200
    assert "Xena Therapist" in page(response)
    assert "Cleo New" in page(therapist_browser.get("/clients/"))
    assert verify_trail().ok


def invitation_row(response: Any, email: str) -> str:
    """The invitations list's row for ``email``, as text with the address taken out."""
    rows = re.findall(r"<tr>.*?</tr>", response.content.decode(), re.DOTALL)
    matching = [r for r in rows if email in r]
    if len(matching) != 1:
        return f"{len(matching)} rows"
    row = re.sub(r"/invitations/\d+/revoke/", "/invitations/N/revoke/", matching[0])
    row = re.sub(r'name="csrfmiddlewaretoken" value="[^"]+"', "", row)
    return row.replace(email, "EMAIL")


def flash(response: Any, email: str) -> list[str]:
    return [str(m).replace(email, "EMAIL") for m in response.context["messages"]]


@pytest.mark.django_db(transaction=True)
def test_inviting_an_address_that_has_an_account_answers_as_for_a_new_one(
    admin: User, therapist_x: User, client_b: User, smtp: Inbox
) -> None:
    browser = signed_in(therapist_x)
    answers = {}
    for email in (client_b.email, "newcomer@example.test"):
        response = browser.post(
            "/invitations/", {"full_name": "Bo Person", "email": email, "role": Role.CLIENT}
        )
        followed = browser.get(response["Location"]) if response.status_code == 302 else response
        answers[email] = (
            response.status_code,
            response.get("Location"),
            response.content,
            flash(followed, email),
            invitation_row(followed, email),
        )
    assert answers[client_b.email] == answers["newcomer@example.test"]
    assert answers[client_b.email][:2] == (302, "/invitations/")
    assert answers[client_b.email][3] == ["Invitation sent to EMAIL."]
    assert len(events(Action.INVITATION_SENT, actor=therapist_x)) == 2

    # The worker sends the newcomer their link; the account holder is told to sign in instead,
    # and the practice's admins are told (without saying who) what happened.
    run_task_worker()
    mail = {message["To"]: text_of(message) for message in smtp.take()}
    assert set(mail) == {client_b.email, "newcomer@example.test", admin.email}
    assert "/invite/" in mail["newcomer@example.test"]
    existing = mail[client_b.email]
    assert "/invite/" not in existing
    assert "already have an account" in existing
    assert "/accounts/login/" in existing
    notice = mail[admin.email]
    assert "already has an account" in notice
    assert client_b.email not in notice
    assert "Bo Person" not in notice
    invitation = Invitation.objects.get(email=client_b.email)
    [event] = events(Action.INVITATION_EXISTING_ACCOUNT)
    assert (event.object_id, event.detail) == (str(invitation.pk), {"account": client_b.pk})

    # The admin's list says which invitation it was; the therapist's does not.
    admin_list = page(signed_in(admin).get("/invitations/"))
    assert admin_list.count("Already has an account") == 1
    assert "Already has an account" not in page(browser.get("/invitations/"))
    assert not User.objects.filter(email="newcomer@example.test").exists()
    assert verify_trail().ok


def test_therapist_cannot_invite_a_therapist(therapist_x: User) -> None:
    browser = signed_in(therapist_x)
    response = browser.post(
        "/invitations/",
        {"full_name": "Rogue Hire", "email": "rogue@example.test", "role": Role.THERAPIST},
    )
    assert response.status_code == 200
    assert "Select a valid choice." in page(response)
    assert not Invitation.objects.exists()
    assert not events(Action.INVITATION_SENT)


def test_admin_can_invite_a_client_but_not_an_unknown_role(admin: User) -> None:
    """Admins invite clients too (issue 21: a client the practice will match, in nobody's care
    yet; tests/test_signup.py follows one in)."""
    browser = signed_in(admin)
    response = browser.post(
        "/invitations/",
        {"full_name": "Cal Client", "email": "cal@example.test", "role": "superuser"},
    )
    assert response.status_code == 200
    assert "Select a valid choice." in page(response)
    assert not Invitation.objects.exists()
    response = browser.post(
        "/invitations/",
        {"full_name": "Cal Client", "email": "cal@example.test", "role": Role.CLIENT},
    )
    assert response.status_code == 302
    assert Invitation.objects.get().role == Role.CLIENT


def test_client_cannot_open_invitations(client_a: User) -> None:
    browser = signed_in(client_a)
    assert browser.get("/invitations/").status_code == 403
    response = browser.post(
        "/invitations/", {"full_name": "Friend", "email": "friend@example.test", "role": "client"}
    )
    assert response.status_code == 403
    assert not Invitation.objects.exists()


def test_expired_invitation_is_refused(therapist_x: User) -> None:
    _invitation, token = services.invite(
        therapist_x, email="late@example.test", full_name="Lou Late", role=Role.CLIENT
    )
    with time_machine.travel(time.time() + settings.INVITATION_DAYS * 86400 - 60):
        assert Client().get(f"/invite/{token}/").status_code == 200
    with time_machine.travel(time.time() + settings.INVITATION_DAYS * 86400 + 60):
        for attempt in (Client().get, Client().post):
            response = attempt(f"/invite/{token}/", accept_form(PASSPHRASE))
            assert response.status_code == 410
            assert "This invitation has expired." in page(response)
    assert not User.objects.filter(email="late@example.test").exists()


def test_revoked_invitation_is_refused(therapist_x: User) -> None:
    invitation, token = services.invite(
        therapist_x, email="gone@example.test", full_name="Gil Gone", role=Role.CLIENT
    )
    browser = signed_in(therapist_x)
    response = browser.post(f"/invitations/{invitation.pk}/revoke/")
    assert response.status_code == 302
    invitation.refresh_from_db()
    assert invitation.status == "revoked"
    assert events(Action.INVITATION_REVOKED, actor=therapist_x)
    for attempt in (Client().get, Client().post):
        response = attempt(f"/invite/{token}/", accept_form(PASSPHRASE))
        assert response.status_code == 410
        assert "This invitation was withdrawn." in page(response)
    assert not User.objects.filter(email="gone@example.test").exists()


def test_invalid_invitation_token_is_refused(db: Any) -> None:
    response = Client().get("/invite/not-a-real-token/")
    assert response.status_code == 410
    assert "This invitation link is not valid." in page(response)
    response = Client().post("/invite/not-a-real-token/", accept_form(PASSPHRASE))
    assert response.status_code == 410
    assert not User.objects.exists()


@pytest.mark.parametrize(
    ("password", "confirm", "error"),
    [
        (PASSPHRASE, PASSPHRASE + " too", "The two passwords are not the same."),
        ("plum quartz", None, "It must contain at least 12 characters."),
        ("qazwsxedcrfv", None, "This password is too common."),
        ("314159265358979", None, "This password is entirely numeric."),
    ],
)
def test_accepting_invitation_with_bad_password_creates_nothing(
    therapist_x: User, password: str, confirm: str | None, error: str
) -> None:
    invitation, token = services.invite(
        therapist_x, email="pat@example.test", full_name="Pat Person", role=Role.CLIENT
    )
    browser = Client()
    response = browser.post(f"/invite/{token}/", accept_form(password, confirm))
    assert response.status_code == 200
    assert error in page(response)
    assert not User.objects.filter(email="pat@example.test").exists()
    assert CareRelationship.objects.count() == 1
    invitation.refresh_from_db()
    assert invitation.status == "pending"
    assert signed_in_user_id(browser) is None


def test_long_lowercase_passphrase_is_enough_and_hashed_with_argon2(therapist_x: User) -> None:
    _invitation, token = services.invite(
        therapist_x, email="pat@example.test", full_name="Pat Person", role=Role.CLIENT
    )
    # No composition rules: twelve lowercase letters and spaces are a fine password.
    response = Client().post(f"/invite/{token}/", accept_form("lemon garden"))
    assert response.status_code == 302
    pat = User.objects.get(email="pat@example.test")
    assert pat.password.startswith("argon2")
    assert "lemon garden" not in pat.password
    browser = Client()
    assert sign_in(browser, pat.email, "lemon garden").status_code == 302
    assert signed_in_user_id(browser) == str(pat.pk)


# --- Client self-registration --------------------------------------------------------------------


def test_self_registration_is_closed_by_default(db: Any) -> None:
    assert Practice.get().allow_client_self_registration is False
    browser = Client()
    response = browser.get("/accounts/signup/")
    assert "Sign Up Closed" in page(response)
    response = browser.post(
        "/accounts/signup/",
        {"email": "walkin@example.test", "password1": PASSPHRASE, "password2": PASSPHRASE},
    )
    assert "Sign Up Closed" in page(response)
    assert not User.objects.exists()


def test_the_sign_in_page_offers_sign_up_only_while_the_practice_allows_it(admin: User) -> None:
    """Moved from the admin's browser journey, which opens registration and follows the link."""
    link = '<a href="/accounts/signup/">Create a client account</a>'
    settings_page = signed_in(admin)
    for allowed in (True, False, True, False):
        response = settings_page.post(
            "/practice/settings/",
            {
                "name": "Rapport practice",
                **({"allow_client_self_registration": "on"} if allowed else {}),
                "crisis_resources": "Call 988.",
                **SCHEDULING_DEFAULTS,
            },
        )
        assert response.status_code == 302
        assert (link in page(Client().get("/accounts/login/"))) is allowed


def test_self_registration_when_open_needs_verified_email(
    admin: User, mailoutbox: list[Any]
) -> None:
    admin_browser = signed_in(admin)
    response = admin_browser.post(
        "/practice/settings/",
        {
            "name": "Rapport practice",
            "allow_client_self_registration": "on",
            "crisis_resources": "Call 988.",
            **SCHEDULING_DEFAULTS,
        },
    )
    assert response.status_code == 302
    assert Practice.get().allow_client_self_registration is True
    [changed] = events(Action.PRACTICE_SETTINGS_CHANGED)
    assert "allow_client_self_registration" in changed.detail["fields"]

    browser = Client()
    assert browser.get("/accounts/signup/").status_code == 200
    response = browser.post(
        "/accounts/signup/",
        {"email": "walkin@example.test", "password1": PASSPHRASE, "password2": PASSPHRASE},
    )
    # Email and password are not enough: a client also asks for a therapist (rapport.signup,
    # tested in tests/test_signup.py).
    assert response.status_code == 200
    assert "How you prefer to meet: Choose at least one way to meet." in page(response)
    assert not User.objects.filter(email="walkin@example.test").exists()
    response = browser.post(
        "/accounts/signup/",
        {
            "email": "walkin@example.test",
            "password1": PASSPHRASE,
            "password2": PASSPHRASE,
            "full_name": "Wally Walkin",
            "date_of_birth": "1990-04-23",
            "region": "GB",
            "time_zone": "Europe/London",
            "language": "en",
            "modalities": ["video"],
            "payment_route": "self_pay",
        },
    )
    assert response.status_code == 302
    assert response["Location"] == "/accounts/confirm-email/"
    walkin = User.objects.get(email="walkin@example.test")
    assert walkin.role == Role.CLIENT
    assert walkin.password.startswith("argon2")
    assert not EmailAddress.objects.get(user=walkin).verified
    assert signed_in_user_id(browser) is None

    # Not verified: signing in leads back to the verification notice, not into Rapport.
    response = sign_in(browser, walkin.email, PASSPHRASE)
    assert response.status_code == 302
    assert response["Location"] == "/accounts/confirm-email/"
    assert signed_in_user_id(browser) is None
    assert browser.get("/")["Location"].startswith("/accounts/login/")

    outbox.send_due()  # the worker's sweep: allauth's emails go through the outbox
    [message] = [m for m in mailoutbox if m.to == [walkin.email]][:1]
    body = body_of(message.message())  # as sent: the worker sends the recorded email
    match = re.search(r"/accounts/confirm-email/([^/\s]+)/", body)
    assert match is not None, body
    confirm_url = f"/accounts/confirm-email/{match.group(1)}/"
    assert browser.get(confirm_url).status_code == 200
    assert not EmailAddress.objects.get(user=walkin).verified  # no confirmation on GET
    response = browser.post(confirm_url)
    assert response.status_code == 302
    assert EmailAddress.objects.get(user=walkin).verified
    assert events(Action.EMAIL_CONFIRMED, actor=walkin)

    response = sign_in(browser, walkin.email, PASSPHRASE)
    assert response.status_code == 302
    assert response["Location"] == "/"
    assert signed_in_user_id(browser) == str(walkin.pk)
    assert browser.get("/").status_code == 200  # a client: no MFA enrolment demanded


# --- Sudo mode -----------------------------------------------------------------------------------


def test_practice_settings_ask_for_password_again_after_timeout(admin: User) -> None:
    with time_machine.travel(time.time()) as clock:
        browser = signed_in_through_the_form(admin)
        assert browser.get("/practice/settings/").status_code == 200

        clock.shift(timedelta(seconds=settings.ACCOUNT_REAUTHENTICATION_TIMEOUT + 5))
        response = browser.get("/practice/settings/")
        assert response.status_code == 302
        assert response["Location"] == "/accounts/reauthenticate/?next=%2Fpractice%2Fsettings%2F"
        response = browser.get(response["Location"])
        assert response.status_code == 200

        response = browser.post(
            "/accounts/reauthenticate/",
            {"password": "not my password at all", "next": "/practice/settings/"},
        )
        assert response.status_code == 200
        assert "Incorrect password." in page(response)
        assert browser.get("/practice/settings/").status_code == 302

        response = browser.post(
            "/accounts/reauthenticate/", {"password": PASSWORD, "next": "/practice/settings/"}
        )
        assert response.status_code == 302
        assert response["Location"] == "/practice/settings/"
        response = browser.get("/practice/settings/")
        assert response.status_code == 200
        assert "Practice settings" in page(response)
        response = browser.post(
            "/practice/settings/",
            {"name": "Harbour Counselling", "crisis_resources": "Call 988.", **SCHEDULING_DEFAULTS},
        )
        assert response.status_code == 302
    assert Practice.get().name == "Harbour Counselling"


def test_email_changes_ask_for_the_password_again_and_tell_the_old_address(
    client_a: User, smtp: Inbox
) -> None:
    owner = client_a.email
    # A second address the owner proved earlier (the thief's would be proved the same way).
    EmailAddress.objects.create(user=client_a, email="spare@example.test", verified=True)
    with time_machine.travel(time.time()) as clock:
        browser = signed_in(client_a)
        # An unattended browser, long after the sign-in: every change asks for the password.
        clock.shift(timedelta(seconds=settings.ACCOUNT_REAUTHENTICATION_TIMEOUT + 5))
        attempts = [
            {"action_add": "", "email": "thief@example.test"},
            {"action_primary": "", "email": "spare@example.test"},
            {"action_remove": "", "email": "spare@example.test"},
        ]
        for data in attempts:
            response = browser.post("/accounts/email/", data)
            assert response.status_code == 302, data
            assert response["Location"] == "/accounts/reauthenticate/?next=%2Faccounts%2Femail%2F"
        addresses = EmailAddress.objects.filter(user=client_a)
        assert sorted(addresses.values_list("email", "primary")) == [
            (owner, True),
            ("spare@example.test", False),
        ]
        client_a.refresh_from_db()
        assert client_a.email == owner
        outbox.send_due()
        assert smtp.take() == []
        for action in (Action.EMAIL_ADDED, Action.EMAIL_PRIMARY_CHANGED, Action.EMAIL_REMOVED):
            assert not events(action)

        # With the password typed again, each change works and each is told and audited.
        response = browser.post("/accounts/reauthenticate/", {"password": PASSWORD})
        assert response.status_code == 302
        response = browser.post("/accounts/email/", attempts[0])
        assert response.status_code == 302
        assert response["Location"] == "/accounts/email/"
        assert EmailAddress.objects.filter(user=client_a, email="thief@example.test").exists()
        outbox.send_due()  # the worker's sweep: allauth's emails go through the outbox
        mail = smtp.take()
        [added] = [text_of(m) for m in mail if m["To"] == owner]
        assert "Subject: [Rapport] An email address was added to your account" in added
        assert "thief@example.test" not in added  # content-free: what changed, not to what
        [event] = events(Action.EMAIL_ADDED, actor=client_a)
        assert event.detail == {"email": "thief@example.test"}

        response = browser.post("/accounts/email/", attempts[1])
        assert response.status_code == 302
        client_a.refresh_from_db()
        assert client_a.email == "spare@example.test"
        outbox.send_due()
        [changed] = [text_of(m) for m in smtp.take() if m["To"] == owner]
        assert "Subject: [Rapport] Your sign-in email was changed" in changed
        assert "contact your practice" in changed
        [event] = events(Action.EMAIL_PRIMARY_CHANGED, actor=client_a)
        assert event.detail == {"email": "spare@example.test", "previous": owner}

        response = browser.post("/accounts/email/", {"action_remove": "", "email": owner})
        assert response.status_code == 302
        assert not EmailAddress.objects.filter(email=owner).exists()
        outbox.send_due()
        removed = [text_of(m) for m in smtp.take()]
        # The removed address itself is told (it is the one the owner still reads).
        assert any(f"To: {owner}" in text for text in removed), removed
        assert all("An email address was removed from your account" in t for t in removed)
        [event] = events(Action.EMAIL_REMOVED, actor=client_a)
        assert event.detail == {"email": owner}
    assert verify_trail().ok


def test_password_change_needs_the_current_password_and_tells_the_address(
    client_a: User, smtp: Inbox
) -> None:
    new_password = "seven amber lanterns at dusk"
    with time_machine.travel(time.time()) as clock:
        browser = signed_in(client_a)
        clock.shift(timedelta(seconds=settings.ACCOUNT_REAUTHENTICATION_TIMEOUT + 5))
        change = {"password1": new_password, "password2": new_password}
        response = browser.post(
            "/accounts/password/change/", {"oldpassword": "a guess at it", **change}
        )
        assert response.status_code == 200
        assert "Please type your current password." in page(response)
        client_a.refresh_from_db()
        assert client_a.check_password(PASSWORD)
        outbox.send_due()
        assert smtp.take() == []

        response = browser.post("/accounts/password/change/", {"oldpassword": PASSWORD, **change})
        assert response.status_code == 302
        outbox.send_due()  # the worker's sweep: allauth's emails go through the outbox
    client_a.refresh_from_db()
    assert client_a.check_password(new_password)
    [notice] = smtp.take()
    assert notice["To"] == client_a.email
    text = text_of(notice)
    assert "Subject: [Rapport] Your password was changed" in text
    assert new_password not in text
    assert events(Action.PASSWORD_CHANGED, actor=client_a)


# --- Preferences ---------------------------------------------------------------------------------


def test_preferences_set_time_zone_and_language(client_a: User) -> None:
    browser = signed_in(client_a)
    response = browser.get("/settings/")
    assert response.status_code == 200
    assert response["Content-Language"] == "en"

    response = browser.post(
        "/settings/",
        {"full_name": "Alice Client", "time_zone": "Mars/Olympus", "language": "fr"},
    )
    assert response.status_code == 200
    assert "Mars/Olympus is not one of the available choices." in page(response)
    client_a.refresh_from_db()
    assert (client_a.time_zone, client_a.language) == ("UTC", "en")
    assert not events(Action.PREFERENCES_CHANGED)

    # French and German are no longer offered (their translations were not complete).
    response = browser.post(
        "/settings/",
        {"full_name": "Alice Client", "time_zone": "Europe/Paris", "language": "fr"},
    )
    assert response.status_code == 200
    assert "Select a valid choice. fr is not one of the available choices." in page(response)

    response = browser.post(
        "/settings/",
        {"full_name": "Alice Client", "time_zone": "Europe/Paris", "language": "es", "clock": "12"},
    )
    assert response.status_code == 302
    client_a.refresh_from_db()
    assert (client_a.time_zone, client_a.language, client_a.clock) == ("Europe/Paris", "es", "12")
    [changed] = events(Action.PREFERENCES_CHANGED, actor=client_a)
    assert changed.detail == {"fields": ["clock", "language", "time_zone"]}

    response = browser.get("/")
    assert response.status_code == 200
    assert response["Content-Language"] == "es"
    assert '<html lang="es" data-hour-cycle="h12" data-time-zone="Europe/Paris">' in page(response)


def test_pages_show_times_in_the_users_time_zone(therapist_x: User) -> None:
    invitation, _token = services.invite(
        therapist_x, email="tz@example.test", full_name="Tia Zone", role=Role.CLIENT
    )
    browser = signed_in(therapist_x)
    response = browser.post(
        "/settings/",
        {"full_name": therapist_x.full_name, "time_zone": "Asia/Tokyo", "language": "en"},
    )
    assert response.status_code == 302
    response = browser.get("/invitations/")
    assert response.status_code == 200
    shown = "j M Y, H:i"
    tokyo = dateformat.format(invitation.expires_at.astimezone(ZoneInfo("Asia/Tokyo")), shown)
    utc = dateformat.format(invitation.expires_at.astimezone(ZoneInfo("UTC")), shown)
    assert tokyo in page(response)
    assert utc not in page(response)
