"""The superbill: billed lines only, credits netted, what was paid, the practice's and providers'
details; the PDF read back with pypdf; who may download it; bad input; the audit trail."""

from __future__ import annotations

import io
import re
from datetime import date
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from pypdf import PdfReader

from rapport.accounts.models import User
from rapport.audit.models import AuditEvent
from rapport.audit.services import Action
from rapport.billing import services, superbill
from rapport.billing.models import (
    Allocation,
    BillingLine,
    BillingSettings,
    Invoice,
    InvoiceLine,
    InvoiceStatus,
    LineStatus,
    Payment,
    ProviderDetails,
    Service,
)
from rapport.care.access import profile_of
from rapport.care.models import CareRelationship
from tests.billing_data import billing_line
from tests.conftest import make_user, signed_in

NPI = "1234567893"  # a valid check digit (the NPI standard's own example)
EIN = "12-3456789"
MARCH = {"start": "2026-03-01", "end": "2026-03-31"}


@pytest.fixture
def billing_staff(db: None) -> User:
    return make_user("billing@example.test", "billing", "Bea Billing")


@pytest.fixture
def practice(db: None) -> BillingSettings:
    settings = BillingSettings.get()
    settings.legal_name = "Calm Waters Counseling LLC"
    settings.address = "12 Harbor Street\nPortland, ME 04101"
    settings.phone = "207-555-0100"
    settings.tax_id = EIN
    settings.save()
    for code, label, fee in [
        ("90834", "Therapy, about 45 minutes", 15000),
        ("90837", "Therapy, about 60 minutes", 18000),
        ("90832", "Therapy, about 30 minutes", 9000),
    ]:
        Service.objects.create(cpt_code=code, label=label, fee=fee)
    return settings


@pytest.fixture
def provider(therapist_x: User) -> ProviderDetails:
    return ProviderDetails.objects.create(
        therapist=therapist_x,
        npi=NPI,
        credentials="LCSW",
        licence_number="LC-20417",
        licence_state="ME",
    )


def invoice(client: User, lines: list[BillingLine], actor: User) -> Invoice:
    """Bill ``lines`` (confirmed) on a new issued invoice, straight into the tables, as the
    ledger does: the superbill reads what the ledger wrote, whatever page wrote it."""
    locked = services.lock_lines(lines, actor=actor)
    number = Invoice.objects.count() + 1
    row = Invoice.objects.create(
        client=client,
        number=f"INV-2026-{number:05d}",
        period_start=date(2026, 3, 1),
        period_end=date(2026, 3, 31),
        currency="USD",
        total=sum(line.amount for line in locked),
        status=InvoiceStatus.ISSUED,
        issued_on=date(2026, 4, 1),
        issued_by=actor,
        issued_at=timezone.now(),
    )
    InvoiceLine.objects.bulk_create(
        InvoiceLine(invoice=row, line=line, amount=line.amount) for line in locked
    )
    return row


def pay(client: User, on: Invoice, amount: int, actor: User) -> None:
    payment = Payment.objects.create(
        client=client,
        received_on=date(2026, 4, 5),
        amount=amount,
        currency="USD",
        method="card",
        allocated=amount,
        recorded_by=actor,
    )
    Allocation.objects.create(payment=payment, invoice=on, amount=amount, created_by=actor)
    Invoice.objects.filter(pk=on.pk).update(settled=amount)


