"""A new client's way in (issue 21): the sign-up form and what it creates, minors (refused, or a
guardian's consent), branded emails, the intake and screen, a risk answer before any therapist
reaching the on-call admin, the intake queue, and an admin inviting a client."""

from __future__ import annotations

import html
import re
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
import time_machine
from allauth.account.models import EmailAddress
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from rapport.accounts import services as account_services
from rapport.accounts.models import Invitation, MinorsPolicy, Practice, Role, User
from rapport.audit.models import AuditEvent
from rapport.audit.services import Action
from rapport.care.models import CareRelationship, ClientProfile
from rapport.intake import services as intake_services
from rapport.intake.catalogue import choose_default
from rapport.intake.models import Intake
from rapport.matching.models import CareRequest
from rapport.matching.services import request_of
from rapport.measures.models import Response, SafetyAlert
from rapport.signup import services
from rapport.signup.models import GuardianConsent, IntakeAlert
from tests.conftest import PASSWORD, make_user, signed_in
from tests.intake_data import adult_answers
from tests.mail import Inbox, body_of
from tests.worker import run_task_worker

PASSPHRASE = "lemon garden under the rain"


def page(response: Any) -> str:
    return html.unescape(response.content.decode())


def open_registration(**fields: Any) -> Practice:
    practice = Practice.get()
    practice.allow_client_self_registration = True
    for name, value in fields.items():
        setattr(practice, name, value)
    practice.save()
    return practice


def born_years_ago(years: int, days: int = 0) -> str:
    today = timezone.localdate()
    return (today.replace(year=today.year - years) - timedelta(days=days)).isoformat()


def signup_form(**overrides: str | list[str]) -> dict[str, Any]:
    data: dict[str, Any] = {
        "full_name": "Robin Newcomer",
        "preferred_name": "Rob",
        "email": "robin@example.test",
        "password1": PASSPHRASE,
        "password2": PASSPHRASE,
        "date_of_birth": born_years_ago(30),
        "region": "US-CA",
        "time_zone": "America/Los_Angeles",
        "language": "es",
        "modalities": ["video", "text"],
        "concerns": ["anxiety", "sleep"],
        "concerns_text": "Cannot sleep before exams",
        "day_0": "1",
        "start_0": "18:00",
        "end_0": "20:00",
        "payment_route": "insurance",
        "insurer_name": "Blue Shield",
    }
    data.update(overrides)
    return data


def events(action: str, **filters: Any) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(action=action, **filters))


def sign_up(data: dict[str, Any]) -> Any:
    return Client().post(reverse("account_signup"), data)


def confirm_email(user: User, mailoutbox_or_inbox: list[str]) -> Client:
    """Follow the verification link in the last email to ``user`` and sign in."""
    [body] = [b for b in mailoutbox_or_inbox if user.email in b or "confirm-email" in b][-1:]
    match = re.search(r"/accounts/confirm-email/([^/\s]+)/", body)
    assert match is not None, body
    browser = Client()
    assert browser.post(f"/accounts/confirm-email/{match.group(1)}/").status_code == 302
    assert (
        browser.post("/accounts/login/", {"login": user.email, "password": PASSPHRASE}).status_code
        == 302
    )
    return browser


def mails(smtp: Inbox) -> dict[str, list[str]]:
    run_task_worker()
    got: dict[str, list[str]] = {}
    for message in smtp.take():
        got.setdefault(str(message["To"]), []).append(
            f"Subject: {message['Subject']}\n{body_of(message)}"
        )
    return got


