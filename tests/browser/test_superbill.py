"""Superbills in a real browser: the client, on a phone, finds them from their home page, types
a period the wrong way round (answered by the error summary), then downloads a month's PDF; the
therapist reaches the same from the client's billing. Every page is checked with axe."""

from __future__ import annotations

import io

import pytest
from playwright.sync_api import expect
from pypdf import PdfReader

from tests.browser.conftest import MakeVisitor
from tests.browser.people import pair_in_browsers
from tests.browser.server import DemoServer

pytestmark = pytest.mark.browser

# The practice's details, the therapist's, and a billed line of the pair's session in March.
BILLED_LINE = """
import datetime
from rapport.accounts.models import User
from rapport.billing import services
from rapport.billing.models import BillingLine, BillingSettings, LineStatus, ProviderDetails
settings = BillingSettings.get()
settings.address = "12 Harbor Street, Portland, ME 04101"
settings.phone = "207-555-0100"
settings.tax_id = "12-3456789"
settings.save()
therapist = User.objects.get(email={therapist!r})
client = User.objects.get(email={client!r})
ProviderDetails.objects.create(
    therapist=therapist, npi="1234567893", credentials="LCSW", licence_number="LC-20417",
    licence_state="ME",
)
line = BillingLine.objects.create(
    client=client, therapist=therapist, date_of_service=datetime.date(2026, 3, 2),
    cpt_code="90834", modifiers="95", place_of_service="10", diagnosis_codes=["F41.1"],
    fee=15000, currency="USD", created_by=therapist, status=LineStatus.CONFIRMED,
)
services.lock_lines([line], actor=therapist)
print(line.pk)
"""


def test_the_client_downloads_a_months_superbill(visitor: MakeVisitor, server: DemoServer) -> None:
    pair, client, therapist = pair_in_browsers(visitor, server)
    server.shell(BILLED_LINE.format(therapist=pair.therapist, client=pair.client))
    cpage = client.page
    client.click(cpage.get_by_role("link", name="Superbills for your insurer"))
    expect(cpage.get_by_role("heading", level=1)).to_have_text("Your superbills")
    client.assert_fits()

    form = cpage.get_by_role("region", name="For any period")
    form.get_by_label("First day").fill("2026-03-31")
    form.get_by_label("Last day").fill("2026-03-01")
    client.click(form.get_by_role("button", name="Download the superbill (PDF)"))
    expect(cpage.get_by_role("alert").first).to_contain_text(
        "The first day must be on or before the last day."
    )

    months = cpage.get_by_role("region", name="By month")
    with cpage.expect_download() as downloading:
        months.get_by_role("link", name="Superbill for March 2026 (PDF)").click()
    download = downloading.value
    assert download.suggested_filename == "superbill-2026-03-01-to-2026-03-31.pdf"
    with open(download.path(), "rb") as pdf:
        reader = PdfReader(io.BytesIO(pdf.read()))
    text = " ".join(" ".join(page.extract_text() for page in reader.pages).split())
    assert pair.client_name in text
    assert "03/02/2026 90834" in text
    assert "NPI 1234567893" in text

    therapist.goto(f"/clients/{pair.client_id}/billing/")
    tpage = therapist.page
    therapist.click(tpage.get_by_role("link", name="Superbills for the client's insurer"))
    expect(tpage.get_by_role("heading", level=1)).to_contain_text(pair.client_name)
    expect(tpage.get_by_role("region", name="By month")).to_contain_text("March 2026")