@pytest.fixture
def march(
    practice: BillingSettings,
    provider: ProviderDetails,
    therapist_x: User,
    client_a: User,
    client_b: User,
    therapist_y: User,
    admin: User,
) -> dict[str, Any]:
    """client_a's March with therapist_x:

    - 2 March 90834, video (95), at home (10), F41.1: billed, 150.00;
    - 9 March 90837 + 90785, audio-only (93), not at home (02), F41.1 and F32.1: billed, 180.00;
    - 23 March billed as 90834 / 95 / 10 by mistake, credited and rebilled as 90837 / 93 / 02;
    - 100.00 paid on the first invoice (150 + 180 + 150 = 480.00): 31.25 + 37.50 + 31.25;
    - 16 March 90832 proposed, 20 March 90846 confirmed, 27 March void: none of them billed.
    client_b has a billed line too (never on client_a's superbill)."""
    confirmed = {"status": LineStatus.CONFIRMED}
    first = billing_line(client_a, therapist_x, date_of_service=date(2026, 3, 2), **confirmed)
    second = billing_line(
        client_a,
        therapist_x,
        date_of_service=date(2026, 3, 9),
        cpt_code="90837",
        add_ons=[{"code": "90785", "units": 1}],
        modifiers="93",
        place_of_service="02",
        diagnosis_codes=["F41.1", "F32.1"],
        fee=18000,
        **confirmed,
    )
    mistaken = billing_line(client_a, therapist_x, date_of_service=date(2026, 3, 23), **confirmed)
    first_invoice = invoice(client_a, [first, second, mistaken], admin)
    pay(client_a, first_invoice, 10000, admin)
    credit, rebill = services.correct_line(
        mistaken,
        services.LineValues(
            cpt_code="90837",
            add_ons=[],
            modifiers=["93"],
            place_of_service="02",
            diagnosis_codes=["F41.1"],
            units=1,
            fee=18000,
        ),
        actor=admin,
    )
    assert rebill is not None
    invoice(client_a, [credit, rebill], admin)
    billing_line(
        client_a,
        therapist_x,
        date_of_service=date(2026, 3, 16),
        cpt_code="90832",
        diagnosis_codes=["Z63.0"],
        fee=9000,
    )
    billing_line(
        client_a,
        therapist_x,
        date_of_service=date(2026, 3, 20),
        cpt_code="90846",
        fee=14000,
        **confirmed,
    )
    billing_line(
        client_a,
        therapist_x,
        date_of_service=date(2026, 3, 27),
        cpt_code="90839",
        status=LineStatus.VOID,
    )
    other = billing_line(
        client_b, therapist_y, date_of_service=date(2026, 3, 3), cpt_code="90791", **confirmed
    )
    invoice(client_b, [other], admin)
    return {"first": first, "second": second, "mistaken": mistaken, "rebill": rebill}


def download(browser: Client, client: User, **query: str) -> Any:
    return browser.get(reverse("client_superbill", args=[client.pk]), query)


def pdf_text(content: bytes) -> str:
    reader = PdfReader(io.BytesIO(content))
    return "\n".join(page.extract_text() for page in reader.pages)


def downloads_of(client: User) -> list[AuditEvent]:
    return list(
        AuditEvent.objects.filter(action=Action.SUPERBILL_DOWNLOADED, client=client).order_by(
            "sequence"
        )
    )


# --- What is on it -------------------------------------------------------------------------------


def test_the_superbill_holds_billed_services_with_credits_netted(
    march: dict[str, Any], client_a: User
) -> None:
    bill = superbill.build_superbill(client_a, start=date(2026, 3, 1), end=date(2026, 3, 31))
    rows = [
        (r.date_of_service.day, r.cpt_code, r.add_ons, r.modifiers, r.place_of_service)
        for r in bill.rows
    ]
    assert rows == [
        (2, "90834", [], "95", "10"),
        (9, "90837", ["90785"], "93", "02"),
        (23, "90837", [], "93", "02"),  # the rebill: the mistaken 90834 and its credit are gone
    ]
    assert [r.line_id for r in bill.rows] == [
        march["first"].pk,
        march["second"].pk,
        march["rebill"].pk,
    ]
    assert [(d.pointer, d.code) for d in bill.diagnoses] == [("A", "F41.1"), ("B", "F32.1")]
    assert bill.diagnoses[0].description == "Generalized anxiety disorder"
    assert [r.pointers for r in bill.rows] == ["A", "A,B", "A"]
    # 100.00 paid on an invoice of 480.00, spread by amount; the rebill carries what was paid
    # on the charge it replaced.
    assert [r.paid for r in bill.rows] == [3125, 3750, 3125]
    assert (bill.total_charges, bill.total_paid, bill.balance) == (51000, 10000, 41000)
    assert [p.npi for p in bill.providers] == [NPI]


