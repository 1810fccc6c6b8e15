"""From "I need help" to a booked first session, on a phone.

A newcomer signs up (a mistake, and a date of birth that makes them a minor the practice
refuses, first), confirms their address, sends the practice's intake and the PHQ-9 + GAD-7
screen with a risk answer: crisis help at once, every admin alerted, and the request moves on to
matching. They choose the therapist suggested to them (licensed where they live, with the
reasons in words), the therapist accepts, and they book their first session, of the therapist's
intake type. Every page passes axe and fits the phone."""

from __future__ import annotations

import json
import re
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import MakeVisitor
from tests.browser.server import DemoServer

pytestmark = pytest.mark.browser

PHONE = {"width": 375, "height": 812}
EMAIL = "casey.newcomer@signup.test"
PASSPHRASE = "paper lanterns over the river"
SHORT_FORM = {
    "key": "welcome",
    "version": "1",
    "name": "Welcome form",
    "audience": "adult",
    "sections": [
        {
            "title": "About you",
            "fields": [
                {
                    "key": "reason",
                    "type": "long_text",
                    "label": "What brings you here?",
                    "required": True,
                }
            ],
        }
    ],
}

SETUP = """
from rapport.accounts.models import Practice, User
from rapport.intake.catalogue import add_form, choose_default
from rapport.matching.models import TherapistProfile
practice = Practice.get()
practice.allow_client_self_registration = {open}
practice.save()
admin = User.objects.get(email="admin@demo.rapport.test")
if {open}:
    add_form({form!r}, admin)
    choose_default("welcome", admin)
else:
    from rapport.intake.models import IntakeForm
    IntakeForm.objects.update(is_default=False)
    TherapistProfile.objects.filter(therapist__email={therapist!r}).update(
        accepting_new_clients=False
    )
"""

# A therapist licensed in Colorado, open every hour of the week (so the test does not depend on
# the day it runs), with an intake session type.
THERAPIST = """
import json
from datetime import time
from allauth.account.models import EmailAddress
from allauth.mfa.totp.internal.auth import TOTP, generate_totp_secret
from rapport.accounts.models import User
from rapport.billing.models import SessionKind, SessionTypeBilling
from rapport.matching.models import TherapistProfile
from rapport.scheduling.models import SessionType, WeeklyWindow
from tests.sessions import session_cookie
therapist = User.objects.create_user(
    {email!r}, None, full_name="Dr Avery Stone", role="therapist", time_zone="America/Denver"
)
EmailAddress.objects.create(user=therapist, email={email!r}, verified=True, primary=True)
TOTP.activate(therapist, generate_totp_secret())
for day in range(7):
    WeeklyWindow.objects.create(therapist=therapist, weekday=day, start_time=time(0),
                                end_time=time(23, 45), time_zone="America/Denver")
intake = SessionType.objects.create(therapist=therapist, name="First consultation", minutes=60,
                                    min_notice_hours=1)
SessionTypeBilling.objects.create(session_type=intake, kind=SessionKind.INTAKE)
TherapistProfile.objects.create(
    therapist=therapist, pronouns="she/her", bio="I work with worry and sleep.",
    languages=["en"], licensed_regions=["US-CO"], modalities=["video"], specialties=["anxiety"],
    accepting_new_clients=True,
)
print(json.dumps({{"intake": intake.pk, "session": session_cookie(therapist)}}))
"""

BOOKED = """
from rapport.care.models import CareRelationship
from rapport.scheduling.models import Appointment
a = Appointment.objects.get(client__email={client!r})
print(a.session_type_id, a.therapist.email,
      CareRelationship.objects.filter(client__email={client!r}, status="active").count())
"""
THERAPIST_EMAIL = "avery.stone@signup.test"

CONFIRMATION_KEY = """
from allauth.account.models import EmailAddress, EmailConfirmationHMAC
print(EmailConfirmationHMAC(EmailAddress.objects.get(email={email!r})).key)
"""

