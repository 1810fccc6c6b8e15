"""The end of a session leads to its note: the therapist ends a live text session, writes the
note with the session's facts already filled in, sees the draft saved by itself, and signs it."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.browser.calls import enter_call
from tests.browser.conftest import MakeVisitor
from tests.browser.media import media_browser, media_visitor
from tests.browser.server import DemoServer

pytestmark = pytest.mark.browser
__all__ = ["media_browser", "media_visitor"]  # fixtures used by the tests below


def test_ending_a_session_leads_to_its_note(media_visitor: MakeVisitor, server: DemoServer) -> None:
    call = enter_call(media_visitor, server, "text")
    therapist = call.therapist
    page = therapist.page
    page.get_by_role("button", name="End session").click()
    page.get_by_role("button", name="Yes, end the session").click()
    ended = page.get_by_role("region", name="The session has ended")
    expect(ended).to_be_visible()
    therapist.click(ended.get_by_role("link", name="Write the note"))
    assert therapist.path == f"/visits/{call.visit}/note/", therapist.path

    # The session's facts are there before anything is typed.
    expect(page.get_by_role("heading", level=1)).to_contain_text(call.pair.client_name)
    expect(page.get_by_label("Client's stated location")).to_have_value(
        "At home, 7 Quay Street, Bristol"
    )
    attended = page.get_by_label("Who attended")
    expect(attended).to_have_value(f"{call.pair.therapist_name}, {call.pair.client_name}")
    expect(page.locator("#note-minutes")).to_contain_text("text")
    therapist.audit()

    # Typing is saved by itself, and said so politely.
    page.get_by_label("Subjective").fill("Busy week; sleeping better.")
    page.get_by_label("Objective").fill("Engaged, typed freely.")
    page.get_by_label("Assessment").focus()  # leaving a field saves the draft
    status = page.locator("#save-status")
    expect(status).to_have_attribute("role", "status")
    expect(status).to_have_text(re.compile(r"^Saved \d\d:\d\d$"), timeout=15_000)
    assert "/notes/" in page.url  # the first save made the draft; the address follows it
    page.get_by_label("Assessment").fill("Improving steadily.")
    page.get_by_label("Plan").fill("Weekly; keep the sleep diary.")
    therapist.audit()

    therapist.click(page.get_by_role("button", name="Sign and lock"))
    assert re.fullmatch(r"/notes/\d+/", therapist.path), therapist.path
    expect(page.locator("#note-status")).to_contain_text("Signed")
    expect(page.get_by_role("region", name="Note")).to_contain_text("Improving steadily.")
    expect(page.get_by_role("button", name="Sign and lock")).to_have_count(0)
    therapist.audit()
    stored = server.shell(
        "from rapport.notes.models import Note\n"
        f"n = Note.objects.get(visit__uid={call.visit!r})\n"
        "print(n.status, n.signed_by.email, n.client_location)\n"
    )
    assert stored.strip().splitlines()[-1] == (
        f"signed {call.pair.therapist} At home, 7 Quay Street, Bristol"
    )
