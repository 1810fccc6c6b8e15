"""A safety alert nobody acknowledged escalates to the practice admins: an admin's open page
shows it at once (a banner read out as an alert, the count on the home page, the row on the
escalated-alerts page) and shows it closed when the therapist acknowledges it.

The escalation is the real one (``measures.alerts.escalate``, as the worker runs it at the
deadline), run in another process through ``rapport manage shell``, as the worker is. Its event
reaches the admin's page through Redis, or in the embedded configuration through the database
(``rapport.core.realtime``: the server relays what other processes stored).
"""

from __future__ import annotations

import uuid

import pytest
from playwright.sync_api import Page, expect

from tests.browser.browsing import DEMO_PASSWORD
from tests.browser.conftest import MakeVisitor
from tests.browser.people import Pair, new_pair
from tests.browser.server import DemoServer

pytestmark = pytest.mark.browser

# An open risk alert, raised the real way: the therapist assigns the PHQ-9 and the client answers
# item 9 ("thoughts that you would be better off dead…") with "several days".
RAISE_ALERT = """
from rapport.accounts.models import User
from rapport.measures.answers import submit
from rapport.measures.assignments import assign, due_tasks
from rapport.measures.models import Instrument, Schedule
therapist = User.objects.get(email={therapist!r})
client = User.objects.get(email={client!r})
phq9 = Instrument.objects.get(key="phq9", builtin=True, is_active=True)
assignment = assign(therapist, client, phq9, Schedule.ONCE)
[task] = [t for t in due_tasks(client) if t.assignment_id == assignment.pk]
answers = {{str(n): 1 for n in range(1, 11)}}
response = submit(task, client, answers | {{"9": 1}})
print(response.alerts.get().pk)
"""

# What the worker does at the deadline: the real escalation, one minute past it.
ESCALATE = """
from datetime import timedelta
from rapport.measures.alerts import escalate, escalation_deadline
from rapport.measures.models import SafetyAlert
alert = SafetyAlert.objects.get(pk={alert})
print(escalate(alert.pk, now=escalation_deadline(alert) + timedelta(minutes=1)))
"""

ACKNOWLEDGE = """
from rapport.measures.alerts import acknowledge
from rapport.measures.models import SafetyAlert
alert = SafetyAlert.objects.select_related("therapist").get(pk={alert})
acknowledge(alert, alert.therapist, "Phoned the client; safety plan reviewed.")
"""


def new_admin(server: DemoServer) -> str:
    email = f"a-{uuid.uuid4().hex[:8]}@escalation.test"
    server.shell(
        "from allauth.account.models import EmailAddress\n"
        "from rapport.accounts.models import Role, User\n"
        f"user = User.objects.create_user({email!r}, {DEMO_PASSWORD!r}, full_name='Pat Admin',"
        " role=Role.ADMIN, time_zone='Europe/London')\n"
        f"EmailAddress.objects.create(user=user, email={email!r}, verified=True, primary=True)\n"
    )
    return email


def raise_alert(server: DemoServer, pair: Pair) -> int:
    code = RAISE_ALERT.format(therapist=pair.therapist, client=pair.client)
    return int(server.shell(code).strip().splitlines()[-1])


def escalate(server: DemoServer, alert: int) -> None:
    assert server.shell(ESCALATE.format(alert=alert)).strip() == "True"


def wait_until_live(page: Page) -> None:
    """Until the page's events socket is open (an event sent before it would be missed)."""
    page.wait_for_function("() => window.rapportEvents && window.rapportEvents.open()")


def test_an_escalated_alert_appears_on_the_admins_open_pages(
    visitor: MakeVisitor, server: DemoServer
) -> None:
    first, second = new_pair(server), new_pair(server)
    alerts = [raise_alert(server, first), raise_alert(server, second)]
    admin = visitor("admin")
    admin.sign_in(new_admin(server))
    assert admin.path == "/accounts/2fa/totp/activate/", admin.path
    admin.enrol_totp()
    page = admin.goto("/")
    safety = page.get_by_role("region", name="Safety alerts")
    before = safety.inner_text()

    # The first alert escalates while the admin looks at the home page.
    wait_until_live(page)
    escalate(server, alerts[0])
    banner = page.get_by_role("alert").filter(has_text=first.therapist_name)
    expect(banner).to_contain_text(
        f"A safety alert was escalated to you: {first.therapist_name} has not acknowledged it"
    )
    expect(safety).not_to_have_text(before)
    expect(safety).to_contain_text("still open")
    admin.audit()  # the page with the banner on it

    # The banner leads to the escalated alerts, where the second one arrives live.
    admin.click(banner.get_by_role("link", name="Open the escalated alerts"))
    assert admin.path == "/practice/alerts/", admin.path
    rows = page.get_by_role("table", name="Escalated alerts").get_by_role("row")
    expect(rows.filter(has_text=first.client_name)).to_contain_text("Still open")
    expect(rows.filter(has_text=second.client_name)).to_have_count(0)
    wait_until_live(page)
    escalate(server, alerts[1])
    expect(page.get_by_role("alert").filter(has_text=second.therapist_name)).to_be_visible()
    expect(rows.filter(has_text=second.client_name)).to_contain_text("Still open")

    # The second therapist acknowledges: the admin's banner goes and the row says so.
    server.shell(ACKNOWLEDGE.format(alert=alerts[1]))
    expect(page.get_by_role("alert").filter(has_text=second.therapist_name)).to_have_count(0)
    expect(rows.filter(has_text=second.client_name)).to_contain_text("Acknowledged")
    expect(rows.filter(has_text=first.client_name)).to_contain_text("Still open")
    admin.audit()