STATE = """
import json
from rapport.accounts.models import User
from rapport.matching.models import CareRequest
from rapport.measures.models import Response
user = User.objects.get(email={email!r})
request = CareRequest.objects.get(client=user)
from rapport.core.models import EmailDelivery
from rapport.signup.models import IntakeAlert
admins = list(User.objects.filter(role="admin", is_active=True).values_list("pk", flat=True))
alert = IntakeAlert.objects.get(client=user)
print(json.dumps({{
    "alert_to_every_admin": sorted(alert.notified) == sorted(admins),
    "alert_emails": EmailDelivery.objects.filter(
        key__startswith=f"intake-alert:{{alert.pk}}:"
    ).count() == len(admins),
    "name": user.full_name,
    "time_zone": user.time_zone,
    "status": request.status,
    "region": request.region,
    "modalities": request.modalities,
    "availability": request.availability,
    "screens": sorted(
        Response.objects.filter(client=user).values_list("instrument__key", flat=True)
    ),
}}))
"""


def test_a_newcomer_signs_up_on_a_phone_and_books_a_first_session(
    visitor: MakeVisitor, server: DemoServer
) -> None:
    server.shell(SETUP.format(open=True, form=json.dumps(SHORT_FORM), therapist=THERAPIST_EMAIL))
    made = json.loads(
        server.shell(THERAPIST.format(email=THERAPIST_EMAIL)).strip().splitlines()[-1]
    )
    try:
        _sign_up_and_screen(visitor, server)
        _choose_and_book(visitor, server, made)
    finally:
        server.shell(SETUP.format(open=False, form="", therapist=THERAPIST_EMAIL))


def _sign_up_and_screen(visitor: MakeVisitor, server: DemoServer) -> None:
    newcomer = visitor("newcomer on a phone", viewport=PHONE, timezone_id="America/Denver")
    page = newcomer.page
    newcomer.goto("/accounts/login/")
    newcomer.click(page.get_by_role("link", name="Create a client account"))
    assert newcomer.path == "/accounts/signup/"
    newcomer.assert_fits(PHONE["width"])
    # The time zone comes from the device, and stays editable.
    expect(page.get_by_label("Your time zone")).to_have_value("America/Denver")

    page.get_by_label("Full name").fill("Casey Newcomer")
    page.get_by_label("What should we call you?").fill("Casey")
    page.get_by_label("Date of birth").fill(
        (datetime.now(UTC) - timedelta(days=15 * 365)).date().isoformat()
    )
    page.get_by_label("Email address").fill(EMAIL)
    page.get_by_label("Password", exact=True).fill(PASSPHRASE)
    page.get_by_label("Password (again)").fill(PASSPHRASE)
    page.get_by_label("Where you live").select_option("US-CO")
    page.get_by_label("Video").check()
    page.get_by_label("Anxiety or worry").check()
    # A mistake first: an evening that ends before it starts. Nothing is lost.
    first_time = page.get_by_role("group", name="Free time 1")
    first_time.get_by_label("Day").select_option(label="Tuesday")
    first_time.get_by_label("From").fill("18:00")
    first_time.get_by_label("Until").fill("17:00")
    newcomer.click(page.get_by_role("button", name="Create my account"))
    summary = page.locator("[data-error-summary]")
    expect(summary).to_contain_text("The end must be after the start.")
    expect(page.get_by_label("Full name")).to_have_value("Casey Newcomer")
    # Fifteen, and this practice takes adults only: told kindly, with help where they live.
    refused = page.get_by_role("region", name="We cannot take you on, but help is there")
    expect(refused).to_contain_text("works only with people aged 18 or older")
    expect(refused.locator('a[href="tel:988"]').first).to_be_visible()
    newcomer.assert_fits(PHONE["width"])
    page.get_by_label("Date of birth").fill(date(1994, 5, 17).isoformat())
    page.get_by_label("Password", exact=True).fill(PASSPHRASE)
    page.get_by_label("Password (again)").fill(PASSPHRASE)
    page.get_by_role("group", name="Free time 1").get_by_label("Until").fill("20:30")
    newcomer.click(page.get_by_role("button", name="Create my account"))
    assert newcomer.path == "/accounts/confirm-email/", page.content()[:2000]

    key = server.shell(CONFIRMATION_KEY.format(email=EMAIL)).strip()
    newcomer.goto(f"/accounts/confirm-email/{key}/")
    newcomer.click(page.get_by_role("button", name=re.compile("Confirm")))
    newcomer.sign_in(EMAIL, PASSPHRASE)
    assert newcomer.path == "/"

    step = page.get_by_role("region", name="Your next step")
    newcomer.click(step.get_by_role("link", name="Complete your intake"))
    page.get_by_label("What brings you here?").fill("Worry keeps me awake.")
    newcomer.click(page.get_by_role("button", name="Send the form"))
    expect(page.get_by_text("Thank you. Your form is sent to the practice.")).to_be_visible()
    newcomer.goto("/")
    step = page.get_by_role("region", name="Your next step")
    newcomer.click(step.get_by_role("link", name="Complete the screen"))
    newcomer.assert_fits(PHONE["width"])
    for questionnaire in page.locator("section.card").all():
        for question in questionnaire.get_by_role("group").all():
            question.get_by_role("radio").nth(1).check()
    # "Several days" to the question about being better off dead: a risk answer.
    newcomer.click(page.get_by_role("button", name="Send my answers"))
    told = page.get_by_role("alert").filter(has_text="The practice has been told")
    expect(told).to_be_visible()
    expect(told.locator('a[href="tel:988"]').first).to_be_visible()
    newcomer.assert_fits(PHONE["width"])
    newcomer.click(page.get_by_role("link", name="Go to my home page"))
    expect(page.get_by_role("region", name="Your next step")).to_have_count(0)

    state = json.loads(server.shell(STATE.format(email=EMAIL)))
    assert state == {
        "alert_to_every_admin": True,
        "alert_emails": True,
        "name": "Casey Newcomer",
        "time_zone": "America/Denver",
        "status": "choosing",
        "region": "US-CO",
        "modalities": ["video"],
        "availability": [{"weekday": 1, "start": "18:00", "end": "20:30"}],
        "screens": ["gad7", "phq9"],
    }
    newcomer.finish()


