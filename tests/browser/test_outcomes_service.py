"""The service page in a real browser: a therapist with ten clients of their own reads
attendance, technical health and feedback by modality, each chart with its table, and finds the
one-page summary. The page is checked with axe (as every page visited is)."""

from __future__ import annotations

import io

import pytest
from playwright.sync_api import expect
from pypdf import PdfReader

from tests.browser.conftest import MakeVisitor
from tests.browser.people import new_pair
from tests.browser.server import DemoServer

pytestmark = pytest.mark.browser

# Ten clients of the pair's therapist, each with a completed video booking and a session held
# (the first three with a step down because of the connection) with feedback after it.
CASELOAD = """
from datetime import timedelta
from django.utils import timezone
from rapport.accounts.models import User
from tests.scheduling_data import ready_client, therapist_with_hours
from tests.service_data import booking, held_session
therapist = User.objects.get(email={therapist!r})
_same, session_type = therapist_with_hours(therapist=therapist)
at = timezone.now() - timedelta(days=20)
for n in range(10):
    client = ready_client(therapist, f"svc{{n}}-{{therapist.pk}}@pair.test")
    booking(session_type, client, at + timedelta(days=n))
    held_session(therapist, client, at + timedelta(days=n), step_down=n < 3, feedback_share=0.8)
print("seeded")
"""


def test_a_therapist_reads_the_service_figures(visitor: MakeVisitor, server: DemoServer) -> None:
    pair = new_pair(server)
    assert "seeded" in server.shell(CASELOAD.format(therapist=pair.therapist))
    therapist = visitor("therapist")
    pair.let_in(therapist, pair.therapist)
    page = therapist.goto("/outcomes/service/")
    expect(page.get_by_role("heading", level=1)).to_have_text(
        "Attendance, technology and feedback: my caseload"
    )
    attendance = page.get_by_role("region", name="Attendance by modality")
    expect(attendance.get_by_role("img", name="Completed sessions by modality")).to_be_visible()
    table = attendance.get_by_role("table", name="Attendance by modality")
    video = table.get_by_role("row", name="Video")
    expect(video.get_by_role("cell").first).to_have_text("10")
    expect(video).to_contain_text("10 (100.0 %")
    technical = page.get_by_role("region", name="Technical health")
    by_modality = technical.get_by_role("table", name="Technical health by modality")
    # Three sessions with a step down, of three clients: fewer than ten, so hidden.
    expect(by_modality.get_by_role("row", name="Video")).to_contain_text("hidden")
    feedback = page.get_by_role("region", name="Feedback on the relationship")
    expect(feedback.get_by_role("table", name="Feedback by modality")).to_contain_text("10")
    assert pair.client_name not in page.content()

    with page.expect_download() as download:
        page.get_by_role("link", name="One-page summary (PDF)").click()
    pdf = PdfReader(io.BytesIO(download.value.path().read_bytes()))
    assert len(pdf.pages) == 1
    assert "Outcomes summary" in pdf.pages[0].extract_text()