def test_the_pdf_shows_codes_details_and_exact_amounts(
    march: dict[str, Any], client_a: User, therapist_x: User
) -> None:
    response = download(signed_in(therapist_x), client_a, **MARCH)
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert 'filename="superbill-2026-03-01-to-2026-03-31.pdf"' in response["Content-Disposition"]
    text = pdf_text(response.content)
    flat = " ".join(text.split())
    for expected in [
        "Superbill · Calm Waters Counseling LLC",
        "12 Harbor Street",
        "Portland, ME 04101",
        "207-555-0100",
        f"Tax id (EIN): {EIN}",
        "Xena Therapist, LCSW",
        f"NPI {NPI}",
        "Licence LC-20417 (ME)",
        "Alice Client",
        "Date of birth:",
        "F41.1 Generalized anxiety disorder",
        "F32.1 Major depressive disorder, single episode, moderate",
        "Therapy, about 45 minutes",
        "Total charges 510.00 USD",
        "Total paid 100.00 USD",
        "Balance due 410.00 USD",
        "Signature of Xena Therapist, LCSW",
    ]:
        assert expected in flat, expected
    # Each service's row, in order: date, code, add-on, modifiers, place, pointers, units, fee,
    # paid.
    assert re.search(r"03/02/2026 90834 .*?— 95 10 A 1 150\.00 USD 31\.25 USD", flat)
    assert re.search(r"03/09/2026 90837 .*?90785 93 02 A,B 1 180\.00 USD 37\.50 USD", flat)
    assert re.search(r"03/23/2026 90837 .*?— 93 02 A 1 180\.00 USD 31\.25 USD", flat)
    assert flat.count("03/23/2026") == 1
    # Not billed (proposed, confirmed, void) and other clients' lines are not on it.
    for absent in ["03/16/2026", "90832", "Z63.0", "03/20/2026", "90846", "90839", "90791"]:
        assert absent not in flat, absent
    assert "Bob Client" not in flat
    # Nothing on the client's record yet: lines to write the date of birth and address on.
    assert "Date of birth: Address:" in flat


def test_the_clients_date_of_birth_and_address_come_from_their_record(
    march: dict[str, Any], client_a: User, therapist_x: User
) -> None:
    profile = profile_of(client_a)
    profile.date_of_birth = date(1984, 7, 19)
    profile.postal_address = "221 Elm Street, Apt 4\n\nPortland, ME 04102\nUnited States"
    profile.save()
    bill = superbill.build_superbill(client_a, start=date(2026, 3, 1), end=date(2026, 3, 31))
    assert bill.date_of_birth == date(1984, 7, 19)
    assert bill.postal_address == "221 Elm Street, Apt 4\nPortland, ME 04102\nUnited States"
    text = pdf_text(download(signed_in(therapist_x), client_a, **MARCH).content)
    assert "Date of birth: 07/19/1984" in text
    flat = " ".join(text.split())
    assert "Address: 221 Elm Street, Apt 4 Portland, ME 04102 United States" in flat
    assert "Alice Client Date of birth: 07/19/1984" in flat
    # One filled in, the other still a line to write on.
    profile.postal_address = ""
    profile.save()
    html = superbill.superbill_html(
        superbill.build_superbill(client_a, start=date(2026, 3, 1), end=date(2026, 3, 31))
    )
    assert "07/19/1984" in html and '<span class="blank"></span>' not in html
    assert '<span class="blank wide"></span>' in html


def test_a_correction_is_shown_as_its_result_even_alone_in_the_range(
    march: dict[str, Any], client_a: User
) -> None:
    bill = superbill.build_superbill(client_a, start=date(2026, 3, 23), end=date(2026, 3, 23))
    assert [(r.cpt_code, r.modifiers, r.charge, r.paid) for r in bill.rows] == [
        ("90837", "93", 18000, 3125)
    ]


def test_a_credit_without_a_rebill_takes_the_service_off(
    march: dict[str, Any], client_a: User, admin: User
) -> None:
    credit, rebill = services.correct_line(march["second"], None, actor=admin)
    assert rebill is None
    # Until the credit is billed, the billed charge stands.
    bill = superbill.build_superbill(client_a, start=date(2026, 3, 9), end=date(2026, 3, 9))
    assert [r.line_id for r in bill.rows] == [march["second"].pk]
    invoice(client_a, [credit], admin)
    with pytest.raises(superbill.NoLockedLines):
        superbill.build_superbill(client_a, start=date(2026, 3, 9), end=date(2026, 3, 9))


def test_one_invoice_superbill(march: dict[str, Any], client_a: User, therapist_x: User) -> None:
    first_invoice = Invoice.objects.filter(client=client_a).order_by("pk").first()
    assert first_invoice is not None
    response = download(signed_in(therapist_x), client_a, invoice=str(first_invoice.pk))
    assert response.status_code == 200
    flat = " ".join(pdf_text(response.content).split())
    assert f"Invoice {first_invoice.number}" in flat
    # The mistaken line on it was credited since: only the two standing services.
    assert "03/02/2026" in flat and "03/09/2026" in flat and "03/23/2026" not in flat
    assert "Total charges 330.00 USD" in flat
    assert "Total paid 68.75 USD" in flat
    # A void invoice has no superbill.
    second = Invoice.objects.filter(client=client_a).order_by("pk").last()
    assert second is not None and second.pk != first_invoice.pk
    Invoice.objects.filter(pk=second.pk).update(status=InvoiceStatus.VOID)
    refused = download(signed_in(therapist_x), client_a, invoice=str(second.pk))
    assert refused.status_code == 400
    assert "Choose an issued invoice of this client." in refused.content.decode()
    # Another client's invoice is not found through client_a.
    other = Invoice.objects.exclude(client=client_a).get()
    assert download(signed_in(therapist_x), client_a, invoice=str(other.pk)).status_code == 404