# --- Signing up ---------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_sign_up_creates_the_named_client_their_profile_and_request(
    smtp: Inbox, admin: User
) -> None:
    open_registration(name="Riverside Counselling")
    response = sign_up(signup_form())
    assert response.status_code == 302, page(response)
    assert response["Location"] == "/accounts/confirm-email/"
    robin = User.objects.get(email="robin@example.test")
    assert (robin.full_name, robin.role, robin.language, robin.time_zone) == (
        "Robin Newcomer",
        Role.CLIENT,
        "es",
        "America/Los_Angeles",
    )
    profile = ClientProfile.objects.get(client=robin)
    assert (profile.preferred_name, profile.country) == ("Rob", "US")
    assert profile.date_of_birth.isoformat() == born_years_ago(30)
    care_request = CareRequest.objects.get(client=robin)
    assert care_request.status == CareRequest.Status.INTAKE
    assert care_request.region == "US-CA"
    assert care_request.modalities == ["video", "text"]
    assert care_request.concerns == ["anxiety", "sleep"]
    assert care_request.concerns_text == "Cannot sleep before exams"
    assert care_request.availability == [{"weekday": 1, "start": "18:00", "end": "20:00"}]
    assert (care_request.payment_route, care_request.insurer_name) == ("insurance", "Blue Shield")
    # Free text is encrypted at rest.
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT concerns_text FROM matching_carerequest WHERE id = %s", [care_request.pk]
        )
        assert "exams" not in cursor.fetchone()[0]
    assert events(Action.SIGNUP_REGISTERED, actor=robin)
    queue = page(signed_in(admin).get(reverse("intake_queue")))
    assert "Robin Newcomer" in queue and "Email address not confirmed yet" in queue

    # The verification email is the practice's own, in Spanish, linking to the real site.
    got = mails(smtp)
    [mail] = got[robin.email]
    assert "Riverside Counselling" in mail
    assert "localhost" not in mail and "example.com" not in mail
    assert (
        "http://127.0.0.1:8000/accounts/confirm-email/" in mail
        or "/accounts/confirm-email/" in mail
    )
    from django.conf import settings

    assert f"{settings.SITE_URL}/accounts/confirm-email/" in mail
    assert "Confirme su correo electrónico para Riverside Counselling" in mail  # Spanish


@pytest.mark.django_db(transaction=True)
def test_the_verification_email_names_the_practice_in_english(smtp: Inbox) -> None:
    open_registration(name="Harbour Therapy")
    assert sign_up(signup_form(language="en")).status_code == 302
    [mail] = mails(smtp)["robin@example.test"]
    assert "Confirm your email address for Harbour Therapy" in mail
    assert "Hello from Harbour Therapy" in mail
    assert "localhost" not in mail and "example.com" not in mail


BAD_INPUT = [
    ({"full_name": ""}, "full_name", "This field is required."),
    ({"date_of_birth": "31/02/1990"}, "date_of_birth", "Enter the date as year-month-day"),
    ({"date_of_birth": "2999-01-01"}, "date_of_birth", "cannot be in the future"),
    ({"region": "XX-YY"}, "region", "Select a valid choice"),
    ({"time_zone": "Mars/Olympus"}, "time_zone", "is not a time zone we know"),
    ({"language": "fr"}, "language", "Select a valid choice"),
    ({"modalities": []}, "modalities", "Choose at least one way to meet."),
    ({"concerns": ["astrology"]}, "concerns", "Select a valid choice"),
    ({"payment_route": "insurance", "insurer_name": ""}, "insurer_name", "Say which insurance"),
    ({"end_0": "17:00"}, "end_0", "The end must be after the start."),
    ({"day_0": ""}, "day_0", "Choose the day."),
    ({"start_0": ""}, "start_0", "Give both times."),
    ({"password2": "something else entirely"}, "password2", "same password"),
    ({"email": "not-an-address"}, "email", "valid email"),
]


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("change", "field", "error"), BAD_INPUT, ids=[b[1] + str(i) for i, b in enumerate(BAD_INPUT)]
)
def test_bad_input_is_refused_with_a_clear_error_and_nothing_created(
    change: dict[str, Any], field: str, error: str
) -> None:
    open_registration()
    response = sign_up(signup_form(**change))
    assert response.status_code == 200
    text = page(response)
    assert error in text, text[:3000]
    assert 'class="error-summary"' in text
    assert 'value="Robin Newcomer"' in text or field == "full_name"  # what was typed stays
    assert not User.objects.exists()
    assert not CareRequest.objects.exists()
    assert not ClientProfile.objects.exists()


