"""The safety path in real browsers: a client on a phone answers the PHQ-9 one question at a time
with a positive item 9 and at once sees crisis resources and that their therapist has been told;
the therapist's page, already open, shows the alert without a reload; the therapist records the
action taken, which is stored and audited. Every page is checked with axe on the way (the
questionnaire, the result, the alert, both progress pages)."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.browser.browsing import SMALL_SCREEN
from tests.browser.conftest import MakeVisitor
from tests.browser.people import Pair, new_pair
from tests.browser.server import DemoServer

pytestmark = pytest.mark.browser

PHQ9 = "Patient Health Questionnaire-9"


def assign_phq9(server: DemoServer, pair: Pair) -> None:
    server.shell(
        "from rapport.accounts.models import User\n"
        "from rapport.measures.assignments import assign\n"
        "from rapport.measures.models import Instrument\n"
        f"t = User.objects.get(email={pair.therapist!r})\n"
        f"c = User.objects.get(email={pair.client!r})\n"
        "assign(t, c, Instrument.objects.get(key='phq9', builtin=True), 'once')\n"
    )


def test_a_positive_item_9_reaches_the_therapist_at_once(
    visitor: MakeVisitor, server: DemoServer
) -> None:
    pair = new_pair(server)
    assign_phq9(server, pair)

    # The therapist is on their home page, its events socket open.
    therapist = visitor("therapist")
    tpage = therapist.page
    pair.let_in(therapist, pair.therapist)
    with tpage.expect_websocket(lambda ws: "/ws/events/" in ws.url):
        therapist.goto("/")
    alerts = tpage.get_by_role("region", name="Alerts")
    expect(alerts).to_contain_text("No open alerts.")

    # The client, on a phone, opens the questionnaire from their home page.
    client = visitor("client on a phone", viewport=SMALL_SCREEN, is_mobile=True)
    page = client.page
    pair.let_in(client, pair.client)
    todo = page.get_by_role("region", name="Things to do")
    client.click(todo.get_by_role("link", name=f"Fill in: {PHQ9}"))
    assert re.fullmatch(r"/measures/tasks/\d+/", client.path), client.path
    client.assert_fits()
    expect(page.get_by_text("0 of 10 answered")).to_be_visible()
    first = page.get_by_role("group", name=re.compile("Question 1 of 10"))
    expect(first).to_be_visible()
    expect(page.get_by_role("group", name=re.compile("Question 2 of 10"))).to_be_hidden()
    expect(page.get_by_role("button", name="Send my answers", exact=True)).to_be_hidden()

    # Keyboard only for the first answer: into the group, choose, on to the next question.
    first.get_by_role("radio", name="Not at all").focus()
    page.keyboard.press("Space")
    expect(first.get_by_role("radio", name="Not at all")).to_be_checked()
    expect(page.get_by_text("1 of 10 answered")).to_be_visible()
    page.keyboard.press("Tab")
    expect(page.get_by_role("button", name="Next question")).to_be_focused()
    page.keyboard.press("Enter")
    second = page.get_by_role("group", name=re.compile("Question 2 of 10"))
    expect(second).to_be_focused()
    expect(first).to_be_hidden()

    for n in range(2, 10):
        group = page.get_by_role("group", name=re.compile(f"Question {n} of 10"))
        group.get_by_role("radio", name="Several days" if n == 9 else "Not at all").check()
        page.get_by_role("button", name="Next question").click()
    # Saved as a draft on the way (save and resume), before anything is sent.
    expect(page.get_by_role("status")).to_have_text("Your answers so far are saved.")
    draft = server.shell(
        "from rapport.measures.models import MeasureTask\n"
        f"print(MeasureTask.objects.get(client__email={pair.client!r}).draft_answers())\n"
    )
    assert "'9': 1" in draft, draft
    # The risk answer already showed the crisis resources and the ask to send, on the phone too.
    expect(
        page.get_by_role("alert").filter(has_text="Please send your answers now")
    ).to_be_visible()
    last = page.get_by_role("group", name=re.compile("Question 10 of 10"))
    last.get_by_role("radio", name="Somewhat difficult").check()
    client.click(page.get_by_role("button", name="Send my answers", exact=True))

    # At once: crisis resources, and that the therapist has been told.
    assert re.fullmatch(r"/measures/responses/\d+/", client.path), client.path
    told = page.get_by_role("region", name="Your therapist has been told")
    expect(told).to_be_visible()
    expect(told).to_contain_text("988")
    client.assert_fits()

    # The therapist's open page shows the alert without a reload, read out at once.
    banner = tpage.get_by_role("alert").filter(has_text="Safety alert")
    try:
        expect(banner).to_contain_text(pair.client_name, timeout=15_000)
    except AssertionError as exc:
        raise AssertionError(
            f"{exc}\ntherapist console: {therapist.console[-10:]}\n"
            f"server log:\n{server.log_tail(20)}"
        ) from exc
    entry = alerts.get_by_role("link", name=pair.client_name)
    expect(entry).to_be_visible()
    expect(alerts.get_by_text("No open alerts.")).to_be_hidden()
    therapist.audit()

    # The therapist opens it and records what they did.
    therapist.click(entry)
    assert re.fullmatch(r"/alerts/\d+/", therapist.path), therapist.path
    expect(tpage.get_by_role("heading", level=1)).to_have_text(f"Safety alert: {pair.client_name}")
    expect(tpage.locator("#risk-wording")).to_contain_text("Several days")
    therapist.click(tpage.get_by_role("button", name="Acknowledge the alert"))
    expect(tpage.locator("#id_action_taken_error")).to_contain_text("This field is required")
    tpage.get_by_label("Action taken").fill("Phoned the client at 14:10; safety plan agreed.")
    therapist.click(tpage.get_by_role("button", name="Acknowledge the alert"))
    expect(tpage.locator("#alert-state")).to_contain_text("Acknowledged")
    expect(tpage.locator("#action-taken")).to_have_text(
        "Phoned the client at 14:10; safety plan agreed."
    )

    recorded = server.shell(
        "from rapport.audit.models import AuditEvent\n"
        "from rapport.measures.models import SafetyAlert\n"
        f"a = SafetyAlert.objects.get(client__email={pair.client!r})\n"
        "e = AuditEvent.objects.get(action='alert.acknowledged', object_id=str(a.pk))\n"
        "print(a.acknowledged_by.email, a.action_taken, e.actor.email, sep='|')\n"
    ).strip()
    assert recorded == (
        f"{pair.therapist}|Phoned the client at 14:10; safety plan agreed.|{pair.therapist}"
    )

    # Progress, clinical and plain: the chart is an image with a name, the table is there too.
    therapist.goto(f"/clients/{pair.client_id}/progress/")
    expect(tpage.get_by_role("img", name="PHQ-9 scores over time")).to_be_visible()
    expect(tpage.get_by_text("The 1 score as a table")).to_be_visible()
    client.goto("/measures/progress/")
    expect(page.get_by_role("img", name="PHQ-9 scores over time")).to_be_visible()
    expect(page.get_by_text("Latest: 1 out of 27")).to_be_visible()
    client.assert_fits()


def test_crisis_resources_appear_as_soon_as_a_risk_item_is_answered_before_sending(
    visitor: MakeVisitor, server: DemoServer
) -> None:
    pair = new_pair(server)
    assign_phq9(server, pair)
    client = visitor("client")
    page = client.page
    pair.let_in(client, pair.client)
    client.click(page.get_by_role("link", name=f"Fill in: {PHQ9}"))
    crisis = page.get_by_role("alert").filter(has_text="Please send your answers now")
    expect(crisis).to_be_hidden()

    ninth = page.get_by_role("group", name=re.compile("Question 9 of 10"))
    ninth.get_by_role("radio", name="Not at all").check()
    expect(crisis).to_be_hidden()
    ninth.get_by_role("radio", name="Several days").check()
    # At once, before anything is sent: the practice's crisis resources, and the ask to send.
    expect(crisis).to_be_visible()
    expect(crisis).to_contain_text("988")
    expect(crisis).to_contain_text("Until you send them, your therapist has not been told")
    expect(crisis.get_by_role("button", name="Send my answers now")).to_be_visible()
    client.audit()
    sent = server.shell(
        "from rapport.measures.models import MeasureTask, SafetyAlert\n"
        f"task = MeasureTask.objects.get(client__email={pair.client!r})\n"
        f"print(task.status, SafetyAlert.objects.filter(client__email={pair.client!r}).count())\n"
    ).strip()
    assert sent == "open 0", sent

    # Reloaded (the draft was saved), the page shows it without waiting for a script.
    expect(page.get_by_role("status")).to_have_text("Your answers so far are saved.")
    client.goto(client.path)
    expect(crisis).to_be_visible()