def test_money_follows_the_currency_minor_units(
    practice: BillingSettings, provider: ProviderDetails, client_a: User, therapist_x: User
) -> None:
    practice.currency = "JPY"
    practice.save()
    line = billing_line(
        client_a, therapist_x, fee=12000, currency="JPY", status=LineStatus.CONFIRMED
    )
    services.lock_lines([line], actor=therapist_x)
    response = download(signed_in(therapist_x), client_a, **MARCH)
    flat = " ".join(pdf_text(response.content).split())
    assert "Total charges 12,000 JPY" in flat
    assert "Balance due 12,000 JPY" in flat


# --- Who may have it -----------------------------------------------------------------------------


@pytest.mark.parametrize("persona", ["client_a", "therapist_x", "admin", "billing_staff"])
def test_the_client_their_therapist_and_the_office_download_it(
    march: dict[str, Any], client_a: User, persona: str, request: pytest.FixtureRequest
) -> None:
    user: User = request.getfixturevalue(persona)
    response = download(signed_in(user), client_a, **MARCH)
    assert response.status_code == 200
    assert response.content.startswith(b"%PDF")
    events = downloads_of(client_a)
    assert len(events) == 1
    event = events[0]
    assert event.actor_id == user.pk
    assert event.detail["lines"] == [
        march["first"].pk,
        march["second"].pk,
        march["rebill"].pk,
    ]
    assert event.detail["via"] == {"client_a": "self", "therapist_x": "care"}.get(persona, "office")
    assert (event.detail["start"], event.detail["end"]) == (MARCH["start"], MARCH["end"])


@pytest.mark.parametrize("persona", ["client_b", "therapist_y"])
def test_anyone_else_gets_404_and_nothing_is_recorded(
    march: dict[str, Any], client_a: User, persona: str, request: pytest.FixtureRequest
) -> None:
    user: User = request.getfixturevalue(persona)
    assert download(signed_in(user), client_a, **MARCH).status_code == 404
    assert download(signed_in(user), client_a).status_code == 404
    assert downloads_of(client_a) == []


def test_a_therapist_whose_care_ended_gets_404(
    march: dict[str, Any], client_a: User, therapist_x: User
) -> None:
    CareRelationship.objects.filter(therapist=therapist_x, client=client_a).update(
        status=CareRelationship.Status.ENDED, ended_at=timezone.now()
    )
    assert download(signed_in(therapist_x), client_a, **MARCH).status_code == 404
    assert downloads_of(client_a) == []


def test_the_client_portal_lists_their_months_only(
    march: dict[str, Any], client_a: User, client_b: User
) -> None:
    page = signed_in(client_a).get(reverse("my_superbills"))
    assert page.status_code == 200
    html = page.content.decode()
    assert "Superbill for March 2026 (PDF)" in html
    assert f"{reverse('my_superbills')}?start=2026-03-01&amp;end=2026-03-31" in html
    home = signed_in(client_a).get(reverse("home")).content.decode()
    assert reverse("my_superbills") in home
    # client_b's own page lists their own March (their 90791) and downloads only theirs.
    response = signed_in(client_b).get(reverse("my_superbills"), MARCH)
    assert response.status_code == 400  # therapist_y has no provider details yet
    assert "the NPI of Yuri Therapist" in response.content.decode()
    assert downloads_of(client_a) == []


def test_a_client_downloads_from_the_portal(march: dict[str, Any], client_a: User) -> None:
    response = signed_in(client_a).get(reverse("my_superbills"), MARCH)
    assert response.status_code == 200
    assert "Alice Client" in pdf_text(response.content)
    assert [e.detail["via"] for e in downloads_of(client_a)] == ["self"]


def test_staff_reach_it_from_the_clients_billing(
    march: dict[str, Any], client_a: User, therapist_x: User
) -> None:
    page = signed_in(therapist_x).get(reverse("client_billing", args=[client_a.pk]))
    assert reverse("client_superbill", args=[client_a.pk]) in page.content.decode()
    assert signed_in(therapist_x).get(reverse("my_superbills")).status_code == 403


