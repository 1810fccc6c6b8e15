"""A new client on a phone chooses a suggested therapist, the therapist accepts, and the client
books the first session, which is the therapist's intake type; later the client asks for someone
else and the practice hands them over.

The client's request is made on the server as sign-up leaves it (intake and screen done,
``ready_for_matching`` called); the therapist keeps every hour of the week open, so the test does
not depend on the day it runs.
"""

from __future__ import annotations

import json
import re
import uuid

import pytest
from playwright.sync_api import expect

from tests.browser.browsing import DEMO_PASSWORD, Visitor
from tests.browser.conftest import MakeVisitor
from tests.browser.server import DemoServer

pytestmark = pytest.mark.browser

PHONE = {"width": 375, "height": 812}

SETUP = """
import json
from datetime import time
from allauth.account.models import EmailAddress
from allauth.mfa.totp.internal.auth import TOTP, generate_totp_secret
from rapport.accounts.models import User
from rapport.billing.models import SessionKind, SessionTypeBilling
from rapport.matching.models import TherapistProfile
from rapport.matching.services import open_request, ready_for_matching
from rapport.scheduling.models import SessionType, WeeklyWindow
from tests.sessions import session_cookie

def person(email, name, role):
    user = User.objects.create_user(
        email, {password!r}, full_name=name, role=role, time_zone="Europe/London"
    )
    EmailAddress.objects.create(user=user, email=email, verified=True, primary=True)
    return user

therapist = person({therapist!r}, {therapist_name!r}, "therapist")
TOTP.activate(therapist, generate_totp_secret())
for day in range(7):
    WeeklyWindow.objects.create(therapist=therapist, weekday=day, start_time=time(0),
                                end_time=time(23, 45), time_zone="Europe/London")
intake = SessionType.objects.create(therapist=therapist, name="First consultation", minutes=60,
                                    min_notice_hours=1, offered_to="new")
SessionTypeBilling.objects.create(session_type=intake, kind=SessionKind.INTAKE)
SessionType.objects.create(therapist=therapist, name="Weekly session", minutes=50,
                           min_notice_hours=1, offered_to="returning")
TherapistProfile.objects.create(
    therapist=therapist, pronouns="they/them", bio="I help people with worry and sleep.",
    languages=["en"], licensed_regions=["GB"], modalities=["video"], specialties=["anxiety"],
    accepting_new_clients=True,
)
client = person({client!r}, {client_name!r}, "client")
request = open_request(client, region="GB", language="en", modalities=["video"],
                       time_zone="Europe/London", concerns=["anxiety"],
                       concerns_text="Worry keeps me up")
ready_for_matching(request)
print(json.dumps({{"intake": intake.pk,
                   "sessions": {{u.email: session_cookie(u) for u in (therapist, client)}}}}))
"""

CHECK = """
from rapport.scheduling.models import Appointment
from rapport.care.models import CareRelationship
a = Appointment.objects.get(client__email={client!r})
print(a.session_type_id, a.therapist.email,
      CareRelationship.objects.filter(client__email={client!r}, status="active").count())
"""


def let_in(visitor: Visitor, cookie: str) -> None:
    name, value = cookie.split("=", 1)
    visitor.context.add_cookies([{"name": name, "value": value, "url": visitor.base_url}])
    visitor.goto("/")