def _choose_and_book(visitor: MakeVisitor, server: DemoServer, made: dict[str, Any]) -> None:
    """The newcomer (signed in) chooses the suggested therapist; she accepts; they book."""
    newcomer = visitor("newcomer back on their phone", viewport=PHONE, timezone_id="America/Denver")
    page = newcomer.page
    newcomer.goto("/accounts/login/")
    newcomer.sign_in(EMAIL, PASSPHRASE)
    card = page.get_by_role("region", name="Your request for a therapist")
    newcomer.click(card.get_by_role("link", name="Choose your therapist"))
    newcomer.assert_fits(PHONE["width"])
    suggestion = page.get_by_role("region", name=re.compile("Dr Avery Stone"))
    expect(suggestion).to_contain_text("licensed in Colorado")
    expect(suggestion).to_contain_text("works with anxiety or worry")
    page.get_by_label("Your first choice").select_option(label="Dr Avery Stone")
    newcomer.click(page.get_by_role("button", name="Send my choice"))
    expect(page.get_by_role("status")).to_contain_text("Your choice was sent")

    therapist = visitor("therapist")
    name, value = made["session"].split("=", 1)
    therapist.context.add_cookies([{"name": name, "value": value, "url": therapist.base_url}])
    therapist.goto("/")
    tpage = therapist.page
    therapist.click(tpage.get_by_role("link", name="1 request waits for your answer"))
    therapist.click(tpage.get_by_role("link", name=re.compile(r"^Request \d+$")))
    expect(tpage.get_by_role("heading", level=1)).to_have_text("Casey asks to work with you")
    assert EMAIL not in tpage.locator("main").inner_text()  # only what the request shows
    therapist.click(tpage.get_by_role("button", name="Accept"))
    expect(tpage.get_by_role("status")).to_contain_text("Accepted")

    newcomer.goto("/")
    card = page.get_by_role("region", name="Your request for a therapist")
    expect(card).to_contain_text("Dr Avery Stone accepted your request.")
    newcomer.click(card.get_by_role("link", name="Book your first session"))
    if newcomer.path.startswith("/consent/"):
        page.get_by_label("Type your full name to sign").fill("Casey Newcomer")
        newcomer.click(page.get_by_role("button", name="Sign", exact=True))
    assert newcomer.path == f"/book/?type={made['intake']}", newcomer.path
    page.locator("input[name=slot]").first.check()
    newcomer.click(page.get_by_role("button", name="Book this time"))
    expect(page.get_by_role("status")).to_contain_text("Your session is booked.")
    newcomer.assert_fits(PHONE["width"])

    type_id, who, in_care = server.shell(BOOKED.format(client=EMAIL)).split()
    assert (int(type_id), who, int(in_care)) == (made["intake"], THERAPIST_EMAIL, 1)