@pytest.mark.django_db
def test_a_failure_after_the_account_is_saved_leaves_nothing_behind(monkeypatch: Any) -> None:
    """The account, profile and request are one transaction."""
    open_registration()

    def broken(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("the database went away")

    monkeypatch.setattr("rapport.signup.services.open_request", broken)
    with pytest.raises(RuntimeError):
        sign_up(signup_form())
    assert not User.objects.exists()
    assert not ClientProfile.objects.exists()
    assert not EmailAddress.objects.exists()


# --- Minors -------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_minor_is_refused_kindly_with_crisis_help_by_default() -> None:
    open_registration()
    assert Practice.get().minors_policy == MinorsPolicy.REFUSE
    response = sign_up(signup_form(date_of_birth=born_years_ago(15)))
    assert response.status_code == 200
    text = page(response)
    assert "only work with people aged 18 or older" in text
    assert 'id="minor-refused"' in text
    assert "If you are in danger or need to talk to someone now" in text
    assert 'href="tel:988"' in text  # the crisis line where they said they live (US-CA)
    assert not User.objects.exists()


@pytest.mark.django_db
def test_age_is_counted_in_the_clients_time_zone() -> None:
    """18 tomorrow in UTC terms is already 18 in Auckland on that date."""
    practice = open_registration()
    born = date(2008, 6, 2)
    # 1 June 2026 20:00 UTC is 2 June 08:00 in Auckland, still 1 June in Los Angeles.
    moment = datetime(2026, 6, 1, 20, 0, tzinfo=UTC)
    assert services.is_minor(born, "America/Los_Angeles", practice=practice, now=moment)
    assert not services.is_minor(born, "Pacific/Auckland", practice=practice, now=moment)
    practice.age_of_majority = 16
    assert not services.is_minor(born, "America/Los_Angeles", practice=practice, now=moment)
    assert services.age_on(date(2008, 2, 29), date(2026, 2, 28)) == 17
    assert services.age_on(date(2008, 2, 29), date(2026, 3, 1)) == 18


@pytest.mark.django_db(transaction=True)
def test_a_minor_with_a_guardian_waits_for_their_consent(smtp: Inbox, admin: User) -> None:
    open_registration(minors_policy=MinorsPolicy.GUARDIAN, name="Riverside Counselling")
    choose_default("adult", admin)  # the practice's own choice, for minors too
    data = signup_form(date_of_birth=born_years_ago(16), language="en")
    # The guardian is required for a minor, and must not be the minor's own address.
    response = sign_up(data)
    assert "give the name of a parent or guardian" in page(response)
    response = sign_up(
        {**data, "guardian_name": "Sam Parent", "guardian_email": "robin@example.test"}
    )
    assert "not yours" in page(response)
    assert not User.objects.filter(role=Role.CLIENT).exists()

    data.update(
        guardian_name="Sam Parent",
        guardian_email="sam@example.test",
        guardian_message="Please say yes",
    )
    assert sign_up(data).status_code == 302
    robin = User.objects.get(email="robin@example.test")
    consent = GuardianConsent.objects.get(client=robin)
    assert consent.guardian_name == "Sam Parent" and consent.message == "Please say yes"
    # Nobody but the minor is emailed before they confirm their own address.
    got = mails(smtp)
    assert list(got) == [robin.email]
    browser = confirm_email(robin, got[robin.email])
    got = mails(smtp)
    [guardian_mail] = got["sam@example.test"]
    assert "Riverside Counselling asks for your consent" in guardian_mail
    assert "Hello Sam Parent" in guardian_mail and "Rob has asked" in guardian_mail
    match = re.search(r"/guardian/([^/\s]+)/", guardian_mail)
    assert match is not None
    link = f"/guardian/{match.group(1)}/"

    # The minor does the intake and screen; the request still waits for the guardian.
    finish_intake(browser, robin)
    assert browser.post(reverse("signup_screen"), screen_answers()).status_code == 302
    assert request_of(robin).status == CareRequest.Status.INTAKE  # type: ignore[union-attr]
    assert services.next_step(robin).key == "guardian"  # type: ignore[union-attr]
    queue = page(signed_in(admin).get(reverse("intake_queue")))
    assert (
        "Waiting for a guardian&#x27;s consent" in queue
        or "Waiting for a guardian's consent" in queue
    )

    guardian = Client()
    shown = page(guardian.get(link))
    assert "Rob has asked Riverside Counselling for a therapist" in shown
    assert "Please say yes" in shown
    refused = guardian.post(link, {"signed_name": "Sam Parent"})
    assert refused.status_code == 400 and "Tick the box to consent." in page(refused)
    assert guardian.post(link, {"agree": "on", "signed_name": "Sam Parent"}).status_code == 200
    consent.refresh_from_db()
    assert consent.consented_at is not None and consent.signed_name == "Sam Parent"
    # Handed to matching once the guardian said yes (nobody fits here: the waitlist).
    assert request_of(robin).status == CareRequest.Status.WAITLISTED  # type: ignore[union-attr]
    assert events(Action.GUARDIAN_CONSENTED)
    assert guardian.get(link).status_code == 404  # the link works once


def signed_up_minor(smtp: Inbox) -> tuple[User, GuardianConsent, Client, str]:
    """A 16-year-old signed up with a guardian, their own address confirmed (the guardian was
    asked): the minor, the consent, the minor's browser and the guardian's email."""
    open_registration(minors_policy=MinorsPolicy.GUARDIAN, name="Riverside Counselling")
    data = signup_form(date_of_birth=born_years_ago(16), language="en")
    data.update(guardian_name="Sam Parent", guardian_email="sam@exmaple.test")  # a typo
    assert sign_up(data).status_code == 302
    robin = User.objects.get(email="robin@example.test")
    browser = confirm_email(robin, mails(smtp)[robin.email])
    [guardian_mail] = mails(smtp)["sam@exmaple.test"]
    return robin, GuardianConsent.objects.get(client=robin), browser, guardian_mail


def link_in(mail: str) -> str:
    match = re.search(r"/guardian/([^/\s]+)/", mail)
    assert match is not None, mail
    return f"/guardian/{match.group(1)}/"


@pytest.mark.django_db(transaction=True)
def test_a_minor_corrects_the_guardians_address_and_sends_a_new_link(
    smtp: Inbox, admin: User
) -> None:
    robin, consent, browser, first_mail = signed_up_minor(smtp)
    old_link = link_in(first_mail)
    home = page(browser.get(reverse("home")))
    assert "Send the link again or correct their address" in home
    shown = page(browser.get(reverse("signup_guardian")))
    assert "We emailed Sam Parent at sam@exmaple.test" in shown
    assert "The link works for 14 days." in shown

    # Too soon after the first link: refused, and what was typed stays in the form.
    fixed = {"guardian_name": "Sam Parent", "guardian_email": "sam@example.test"}
    refused = browser.post(reverse("signup_guardian"), fixed)
    assert refused.status_code == 400
    assert "You can send it again in 10 minutes." in page(refused)
    assert 'value="sam@example.test"' in page(refused)
    # Bad input is explained, and nothing is sent.
    with time_machine.travel(timezone.now() + timedelta(minutes=11)):
        bad = browser.post(reverse("signup_guardian"), {**fixed, "guardian_email": "sam@"})
        assert bad.status_code == 400 and "does not look right" in page(bad)
        own = browser.post(reverse("signup_guardian"), {**fixed, "guardian_email": robin.email})
        assert own.status_code == 400 and "not yours" in page(own)
        assert mails(smtp) == {}

        sent = browser.post(reverse("signup_guardian"), fixed, follow=True)
        assert "We sent a new link to sam@example.test." in page(sent)
        got = mails(smtp)
    consent.refresh_from_db()
    assert consent.guardian_email == "sam@example.test"
    [changed] = events(Action.GUARDIAN_CHANGED)
    assert changed.actor_id == robin.pk and changed.detail["fields"] == ["guardian_email"]
    assert "sam@" not in str(changed.detail)  # identifiers only in the audit trail
    assert list(got) == ["sam@example.test"]
    new_link = link_in(got["sam@example.test"][0])
    guardian = Client()
    assert guardian.get(old_link).status_code == 404  # the mistyped address's link is dead
    assert guardian.post(new_link, {"agree": "on", "signed_name": "Sam Parent"}).status_code == 200
    shown = page(browser.get(reverse("signup_guardian")))
    assert "Sam Parent consented on" in shown and "Send a new link" not in shown
    assert browser.post(reverse("signup_guardian"), fixed).status_code == 200  # nothing to send
    assert mails(smtp) == {}


@pytest.mark.django_db(transaction=True)
def test_a_guardian_is_reminded_once_and_an_old_link_expires(smtp: Inbox, admin: User) -> None:
    robin, consent, _browser, first_mail = signed_up_minor(smtp)
    assert services.remind_guardians() == 0  # not yet due
    later = timezone.now() + timedelta(days=services.GUARDIAN_REMINDER_DAYS, minutes=1)
    with time_machine.travel(later):
        assert services.remind_guardians() == 1
        assert services.remind_guardians() == 0  # once
        [reminder] = mails(smtp)["sam@exmaple.test"]
    assert "Subject: Reminder: Riverside Counselling asks for your consent" in reminder
    assert "Rob is still waiting for your answer" in reminder
    assert "works once, for 14 days" in reminder
    assert Client().get(link_in(first_mail)).status_code == 404  # replaced by the reminder's
    consent.refresh_from_db()
    assert consent.reminded_at is not None
    [asked] = events(Action.GUARDIAN_ASKED, detail__reminder=True)
    assert asked.actor_id is None and asked.actor_label == "rapport"

    # Past its time, the link explains itself instead of a bare "not found".
    expired_at = later + timedelta(days=services.GUARDIAN_LINK_DAYS, minutes=1)
    with time_machine.travel(expired_at):
        gone = Client().get(link_in(reminder))
        assert gone.status_code == 410
        assert "This link has expired" in page(gone)
        assert "Riverside Counselling" in page(gone) and "Rob" not in page(gone)
        refused = Client().post(link_in(reminder), {"agree": "on", "signed_name": "Sam"})
        assert refused.status_code == 410
        assert services.remind_guardians() == 0  # one reminder only, however long it waits
        assert "That link has expired" in page(signed_in(robin).get(reverse("signup_guardian")))
    consent.refresh_from_db()
    assert consent.consented_at is None


@pytest.mark.django_db(transaction=True)
def test_an_admin_sends_a_guardian_a_new_link_from_the_intake_queue(
    smtp: Inbox, admin: User
) -> None:
    _robin, consent, _browser, first_mail = signed_up_minor(smtp)
    staff = signed_in(admin)
    send = reverse("intake_guardian_send", kwargs={"consent_id": consent.pk})
    queue = page(staff.get(reverse("intake_queue")))
    assert f'action="{send}"' in queue and "Send the guardian of Robin Newcomer" in queue
    too_soon = staff.post(send, follow=True)
    assert "You can send it again in" in page(too_soon)
    with time_machine.travel(timezone.now() + timedelta(minutes=11)):
        assert "A new link went to the guardian." in page(staff.post(send, follow=True))
        [again] = mails(smtp)["sam@exmaple.test"]
    assert link_in(again) != link_in(first_mail)
    assert events(Action.GUARDIAN_ASKED, actor=admin)
    # A consent given cannot be asked for again.
    Client().post(link_in(again), {"agree": "on", "signed_name": "Sam Parent"})
    with time_machine.travel(timezone.now() + timedelta(minutes=30)):
        done = staff.post(send, follow=True)
    assert "already consented" in page(done)
    assert mails(smtp) == {}


# --- Intake and screen --------------------------------------------------------------------------


def screen_answers(item9: int = 0) -> dict[str, str]:
    answers = {f"phq9-q-{n}": "1" for n in range(1, 10)}
    answers["phq9-q-9"] = str(item9)
    answers.update({f"gad7-q-{n}": "2" for n in range(1, 8)})
    return answers


def finish_intake(browser: Client, client: User, *, risk: bool = False) -> None:
    intake = Intake.objects.get(client=client)
    assert services.next_step(client) == services.NextStep(
        "intake", reverse("intake_fill", kwargs={"intake_id": intake.pk})
    )
    intake_services.submit(intake, client, adult_answers(risk=risk, signer=client.full_name))


def new_client(email: str = "robin@example.test") -> User:
    open_registration()
    response = sign_up(signup_form(email=email, language="en"))
    assert response.status_code == 302
    user = User.objects.get(email=email)
    EmailAddress.objects.filter(user=user).update(verified=True)
    services.on_email_confirmed(user)
    return user


def browser_of(user: User) -> Client:
    browser = Client()
    assert (
        browser.post("/accounts/login/", {"login": user.email, "password": PASSPHRASE}).status_code
        == 302
    )
    return browser


@pytest.mark.django_db
def test_intake_then_screen_then_matching(therapist_x: User) -> None:
    robin = new_client()
    browser = browser_of(robin)
    home = page(browser.get("/"))
    assert "Complete your intake" in home
    # No default form chosen: the built-in adult intake.
    assert Intake.objects.get(client=robin).form.key == "adult"
    finish_intake(browser, robin)
    home = page(browser.get("/"))
    assert "Complete the screen" in home and "Complete your intake" not in home

    screen = browser.get(reverse("signup_screen"))
    assert screen.status_code == 200
    assert "PHQ-9" in page(screen) or "Patient Health Questionnaire" in page(screen)
    # Every question must be answered; nothing is stored until then.
    partial = screen_answers()
    del partial["gad7-q-3"]
    refused = browser.post(reverse("signup_screen"), partial)
    assert refused.status_code == 400
    assert "Choose an answer to this question." in page(refused)
    assert not Response.objects.filter(client=robin).exists()

    response = browser.post(reverse("signup_screen"), screen_answers())
    assert response.status_code == 302 and response["Location"] == "/"
    phq9, gad7 = Response.objects.filter(client=robin).order_by("instrument__key").reverse()
    assert (phq9.instrument.key, gad7.instrument.key) == ("phq9", "gad7")
    assert phq9.result_data()["total"] == 8 and gad7.result_data()["total"] == 14
    assert not phq9.risk_positive
    # Handed to matching: nobody in this practice has a profile that fits, so it waits.
    assert request_of(robin).status == CareRequest.Status.WAITLISTED  # type: ignore[union-attr]
    assert not IntakeAlert.objects.exists() and not SafetyAlert.objects.exists()
    assert "Your next step" not in page(browser.get("/"))
    # Sent once: the page is gone.
    assert browser.get(reverse("signup_screen"))["Location"] == "/"


@pytest.mark.django_db
def test_the_practice_default_intake_form_is_used_when_there_is_one(admin: User) -> None:
    choose_default("minor", admin)  # any form: the practice's choice wins over the built-in
    robin = new_client()
    assert Intake.objects.get(client=robin).form.key == "minor"


@pytest.mark.django_db(transaction=True)
def test_a_risk_answer_reaches_the_on_call_admin_before_any_therapist(
    smtp: Inbox, admin: User
) -> None:
    other_admin = make_user("other.admin@example.test", Role.ADMIN, "Other Admin")
    open_registration(on_call_admin=other_admin)
    robin = new_client()
    browser = browser_of(robin)
    finish_intake(browser, robin)
    mails(smtp)  # the intake notice
    response = browser.post(reverse("signup_screen"), screen_answers(item9=2))
    assert response.status_code == 200
    text = page(response)
    assert "The practice has been told" in text
    assert Practice.get().crisis_resources[:30] in text or "988" in text
    [alert] = IntakeAlert.objects.all()
    assert alert.client == robin and alert.notified == [other_admin.pk]
    assert alert.response is not None and alert.response.instrument.key == "phq9"
    assert not SafetyAlert.objects.exists()  # no therapist: not a therapist's alert
    got = mails(smtp)
    assert list(got) == [other_admin.email]
    [mail] = got[other_admin.email]
    assert "a new client's answers need attention" in mail
    assert f"/practice/intake-queue/alerts/{alert.pk}/" in mail
    for private in ["Robin", "robin@", "PHQ", "dead", "hurting"]:
        assert private not in mail  # content-free

    # The queue shows the alert first; the admin acknowledges it, audited.
    calm = new_client("calm@example.test")
    admin_browser = signed_in(other_admin)
    queue = page(admin_browser.get(reverse("intake_queue")))
    assert queue.index("Robin Newcomer") < queue.index("calm@example.test")
    assert "Open safety alert" in queue
    alert_page = admin_browser.get(reverse("intake_alert", kwargs={"alert_id": alert.pk}))
    assert "Thoughts that you would be better off dead" in page(alert_page)
    assert events(Action.INTAKE_ALERT_VIEWED, actor=other_admin)
    empty = admin_browser.post(
        reverse("intake_alert", kwargs={"alert_id": alert.pk}), {"action_taken": " "}
    )
    assert empty.status_code == 400 and "Write down the action you took." in page(empty)
    done = admin_browser.post(
        reverse("intake_alert", kwargs={"alert_id": alert.pk}),
        {"action_taken": "Phoned, safe tonight"},
    )
    assert done.status_code == 302
    alert.refresh_from_db()
    assert alert.acknowledged_by == other_admin and alert.action_taken == "Phoned, safe tonight"
    assert events(Action.INTAKE_ALERT_ACKNOWLEDGED, actor=other_admin)
    assert calm.pk  # in the queue, after the alert


@pytest.mark.django_db(transaction=True)
def test_without_an_on_call_admin_every_active_admin_hears(smtp: Inbox, admin: User) -> None:
    second = make_user("second.admin@example.test", Role.ADMIN, "Second Admin")
    away = make_user("away.admin@example.test", Role.ADMIN, "Away Admin")
    away.is_active = False
    away.save()
    open_registration(on_call_admin=away)  # inactive: falls back to every active admin
    robin = new_client()
    finish_intake(browser_of(robin), robin)
    mails(smtp)
    services.submit_screen(
        robin, {"phq9": {str(n): 3 for n in range(1, 10)}, "gad7": {str(n): 0 for n in range(1, 8)}}
    )
    got = mails(smtp)
    assert sorted(got) == sorted([admin.email, second.email])
    assert IntakeAlert.objects.get().notified == sorted([admin.pk, second.pk])


# --- The practice ------------------------------------------------------------------------------


@pytest.mark.django_db
def test_practice_settings_hold_the_minors_policy_and_on_call_admin(admin: User) -> None:
    from tests.test_accounts import SCHEDULING_DEFAULTS

    browser = signed_in(admin)
    form = page(browser.get(reverse("practice_settings")))
    assert "People under the age of majority who sign up" in form
    response = browser.post(
        reverse("practice_settings"),
        {
            "name": "Rapport practice",
            "crisis_resources": "Call 988.",
            **SCHEDULING_DEFAULTS,
            "minors_policy": "guardian",
            "age_of_majority": "16",
            "on_call_admin": str(admin.pk),
        },
    )
    assert response.status_code == 302
    practice = Practice.get()
    assert (practice.minors_policy, practice.age_of_majority, practice.on_call_admin) == (
        "guardian",
        16,
        admin,
    )
    bad = browser.post(
        reverse("practice_settings"),
        {
            "name": "Rapport practice",
            "crisis_resources": "x",
            **SCHEDULING_DEFAULTS,
            "minors_policy": "guardian",
            "age_of_majority": "5",
            "on_call_admin": "",
        },
    )
    assert bad.status_code == 200 and "greater than or equal to 14" in page(bad)
    # A post without the sign-up settings leaves them as they are.
    browser.post(
        reverse("practice_settings"),
        {"name": "Rapport practice", "crisis_resources": "x", **SCHEDULING_DEFAULTS},
    )
    assert Practice.get().minors_policy == "guardian"


@pytest.mark.django_db
def test_intake_queue_lists_new_clients_with_state_and_is_audited(
    admin: User, client_a: User
) -> None:
    first = new_client("first@example.test")
    second = new_client("second@example.test")
    with time_machine.travel(timezone.now() + timedelta(hours=3)):
        finish_intake(browser_of(second), second)
        services.submit_screen(
            second,
            {
                "phq9": {str(n): 1 for n in range(1, 10)} | {"9": 0},
                "gad7": {str(n): 1 for n in range(1, 8)},
            },
        )
        text = page(signed_in(admin).get(reverse("intake_queue")))
    assert "first@example.test" in text
    # The second has been through matching (nobody fits here): listed with that state.
    assert "second@example.test" in text and "On the waitlist" in text
    assert "Completing the intake and screen" in text
    assert "Email address not confirmed yet" not in text  # new_client confirmed theirs
    assert "PHQ-9: 8" in text and "GAD-7: 7" in text
    assert "3\xa0hours" in text or "3 hours" in text
    assert client_a.email not in text  # invited clients without a request are not in it
    assert events(Action.INTAKE_QUEUE_VIEWED, actor=admin)
    assert first.pk
    home = page(signed_in(admin).get("/"))
    assert reverse("intake_queue") in home


@pytest.mark.django_db
def test_an_admin_invites_a_client_who_is_in_nobodys_care(admin: User) -> None:
    from tests.conftest import signed_in_through_the_form

    browser = signed_in_through_the_form(admin)
    assert 'value="client"' in page(browser.get(reverse("invitations")))
    response = browser.post(
        reverse("invitations"),
        {"full_name": "Pat Invited", "email": "pat@example.test", "role": "client"},
    )
    assert response.status_code == 302
    invitation = Invitation.objects.get(email="pat@example.test")
    assert invitation.role == Role.CLIENT and invitation.invited_by == admin
    _inv, token = account_services.invite(
        admin, email="pat@example.test", full_name="Pat Invited", role=Role.CLIENT
    )
    accepted = Client().post(
        f"/invite/{token}/", {"password1": PASSWORD, "password2": PASSWORD, "time_zone": "UTC"}
    )
    assert accepted.status_code == 302
    pat = User.objects.get(email="pat@example.test")
    assert pat.role == Role.CLIENT
    assert not CareRelationship.objects.filter(client=pat).exists()


@pytest.mark.django_db
def test_the_intake_queue_reads_a_fixed_number_of_queries(admin: User) -> None:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    def queries() -> int:
        browser = signed_in(admin)
        with CaptureQueriesContext(connection) as captured:
            assert browser.get(reverse("intake_queue")).status_code == 200
        return len(captured)

    for n in range(2):
        screened_client = new_client(f"early{n}@example.test")
        finish_intake(browser_of(screened_client), screened_client)
        services.submit_screen(
            screened_client,
            {"phq9": {str(i): 2 for i in range(1, 10)}, "gad7": {str(i): 1 for i in range(1, 8)}},
        )
    few = queries()
    for n in range(3):
        new_client(f"later{n}@example.test")
    assert queries() == few


@pytest.mark.django_db(transaction=True)
def test_signing_up_with_a_known_address_creates_nothing_and_tells_its_owner(
    smtp: Inbox, client_a: User
) -> None:
    open_registration(name="Riverside Counselling")
    response = sign_up(signup_form(email=client_a.email, language="en"))
    assert response.status_code == 302  # answered as for a new address (no enumeration)
    assert not CareRequest.objects.exists()
    assert User.objects.filter(email=client_a.email).count() == 1
    [mail] = mails(smtp)[client_a.email]
    assert "You already have an account with Riverside Counselling" in mail
    assert "/accounts/login/" in mail and "localhost" not in mail


@pytest.mark.django_db
def test_erasing_a_signed_up_client_takes_their_request_guardian_and_alert(admin: User) -> None:
    from rapport.records.erasure import destroy, gather

    open_registration(minors_policy=MinorsPolicy.GUARDIAN)
    data = signup_form(date_of_birth=born_years_ago(16), language="en")
    data.update(guardian_name="Sam Parent", guardian_email="sam@example.test")
    assert sign_up(data).status_code == 302
    robin = User.objects.get(email="robin@example.test")
    services.on_email_confirmed(robin)
    services.raise_intake_alert(robin, IntakeAlert.Source.INTAKE)
    destroy(gather(robin), "erased-1")
    assert not CareRequest.objects.filter(client=robin).exists()
    assert not GuardianConsent.objects.filter(client=robin).exists()
    assert not IntakeAlert.objects.filter(client=robin).exists()
    assert not ClientProfile.objects.filter(client=robin).exists()