def test_client_chooses_therapist_accepts_client_books_the_intake(
    visitor: MakeVisitor, server: DemoServer
) -> None:
    tag = uuid.uuid4().hex[:8]
    therapist_email, client_email = f"t-{tag}@match.test", f"c-{tag}@match.test"
    therapist_name, client_name = f"Dr Rowan {tag}", f"Sam {tag} Private"
    made = json.loads(
        server.shell(
            SETUP.format(
                password=DEMO_PASSWORD,
                therapist=therapist_email,
                therapist_name=therapist_name,
                client=client_email,
                client_name=client_name,
            )
        )
        .strip()
        .splitlines()[-1]
    )

    # The client, on a phone: the home page card leads to the suggestions.
    client = visitor("client on a phone", viewport=PHONE)
    let_in(client, made["sessions"][client_email])
    page = client.page
    card = page.get_by_role("region", name="Your request for a therapist")
    client.click(card.get_by_role("link", name="Choose your therapist"))
    client.assert_fits(PHONE["width"])
    suggestion = page.get_by_role("region", name=re.compile(therapist_name))
    expect(suggestion).to_contain_text("speaks English")
    expect(suggestion).to_contain_text("licensed in United Kingdom")
    expect(suggestion).to_contain_text("works with anxiety or worry")
    expect(suggestion).to_contain_text(re.compile(r"has \d+ times in the next two weeks"))
    client.click(suggestion.get_by_role("link", name=f"Read the profile of {therapist_name}"))
    expect(page.get_by_role("heading", level=1)).to_contain_text("they/them")
    client.click(page.get_by_role("link", name="Back to your request"))
    page.get_by_label("Your first choice").select_option(label=therapist_name)
    client.click(page.get_by_role("button", name="Send my choice"))
    expect(page.get_by_role("status")).to_contain_text("Your choice was sent")

    # The therapist sees only the request, and accepts.
    therapist = visitor("therapist")
    let_in(therapist, made["sessions"][therapist_email])
    tpage = therapist.page
    therapist.click(tpage.get_by_role("link", name="1 request waits for your answer"))
    therapist.click(tpage.get_by_role("link", name=re.compile(r"^Request \d+$")))
    expect(tpage.get_by_role("heading", level=1)).to_have_text("Sam asks to work with you")
    expect(tpage.get_by_text("Worry keeps me up")).to_be_visible()
    body = tpage.locator("main").inner_text()
    assert client_email not in body and "Private" not in body
    therapist.click(tpage.get_by_role("button", name="Accept"))
    expect(tpage.get_by_role("status")).to_contain_text("Accepted")

    # The client books the first session: the intake type is offered.
    client.goto("/")
    card = page.get_by_role("region", name="Your request for a therapist")
    expect(card).to_contain_text(f"{therapist_name} accepted your request.")
    client.click(card.get_by_role("link", name="Book your first session"))
    if client.path.startswith("/consent/"):
        page.get_by_label("Type your full name to sign").fill(client_name)
        client.click(page.get_by_role("button", name="Sign", exact=True))
    # Straight to the times of the intake type (back from the consent page, still chosen).
    assert client.path == f"/book/?type={made['intake']}", client.path
    expect(page.get_by_text("First consultation").first).to_be_visible()
    page.locator("input[name=slot]").first.check()
    client.click(page.get_by_role("button", name="Book this time"))
    expect(page.get_by_role("status")).to_contain_text("Your session is booked.")
    client.assert_fits(PHONE["width"])

    type_id, who, in_care = server.shell(CHECK.format(client=client_email)).split()
    assert (int(type_id), who, int(in_care)) == (made["intake"], therapist_email, 1)

    # Booked, the intake is behind the client: "Book a session" now offers the weekly session
    # alone (the therapist keeps the first consultation for new clients, the other for returning
    # ones).
    client.goto("/book/")
    kinds = page.get_by_role("group", name="What kind of session?").get_by_role("radio")
    expect(kinds).to_have_count(1)
    expect(kinds.first).to_have_accessible_name(re.compile(r"^Weekly session, 50 minutes"))


HANDOVER_SETUP = """
import json
from datetime import time, timedelta
from django.utils import timezone
from allauth.account.models import EmailAddress
from allauth.mfa.totp.internal.auth import TOTP, generate_totp_secret
from rapport.accounts.models import User
from rapport.matching.models import TherapistProfile
from rapport.matching.services import accept, choose, open_request, ready_for_matching
from rapport.scheduling.models import SessionType, WeeklyWindow
from tests.scheduling_data import direct_appointment
from tests.sessions import session_cookie

def person(email, name, role):
    user = User.objects.create_user(
        email, {password!r}, full_name=name, role=role, time_zone="Europe/London"
    )
    EmailAddress.objects.create(user=user, email=email, verified=True, primary=True)
    if role != "client":
        TOTP.activate(user, generate_totp_secret())
    return user

def therapist(email, name):
    user = person(email, name, "therapist")
    for day in range(7):
        WeeklyWindow.objects.create(therapist=user, weekday=day, start_time=time(0),
                                    end_time=time(23, 45), time_zone="Europe/London")
    TherapistProfile.objects.create(
        therapist=user, bio="I help people with worry.", languages=["en"],
        licensed_regions=["GB"], modalities=["video"], specialties=["anxiety"],
        accepting_new_clients=True,
    )
    return user, SessionType.objects.create(therapist=user, name="Weekly session", minutes=50,
                                            min_notice_hours=1)

first, weekly = therapist({first!r}, {first_name!r})
client = person({client!r}, {client_name!r}, "client")
request = open_request(client, region="GB", language="en", modalities=["video"],
                       time_zone="Europe/London", concerns=["anxiety"])
ready_for_matching(request)
request.refresh_from_db()
accept(choose(request, [first.pk], actor=client), actor=first)
# Only now is the second therapist there: the first request's suggestions named the first alone.
second, _ = therapist({second!r}, {second_name!r})
admin = person({admin!r}, "Ada {tag}", "admin")
upcoming = direct_appointment(weekly, client, timezone.now() + timedelta(days=3))
print(json.dumps({{"upcoming": upcoming.pk,
                   "sessions": {{u.email: session_cookie(u)
                                for u in (client, second, admin)}}}}))
"""