MINOR = """
import json
from datetime import date, timedelta
from allauth.account.models import EmailAddress
from django.utils import timezone
from rapport.accounts.models import MinorsPolicy, Practice, User
from rapport.signup import services
from rapport.signup.models import GuardianConsent
from tests.sessions import session_cookie
Practice.objects.update(minors_policy=MinorsPolicy.GUARDIAN)
today = timezone.localdate()
minor = User.objects.create_user({email!r}, None, full_name="Jo Young", role="client",
                                 time_zone="America/Chicago")
EmailAddress.objects.create(user=minor, email={email!r}, verified=True, primary=True)
services.register_client(minor, services.Registration(
    preferred_name="Jo", date_of_birth=date(today.year - 15, 1, 2), region="US-IL",
    language="en", modalities=["video"], time_zone="America/Chicago",
    guardian=services.Guardian("Lee Young", "lee@exmaple.test"),
))
consent = GuardianConsent.objects.get(client=minor)
token = services.ask_guardian(consent)
GuardianConsent.objects.filter(pk=consent.pk).update(
    asked_at=timezone.now() - timedelta(days=services.GUARDIAN_LINK_DAYS + 1)
)
print(json.dumps({{"token": token, "session": session_cookie(minor)}}))
"""

REFUSE_MINORS = """
from rapport.accounts.models import MinorsPolicy, Practice
Practice.objects.update(minors_policy=MinorsPolicy.REFUSE)
"""

GUARDIAN_STATE = """
from rapport.core.models import EmailDelivery
from rapport.signup.models import GuardianConsent
consent = GuardianConsent.objects.get(client__email={email!r})
sent = EmailDelivery.objects.filter(key__startswith=f"guardian:{{consent.pk}}:").count()
print(consent.guardian_email, sent)
"""


def test_an_expired_guardian_link_and_a_minor_sending_a_new_one_on_a_phone(
    visitor: MakeVisitor, server: DemoServer
) -> None:
    email = "jo.young@signup.test"
    try:
        made = json.loads(server.shell(MINOR.format(email=email)).strip().splitlines()[-1])
    finally:
        server.shell(REFUSE_MINORS)

    # The guardian's old link says what happened and who can send a new one.
    guardian = visitor("guardian on a phone", viewport=PHONE)
    guardian.goto(f"/guardian/{made['token']}/", status=410)
    expect(guardian.page.get_by_role("heading", level=1)).to_have_text("This link has expired")
    guardian.assert_fits(PHONE["width"])
    guardian.finish()

    # The minor sees it on their page, corrects the mistyped address and sends a new link.
    minor = visitor("minor on a phone", viewport=PHONE)
    name, value = made["session"].split("=", 1)
    minor.context.add_cookies([{"name": name, "value": value, "url": minor.base_url}])
    page = minor.goto("/")
    step = page.get_by_role("region", name="Your next step")
    minor.click(step.get_by_role("link", name="Send the link again or correct their address"))
    expect(page.get_by_text("That link has expired: send a new one below.")).to_be_visible()
    address = page.get_by_label("Parent or guardian's email address")
    expect(address).to_have_value("lee@exmaple.test")
    address.fill("lee@")
    minor.click(page.get_by_role("button", name="Send a new link"))
    expect(page.locator("[data-error-summary]")).to_contain_text("does not look right")
    page.get_by_label("Parent or guardian's email address").fill("lee@example.test")
    minor.click(page.get_by_role("button", name="Send a new link"))
    expect(page.get_by_role("status").first).to_contain_text(
        "We sent a new link to lee@example.test."
    )
    minor.assert_fits(PHONE["width"])
    minor.finish()
    assert server.shell(GUARDIAN_STATE.format(email=email)).split() == ["lee@example.test", "2"]
