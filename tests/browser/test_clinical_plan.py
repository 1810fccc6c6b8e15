"""Diagnoses and the treatment plan in real browsers: the therapist finds a code by typing words
(the type-ahead) and records it as the primary diagnosis, writes a plan with a goal tied to the
PHQ-9 and finalises it; the client, on a phone, reads the plan in plain words and signs it.
Every page is checked with axe on the way."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import MakeVisitor
from tests.browser.people import pair_in_browsers
from tests.browser.server import DemoServer

pytestmark = pytest.mark.browser


def test_a_diagnosis_and_a_signed_plan(visitor: MakeVisitor, server: DemoServer) -> None:
    pair, client, therapist = pair_in_browsers(visitor, server)
    page = therapist.page

    # The diagnosis, found by words as the therapist types.
    therapist.goto(f"/clients/{pair.client_id}/diagnoses/")
    page.get_by_label("Code or words").fill("generalized anx")
    results = page.locator("#code-results")
    page.get_by_role("button", name="Record F41.1").click()
    expect(page.get_by_label("ICD-10-CM code")).to_have_value("F41.1")
    expect(results).to_contain_text("Generalized anxiety disorder")
    record = page.get_by_role("region", name="Record a diagnosis")
    record.get_by_label("Primary").check()
    therapist.click(record.get_by_role("button", name="Record"))
    expect(page.get_by_role("region", name="Diagnoses", exact=True)).to_contain_text(
        "Generalized anxiety disorder"
    )

    # The plan: one goal tied to the PHQ-9, then finalised.
    therapist.goto(f"/clients/{pair.client_id}/plan/")
    therapist.click(page.get_by_role("button", name="Write the plan"))
    goal = page.get_by_role("region", name="Add a goal")
    goal.get_by_label("Problem").fill("Low mood most days")
    goal.get_by_label("Goal or objective").fill("PHQ-9 below 10 on two administrations")
    goal.get_by_label("In the client's words").fill("Enjoy my weekends again")
    goal.get_by_label("Measure (optional)").select_option(label="PHQ-9")
    goal.get_by_label("The score should be").select_option("lt")
    goal.get_by_label("Target score").fill("10")
    goal.get_by_label("Sustained over how many scores").fill("2")
    therapist.click(goal.get_by_role("button", name="Add the goal"))
    expect(page.get_by_role("region", name="The draft so far")).to_contain_text(
        "PHQ-9 below 10, sustained over 2 scores"
    )
    therapist.click(page.get_by_role("button", name="Finalise this version"))
    expect(page.get_by_role("region", name="Current plan")).to_contain_text("Not signed")

    # The client reads it in their words and signs it.
    client.goto("/plan/")
    cpage = client.page
    expect(cpage.get_by_role("region", name="Your goals")).to_contain_text("Enjoy my weekends")
    expect(cpage.locator("main")).not_to_contain_text("F41.1")
    client.assert_fits()
    cpage.get_by_label("Type your full name to sign").fill(pair.client_name)
    client.click(cpage.get_by_role("button", name="Sign my plan"))
    expect(cpage.get_by_role("region", name="Your signature")).to_contain_text("You signed")
    therapist.goto(f"/clients/{pair.client_id}/plan/")
    expect(page.get_by_role("region", name="Current plan")).to_contain_text("Signed by the client")