HANDOVER_CHECK = """
from rapport.care.models import CareRelationship
from rapport.scheduling.models import Appointment
cares = CareRelationship.objects.filter(client__email={client!r})
care = {{c.therapist.email: c.status for c in cares}}
a = Appointment.objects.get(pk={upcoming})
print(care[{first!r}], care[{second!r}], a.status, a.late_cancellation, a.cancelled_by.role)
"""


def test_a_client_asks_for_someone_else_and_the_practice_hands_them_over(
    visitor: MakeVisitor, server: DemoServer
) -> None:
    tag = uuid.uuid4().hex[:8]
    emails = {
        "first": f"t1-{tag}@match.test",
        "second": f"t2-{tag}@match.test",
        "client": f"c-{tag}@match.test",
        "admin": f"a-{tag}@match.test",
    }
    names = {"first_name": f"Dr First {tag}", "second_name": f"Dr Second {tag}"}
    made = json.loads(
        server.shell(
            HANDOVER_SETUP.format(
                password=DEMO_PASSWORD,
                tag=tag,
                client_name=f"Kai {tag}",
                **emails,
                **names,
            )
        )
        .strip()
        .splitlines()[-1]
    )

    # The client, on a phone, asks privately for someone else.
    client = visitor("client on a phone", viewport=PHONE)
    let_in(client, made["sessions"][emails["client"]])
    page = client.page
    card = page.get_by_role("region", name="Your request for a therapist")
    client.click(card.get_by_role("link", name="Ask for a different therapist"))
    page.get_by_label(re.compile("Anything the practice should know")).fill("We do not click.")
    client.click(page.get_by_role("button", name="Send to the practice"))
    expect(page.get_by_role("status")).to_contain_text("Your request was sent to the practice")

    # The admin matches again and hands the client over (ticked unless they untick it).
    admin = visitor("admin")
    let_in(admin, made["sessions"][emails["admin"]])
    admin.goto("/practice/care-requests/")
    asking = admin.page.get_by_role("listitem").filter(has_text=f"Kai {tag}")
    expect(asking).to_contain_text("We do not click.")
    hand_over = asking.get_by_role(
        "checkbox", name=f"End care with {names['first_name']} once a new therapist accepts"
    )
    expect(hand_over).to_be_checked()
    admin.click(asking.get_by_role("button", name="Match again"))
    expect(admin.page.get_by_role("status")).to_contain_text(
        f"Care with {names['first_name']} ends when a new therapist accepts."
    )

    # The client chooses again; the first therapist is not among the suggestions.
    client.goto("/")
    client.click(card.get_by_role("link", name="Choose your therapist"))
    expect(page.get_by_role("region", name=re.compile(names["first_name"]))).to_have_count(0)
    page.get_by_label("Your first choice").select_option(label=names["second_name"])
    client.click(page.get_by_role("button", name="Send my choice"))
    expect(page.get_by_role("status")).to_contain_text("Your choice was sent")

    # Until the new therapist accepts, the first one still has the client; then care moves.
    second = visitor("second therapist")
    let_in(second, made["sessions"][emails["second"]])
    second.click(second.page.get_by_role("link", name="1 request waits for your answer"))
    second.click(second.page.get_by_role("link", name=re.compile(r"^Request \d+$")))
    second.click(second.page.get_by_role("button", name="Accept"))
    expect(second.page.get_by_role("status")).to_contain_text("Accepted")

    check = HANDOVER_CHECK.format(upcoming=made["upcoming"], **emails)
    assert server.shell(check).split() == ["ended", "active", "cancelled", "False", "admin"]
    client.goto("/")
    expect(card).to_contain_text(f"{names['second_name']} accepted your request.")