# --- Refusals and bad input ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ({"start": "2026-13-01", "end": "2026-03-31"}, "Enter a valid date."),
        ({"start": "yesterday", "end": "2026-03-31"}, "Enter a valid date."),
        ({"start": "2026-03-31", "end": "2026-03-01"}, "must be on or before the last day"),
        (
            {"start": "2025-03-01", "end": "2026-03-02"},
            "A superbill covers at most 366 days; this range has 367.",
        ),
        ({"start": "2026-03-01"}, "Enter the last day of the period."),
        ({"end": "2026-03-01", "start": ""}, "Enter the first day of the period."),
        ({"start": "0001-01-01", "end": "0001-02-01"}, "Enter a date from"),
        ({"invoice": "abc"}, "Enter a whole number."),
        (
            {"start": "2026-01-01", "end": "2026-01-31"},
            "No billed services in this period",
        ),
        (
            {"start": "2026-03-16", "end": "2026-03-20"},  # proposed and confirmed only
            "No billed services in this period",
        ),
    ],
)
def test_bad_input_is_refused_clearly(
    march: dict[str, Any], client_a: User, therapist_x: User, query: dict[str, str], message: str
) -> None:
    response = download(signed_in(therapist_x), client_a, **query)
    assert response.status_code == 400
    assert response["Content-Type"].startswith("text/html")
    assert message in response.content.decode().replace("&#x27;", "'")
    assert downloads_of(client_a) == []


def test_a_full_leap_year_is_allowed(march: dict[str, Any], client_a: User) -> None:
    bill = superbill.build_superbill(client_a, start=date(2025, 3, 31), end=date(2026, 3, 31))
    assert len(bill.rows) == 3


def test_missing_details_are_named_with_links_for_the_office(
    march: dict[str, Any],
    client_a: User,
    therapist_x: User,
    admin: User,
    practice: BillingSettings,
    provider: ProviderDetails,
) -> None:
    practice.tax_id = ""
    practice.phone = ""
    practice.save()
    provider.npi = ""
    provider.save()
    response = download(signed_in(admin), client_a, **MARCH)
    assert response.status_code == 400
    html = response.content.decode().replace("&#x27;", "'")
    assert "the practice phone" in html
    assert "the practice tax id (EIN)" in html
    assert "the NPI of Xena Therapist" in html
    assert "the practice address" not in html
    assert reverse("billing_settings") in html
    assert reverse("provider_details", args=[therapist_x.pk]) in html
    # A therapist and the client are told what is missing, without the office's links.
    for user in (therapist_x, client_a):
        html = download(signed_in(user), client_a, **MARCH).content.decode()
        assert "the NPI of Xena Therapist" in html
        assert reverse("provider_details", args=[therapist_x.pk]) not in html
    assert downloads_of(client_a) == []


def test_only_get(march: dict[str, Any], client_a: User) -> None:
    url = reverse("client_superbill", args=[client_a.pk])
    assert signed_in(client_a).post(url, MARCH).status_code == 405
    assert signed_in(client_a).post(reverse("my_superbills"), MARCH).status_code == 405
    assert downloads_of(client_a) == []


def test_every_rendering_provider_is_named_and_signs(
    march: dict[str, Any], client_a: User, therapist_y: User, admin: User
) -> None:
    ProviderDetails.objects.create(
        therapist=therapist_y,
        npi="1987654328",
        credentials="PsyD",
        licence_number="PSY-889",
        licence_state="NH",
    )
    crisis = billing_line(
        client_a,
        therapist_y,
        date_of_service=date(2026, 3, 12),
        cpt_code="90839",
        add_ons=[{"code": "90840", "units": 2}],
        diagnosis_codes=["F43.10"],
        fee=20000,
        status=LineStatus.CONFIRMED,
    )
    invoice(client_a, [crisis], admin)
    response = download(signed_in(admin), client_a, **MARCH)
    assert response.status_code == 200
    flat = " ".join(pdf_text(response.content).split())
    assert f"Xena Therapist, LCSW · NPI {NPI} · Licence LC-20417 (ME)" in flat
    assert "Yuri Therapist, PsyD · NPI 1987654328 · Licence PSY-889 (NH)" in flat
    assert "C F43.10 Post-traumatic stress disorder, unspecified" in flat
    assert re.search(
        r"03/12/2026 90839 .*?Yuri Therapist 90840 \(2 units\) 95 10 C 1 200\.00 USD 0\.00 USD",
        flat,
    )
    assert "Total charges 710.00 USD" in flat
    assert "Balance due 610.00 USD" in flat
    assert "Signature of Xena Therapist, LCSW" in flat
    assert "Signature of Yuri Therapist, PsyD" in flat
