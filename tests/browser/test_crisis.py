"""Crisis help in a real browser: the client says at check-in which country they are in, and from
then on their home page and the result of a questionnaire with a risk answer show that country's
numbers as links a phone dials; the result puts that help first, with no band beside the risk
answer, and a PCL-5 result never names "Probable PTSD" to the client. Every page is checked
with axe."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.browser.browsing import SMALL_SCREEN
from tests.browser.conftest import MakeVisitor
from tests.browser.people import Pair, new_pair
from tests.browser.server import DemoServer

pytestmark = pytest.mark.browser


def send(server: DemoServer, pair: Pair, key: str, answers: dict[str, int]) -> int:
    """The client's answers to ``key``, sent through the measures service: the response id."""
    out = server.shell(
        "from rapport.accounts.models import User\n"
        "from rapport.measures.answers import submit\n"
        "from rapport.measures.assignments import assign\n"
        "from rapport.measures.models import Instrument, MeasureTask\n"
        f"t = User.objects.get(email={pair.therapist!r})\n"
        f"c = User.objects.get(email={pair.client!r})\n"
        f"i = Instrument.objects.get(key={key!r}, builtin=True)\n"
        "assign(t, c, i, 'once')\n"
        "task = MeasureTask.objects.get(client=c, instrument=i, status='open')\n"
        f"print(submit(task, c, {answers!r}).pk)\n"
    )
    return int(out.strip().splitlines()[-1])


def test_crisis_help_follows_the_check_in_and_comes_first_after_a_risk_answer(
    visitor: MakeVisitor, server: DemoServer
) -> None:
    pair = new_pair(server)
    visit = server.shell(
        "from rapport.accounts.models import User\n"
        "from rapport.visits.services import start_unscheduled\n"
        f"t = User.objects.get(email={pair.therapist!r})\n"
        f"c = User.objects.get(email={pair.client!r})\n"
        "print(start_unscheduled(t, c).uid)\n"
    ).strip()

    client = visitor("client on a phone", viewport=SMALL_SCREEN, is_mobile=True)
    page = client.page
    pair.let_in(client, pair.client)
    # Before any country is known: the practice's own text.
    crisis = page.get_by_role("region", name="In a crisis")
    expect(crisis).to_contain_text("988")

    # At the check-in the client says they are in Poland.
    client.goto(f"/visits/{visit}/check-in/")
    page.get_by_label("Where are you right now?").fill("Hotel in Kraków")
    page.get_by_label("Which country are you in?").select_option(label="Poland")
    page.get_by_label("A phone number to call you back").fill("+48 600 000 000")
    page.get_by_label("Emergency contact").fill("Sam, partner, +48 600 000 001")
    page.get_by_label("These details are right for this session").check()
    client.click(page.get_by_role("button", name="Continue to the waiting room"))
    assert client.path.startswith(f"/visits/{visit}/"), client.path

    # The home page now shows Poland's numbers, each a link a phone dials.
    client.goto("/")
    expect(crisis).to_contain_text("Help in Poland")
    expect(crisis.get_by_role("link", name="112")).to_have_attribute("href", "tel:112")
    expect(crisis.get_by_role("link", name="116 123")).to_have_attribute("href", "tel:116123")
    expect(crisis.get_by_role("link", name="116 111")).to_have_attribute("href", "tel:116111")
    client.assert_fits()

    # A PHQ-9 whose total is "Minimal" but whose item 9 is positive.
    answers = {str(n): 0 for n in range(1, 9)} | {"9": 1}
    result = send(server, pair, "phq9", answers)
    client.goto(f"/measures/responses/{result}/")
    main = page.get_by_role("main")
    told = page.get_by_role("region", name="Your therapist has been told")
    expect(told).to_be_visible()
    expect(told.get_by_role("link", name="112")).to_have_attribute("href", "tel:112")
    # Crisis help is the first thing on the page, before the heading and the score.
    first = main.locator("h1, h2").first
    expect(first).to_have_text("Your therapist has been told")
    expect(main).to_contain_text("Your score: 1 out of 27")
    expect(main).not_to_contain_text("Minimal")
    client.assert_fits()

    # A PCL-5 over the cut-off: plain words for the client, never the label.
    result = send(server, pair, "pcl5", {str(n): 2 for n in range(1, 21)})
    client.goto(f"/measures/responses/{result}/")
    expect(main).to_contain_text("Worth talking through with your therapist")
    expect(main).not_to_contain_text(re.compile("probable", re.IGNORECASE))
    client.goto("/measures/progress/")
    expect(main).not_to_contain_text(re.compile("Probable PTSD|Minimal\\)"))

    # Their therapist's copy of the PCL-5 result keeps the clinical label.
    therapist = visitor("therapist")
    pair.let_in(therapist, pair.therapist)
    therapist.goto(f"/measures/responses/{result}/")
    expect(therapist.page.get_by_role("main")).to_contain_text("Probable PTSD")
