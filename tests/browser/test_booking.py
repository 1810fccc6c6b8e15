"""A client books a session with the keyboard; their therapist sees it in the week view.

Riya Patel lives in Asia/Kolkata, her therapist Paula Ramos in America/Chicago: the picker shows
Riya's time and Paula's, and each of them sees the session on their own clock.
"""

from __future__ import annotations

import re
import zoneinfo
from datetime import datetime, timedelta

import pytest
from playwright.sync_api import expect

from tests.browser.browsing import SMALL_SCREEN
from tests.browser.conftest import MakeVisitor
from tests.browser.server import DemoServer

pytestmark = pytest.mark.browser

CLIENT = "r.patel@demo.rapport.test"
CLIENT_ZONE = zoneinfo.ZoneInfo("Asia/Kolkata")
THERAPIST = "p.ramos@demo.rapport.test"
THERAPIST_ZONE = zoneinfo.ZoneInfo("America/Chicago")


def spoken(moment: datetime) -> str:
    """How the pages write a start: "Tuesday 8 January, 09:00"."""
    return f"{moment:%A} {moment.day} {moment:%B}, {moment:%H:%M}"


def test_client_books_a_slot_with_the_keyboard_and_the_therapist_sees_it(
    visitor: MakeVisitor, server: DemoServer
) -> None:
    client = visitor("client on a phone", viewport=SMALL_SCREEN)
    page = client.page
    client.sign_in(CLIENT)
    sessions = page.get_by_role("region", name="Upcoming sessions")
    client.click(sessions.get_by_role("link", name="Book a session"))
    if client.path.startswith("/consent/"):
        page.get_by_label("Type your full name to sign").fill("Riya Patel")
        client.click(page.get_by_role("button", name="Sign", exact=True))
    assert client.path == "/book/"

    # Step 1: the kind of session, by keyboard.
    kinds = page.get_by_role("group", name="What kind of session?")
    kinds.get_by_role("radio").first.focus()
    page.keyboard.press("ArrowDown")  # to the intake…
    expect(kinds.get_by_role("radio", name=re.compile("Intake"))).to_be_checked()
    page.keyboard.press("ArrowUp")  # …and back to the individual session
    expect(kinds.get_by_role("radio", name=re.compile("Individual session"))).to_be_checked()
    page.keyboard.press("Tab")
    expect(page.get_by_role("button", name="Show open times")).to_be_focused()
    client.follow(lambda: page.keyboard.press("Enter"))
    client.assert_fits()
    expect(page.get_by_text("Times are in your time zone, Asia/Kolkata.")).to_be_visible()

    # Step 2: a slot. Each day is a group named by its legend; arrows move between times.
    first_day = page.get_by_role("group").filter(has=page.locator("input[name=slot]")).first
    first_day.get_by_role("radio").first.focus()
    page.keyboard.press("ArrowDown")
    chosen = page.locator("input[name=slot]:checked")
    expect(chosen).to_have_count(1)
    value = chosen.get_attribute("value")
    assert value, "no slot chosen"
    starts_at = datetime.fromisoformat(value)
    theirs = starts_at.astimezone(THERAPIST_ZONE)
    label = page.locator("label", has=chosen)
    expect(label).to_contain_text(f"{starts_at.astimezone(CLIENT_ZONE):%H:%M}")
    expect(label).to_contain_text(f"Therapist: {theirs:%a, %H:%M}")
    # On a phone each day lists its next four times; the rest are behind "Show all … times",
    # the next stop after the times. Tab goes on, past the other days, to the button.
    page.keyboard.press("Tab")
    expect(
        first_day.get_by_role("checkbox", name=re.compile(r"^Show all \d+ times on"))
    ).to_be_focused()
    button = page.get_by_role("button", name="Book this time")
    for _ in range(10):
        if button.evaluate("b => b === document.activeElement"):
            break
        page.keyboard.press("Tab")
    expect(button).to_be_focused()
    client.follow(lambda: page.keyboard.press("Enter"))

    assert client.path.startswith("/appointments/")
    expect(page.get_by_role("status")).to_contain_text("Your session is booked.")
    mine = spoken(starts_at.astimezone(CLIENT_ZONE))
    client.click(page.get_by_role("navigation", name="Main").get_by_role("link", name="Sessions"))
    upcoming = page.get_by_role("region", name="Upcoming")
    expect(upcoming.get_by_role("link", name=mine)).to_be_visible()
    client.assert_fits()

    # The therapist (first sign-in: authenticator enrolment) finds it in that week.
    therapist = visitor("therapist")
    therapist.sign_in(THERAPIST)
    assert therapist.path == "/accounts/2fa/totp/activate/"
    therapist.enrol_totp()
    therapist.goto("/")
    tpage = therapist.page
    therapist.click(
        tpage.get_by_role("navigation", name="Main").get_by_role("link", name="Schedule")
    )
    expect(tpage.get_by_role("heading", level=1)).to_contain_text("Week of")
    monday = theirs.date() - timedelta(days=theirs.weekday())
    therapist.goto(f"/schedule/week/{monday.isoformat()}/")
    ends = theirs + timedelta(minutes=50)
    # On the calendar grid: a link with the session's full text (a confirmed one says no status).
    entry = tpage.get_by_role(
        "link",
        name=re.compile(
            f"^{theirs:%a} {theirs.day} {theirs:%b}, "
            f"{theirs:%H:%M}\N{EN DASH}{ends:%H:%M}, .* with Riya Patel, "
        ),
    )
    expect(entry).to_be_visible()
    expect(entry).not_to_contain_text("Requested")
    therapist.click(entry)
    expect(tpage.get_by_role("heading", level=1)).to_contain_text(f"{theirs:%A}")
    expect(tpage.get_by_text(f"{mine} for Riya Patel")).to_be_visible()

    # And the data behind it.
    booked = server.shell(
        "from rapport.scheduling.models import Appointment;"
        "a = Appointment.objects.filter(client__email='r.patel@demo.rapport.test', "
        "booked_by__email='r.patel@demo.rapport.test').get();"
        "print(a.starts_at.isoformat(), a.status, a.modality)"
    ).split()
    assert datetime.fromisoformat(booked[0]) == starts_at
    assert booked[1:] == ["confirmed", "video"]
