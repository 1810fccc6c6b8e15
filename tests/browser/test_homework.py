"""Homework and the journal in real browsers: the therapist assigns a daily thought record from
the client record; the client, on a phone, saves a draft, comes back to it and hands it in; the
therapist reads it and comments; the client reads the comment. The client checks in a private
mood, which their progress page charts and their therapist's does not, and switches the daily
reminder on. Every page is checked
with axe on the way."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import MakeVisitor
from tests.browser.people import pair_in_browsers
from tests.browser.server import DemoServer

pytestmark = pytest.mark.browser


def test_assign_draft_hand_in_and_comment(visitor: MakeVisitor, server: DemoServer) -> None:
    pair, client, therapist = pair_in_browsers(visitor, server)
    page, cpage = therapist.page, client.page
    today = datetime.now(ZoneInfo("Europe/London")).date()

    # The therapist assigns a thought record every day for three days, from the client record.
    therapist.goto(f"/clients/{pair.client_id}/")
    therapist.click(page.get_by_role("link", name="Homework: assign and read"))
    assign = page.get_by_role("region", name="Assign homework")
    assign.get_by_label("Exercise").select_option(label="Thought record")
    assign.get_by_label("Your instructions (optional)").fill("When the Sunday dread comes.")
    assign.get_by_label("Due on").fill(today.isoformat())
    assign.get_by_label(re.compile(r"^Repeat:?$")).select_option(label="Every day")
    assign.get_by_label("Repeat until").fill((today + timedelta(days=2)).isoformat())
    therapist.click(assign.get_by_role("button", name="Assign"))
    listed = page.get_by_role("region", name="Homework", exact=True).get_by_role("listitem")
    expect(listed).to_have_count(3)
    expect(listed.first).to_contain_text("To do")

    # The client, on a phone, starts it and saves a draft.
    client.goto("/homework/")
    to_do = cpage.get_by_role("region", name="To do")
    expect(to_do.get_by_role("listitem")).to_have_count(3)
    client.click(to_do.get_by_role("link", name="Thought record").first)
    expect(cpage.get_by_role("region", name="What to do")).to_contain_text("Sunday dread")
    cpage.get_by_label("What happened? Where, when, with whom?").fill("Sunday evening, emails")
    cpage.get_by_label("How much did you believe it (0 to 100)?").fill("80")
    client.click(cpage.get_by_role("button", name="Save draft"))
    expect(cpage.get_by_role("status")).to_contain_text("Draft saved")
    client.assert_fits()
    # Draft kept: back on the list and in again, the words are there.
    client.goto("/homework/")
    expect(cpage.get_by_role("region", name="To do")).to_contain_text("draft saved")
    client.click(cpage.get_by_role("region", name="To do").get_by_role("link").first)
    expect(cpage.get_by_label("What happened? Where, when, with whom?")).to_have_value(
        "Sunday evening, emails"
    )
    # A number out of range: a clear error, nothing typed lost.
    cpage.get_by_label("How strong is the feeling now (0 to 100)?").fill("150")
    cpage.get_by_label("What went through your mind?").fill("I will fail at work")
    client.click(cpage.get_by_role("button", name="Hand it in"))
    expect(cpage.get_by_role("alert").first).to_contain_text("Give a number from 0 to 100.")
    expect(cpage.get_by_label("What went through your mind?")).to_have_value("I will fail at work")
    cpage.get_by_label("How strong is the feeling now (0 to 100)?").fill("40")
    client.click(cpage.get_by_role("button", name="Hand it in"))
    expect(cpage.get_by_role("region", name="Done")).to_contain_text("Thought record")

    # The therapist reads it and comments.
    therapist.goto(f"/clients/{pair.client_id}/homework/")
    done = page.get_by_role("region", name="Homework", exact=True).get_by_role("listitem")
    therapist.click(done.filter(has_text="Done").get_by_role("link"))
    answers = page.get_by_role("region", name="The client's answers")
    expect(answers).to_contain_text("I will fail at work")
    expect(answers).to_contain_text("Sunday evening, emails")
    page.get_by_label("Your comment for the client").fill("Well spotted. Keep going.")
    therapist.click(page.get_by_role("button", name="Save the comment"))
    expect(page.locator("#homework-comment")).to_have_text("Well spotted. Keep going.")

    # The client reads the comment.
    client.goto("/homework/")
    done_region = cpage.get_by_role("region", name="Done")
    expect(done_region).to_contain_text("your therapist commented")
    client.click(done_region.get_by_role("link", name="Thought record"))
    expect(cpage.get_by_role("region", name="Your therapist's comment")).to_contain_text(
        "Well spotted. Keep going."
    )
    client.assert_fits()

    # The therapist stops the rest: the two days not started leave the client's list.
    therapist.goto(f"/clients/{pair.client_id}/homework/")
    assigned = page.get_by_role("region", name="Assigned")
    therapist.click(assigned.get_by_role("link", name="Thought record"))
    therapist.click(page.get_by_role("button", name="Stop this homework"))
    expect(page.get_by_role("status")).to_contain_text("2 days still to do were removed")
    expect(page.get_by_role("region", name="Assigned")).to_contain_text("stopped")
    client.goto("/homework/")
    expect(cpage.get_by_role("region", name="To do").get_by_role("listitem")).to_have_count(0)


def test_a_private_mood_is_charted_for_the_client_only(
    visitor: MakeVisitor, server: DemoServer
) -> None:
    pair, client, therapist = pair_in_browsers(visitor, server)
    cpage = client.page
    client.goto("/journal/")
    check_in = cpage.get_by_role("region", name="Check in")
    check_in.get_by_label("7", exact=True).check()
    check_in.get_by_label("Journal (optional)").fill("A long walk. PRIVATE-BROWSER")
    expect(check_in.get_by_label("Let my therapist read this entry")).not_to_be_checked()
    client.click(check_in.get_by_role("button", name="Save entry"))
    entries = cpage.get_by_role("region", name="Your entries")
    expect(entries).to_contain_text("Private")
    expect(entries).to_contain_text("mood 7 of 10")
    client.assert_fits()
    # The daily reminder: off until the client ticks it, then at the time they chose.
    reminder = cpage.get_by_role("region", name="Daily reminder")
    ticked = reminder.get_by_label("Remind me by email on days I have not checked in")
    expect(ticked).not_to_be_checked()
    ticked.check()
    reminder.get_by_label("At this time of day (your own time)").fill("20:30")
    client.click(reminder.get_by_role("button", name="Save reminder"))
    expect(cpage.locator(".messages")).to_contain_text("reminder at 20:30")
    expect(ticked).to_be_checked()
    client.goto("/measures/progress/")
    expect(cpage.get_by_role("region", name="Mood")).to_contain_text("1 check-in")
    client.assert_fits()

    therapist.goto(f"/clients/{pair.client_id}/progress/")
    expect(therapist.page.get_by_role("region", name="Mood")).to_have_count(0)
    therapist.goto(f"/clients/{pair.client_id}/journal/")
    main = therapist.page.locator("main")
    expect(main).to_contain_text("has not shared a journal entry")
    expect(main).not_to_contain_text("PRIVATE-BROWSER")
