"""The ledger's pages: issuing, payments, write-offs and voiding through the forms (and bad
input on each), statements, the office's overview and CSV exports, and the client's portal."""

from __future__ import annotations

import csv
import datetime as dt
import io
from typing import Any

import pytest
import time_machine
from django.urls import reverse

from rapport.accounts.models import User
from rapport.audit.models import AuditEvent
from rapport.audit.services import Action
from rapport.billing import ledger
from rapport.billing.models import (
    BillingLine,
    Invoice,
    InvoiceStatus,
    LineStatus,
    Payment,
    PaymentMethod,
    Refund,
    WriteOff,
)
from tests.billing_data import billing_line
from tests.conftest import make_user, signed_in

TODAY = dt.datetime(2026, 4, 15, 12, 0, tzinfo=dt.UTC)


@pytest.fixture(autouse=True)
def _april() -> Any:
    with time_machine.travel(TODAY, tick=False):
        yield


@pytest.fixture
def office(db: None) -> User:
    return make_user("billing@example.test", "billing", "Bea Billing")


def confirmed(client: User, therapist: User, fee: int = 15000, **fields: Any) -> BillingLine:
    return billing_line(client, therapist, status=LineStatus.CONFIRMED, fee=fee, **fields)


def march_invoice(client: User, therapist: User, office: User, fee: int = 15000) -> Invoice:
    confirmed(client, therapist, fee)
    return ledger.issue_monthly_invoice(
        client, dt.date(2026, 3, 1), dt.date(2026, 3, 31), actor=office
    )


def snapshot() -> tuple[Any, ...]:
    return (
        list(Invoice.objects.values_list("pk", "status", "total", "settled")),
        list(Payment.objects.values_list("pk", "amount", "allocated", "refunded")),
        WriteOff.objects.count() + Refund.objects.count(),
        list(BillingLine.objects.values_list("pk", "status")),
    )


def test_the_office_issues_a_monthly_invoice_and_bad_input_changes_nothing(
    therapist_x: User, client_a: User, office: User
) -> None:
    line = confirmed(client_a, therapist_x)
    browser = signed_in(office)
    url = reverse("issue_invoice", args=[client_a.pk])
    assert browser.get(url).status_code == 200
    before = snapshot()
    for data, error in [
        ({"kind": "monthly"}, "Enter the month to invoice."),
        ({"kind": "monthly", "month": "2026-13"}, "Enter a month like 2026-03."),
        ({"kind": "monthly", "month": "March"}, "Enter a month like 2026-03."),
        ({"kind": "session"}, "Choose the session to invoice."),
        ({"kind": "session", "session": "visit:99999"}, "Select a valid choice"),
        ({"kind": "yearly", "month": "2026-03"}, "Select a valid choice"),
        ({"kind": "monthly", "month": "2026-02"}, "There are no confirmed lines to invoice."),
    ]:
        response = browser.post(url, data)
        assert response.status_code == 400, data
        assert error in response.content.decode(), data
    assert snapshot() == before
    response = browser.post(url, {"kind": "monthly", "month": "2026-03"})
    invoice = Invoice.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("invoice", args=[invoice.pk])
    assert invoice.number == "INV-2026-00001"
    line.refresh_from_db()
    assert line.status == LineStatus.BILLED
    page = browser.get(response["Location"]).content.decode()
    assert "INV-2026-00001" in page and "150.00 USD" in page


def test_a_per_session_invoice_from_the_form(
    therapist_x: User, client_a: User, office: User
) -> None:
    fee = confirmed(client_a, therapist_x, 4000, item="no_show", cpt_code="", place_of_service="")
    confirmed(client_a, therapist_x)
    response = signed_in(office).post(
        reverse("issue_invoice", args=[client_a.pk]),
        {"kind": "session", "session": f"line:{fee.pk}"},
    )
    assert response.status_code == 302
    assert Invoice.objects.get().total == 4000


def test_recording_a_payment_and_bad_input(
    therapist_x: User, client_a: User, therapist_y: User, client_b: User, office: User
) -> None:
    invoice = march_invoice(client_a, therapist_x, office)
    theirs = march_invoice(client_b, therapist_y, office)
    browser = signed_in(office)
    url = reverse("record_payment", args=[client_a.pk])
    good = {"received_on": "2026-04-10", "amount": "100.00", "method": "cash"}
    before = snapshot()
    for change, error in [
        ({"amount": ""}, "This field is required."),
        ({"amount": "0"}, "Enter an amount more than zero."),
        ({"amount": "-5"}, "Enter an amount like"),
        ({"amount": "ten"}, "Enter an amount like"),
        ({"amount": "1.234"}, "Enter an amount like"),
        ({"amount": "10000001"}, "Enter at most"),
        ({"method": "bitcoin"}, "Select a valid choice"),
        ({"method": ""}, "This field is required."),
        ({"received_on": "2026-02-30"}, "Enter a valid date."),
        ({"received_on": "2027-01-01"}, "This date is in the future."),
        ({"invoice": str(theirs.pk)}, "Select a valid choice"),
        ({"payer": "x" * 121}, "Ensure this value has at most 120 characters"),
    ]:
        response = browser.post(url, {**good, **change})
        assert response.status_code == 400, change
        assert error in response.content.decode(), change
    assert snapshot() == before
    response = browser.post(
        url, {**good, "amount": "200.00", "method": "insurance", "payer": "Acme Health"}
    )
    assert response.status_code == 302
    payment = Payment.objects.get()
    assert (payment.amount, payment.allocated, payment.payer) == (20000, 15000, "Acme Health")
    invoice.refresh_from_db()
    assert invoice.outstanding == 0
    page = browser.get(reverse("client_ledger", args=[client_a.pk])).content.decode()
    assert "In credit: 50.00 USD" in page
    assert AuditEvent.objects.filter(action=Action.PAYMENT_RECORDED, object_id=str(payment.pk))


def test_a_payment_kept_as_credit_from_the_form(
    therapist_x: User, client_a: User, office: User
) -> None:
    march_invoice(client_a, therapist_x, office)
    response = signed_in(office).post(
        reverse("record_payment", args=[client_a.pk]),
        {"received_on": "2026-04-10", "amount": "5", "method": "card", "invoice": "none"},
    )
    assert response.status_code == 302
    assert Payment.objects.get().allocated == 0
    assert ledger.client_balance(client_a) == 15000 - 500


def test_refunding_credit_from_the_form_and_bad_input(
    therapist_x: User, client_a: User, office: User
) -> None:
    march_invoice(client_a, therapist_x, office)
    browser = signed_in(office)
    ledger_url = reverse("client_ledger", args=[client_a.pk])
    assert (
        reverse("record_refund", args=[client_a.pk]) not in browser.get(ledger_url).content.decode()
    )
    browser.post(
        reverse("record_payment", args=[client_a.pk]),
        {"received_on": "2026-04-10", "amount": "200.00", "method": "card"},
    )
    url = reverse("record_refund", args=[client_a.pk])
    assert url in browser.get(ledger_url).content.decode()  # in credit: the button shows
    assert "The client's credit: 50.00 USD" in browser.get(url).content.decode()
    good = {
        "refunded_on": "2026-04-12",
        "amount": "30.00",
        "method": "transfer",
        "reference": "TR-7",
    }
    before = snapshot()
    for change, error in [
        ({"amount": "50.01"}, "The client&#x27;s credit is 50.00 USD: a refund cannot be more."),
        ({"amount": "0"}, "Enter an amount more than zero."),
        ({"amount": "ten"}, "Enter an amount like"),
        ({"method": "insurance"}, "Select a valid choice"),
        ({"refunded_on": "2027-01-01"}, "This date is in the future."),
    ]:
        response = browser.post(url, {**good, **change})
        assert response.status_code == 400, change
        page = response.content.decode()
        assert error in page, change
        assert 'value="TR-7"' in page  # what was typed is kept
    assert snapshot() == before
    assert browser.post(url, good).status_code == 302
    made = Refund.objects.get()
    assert (made.amount, made.method, made.reference) == (3000, "transfer", "TR-7")
    page = browser.get(ledger_url).content.decode()
    assert "In credit: 20.00 USD" in page and f'id="refund-{made.pk}"' in page
    statement = browser.get(
        reverse("client_statement", args=[client_a.pk]),
        {"start": "2026-04-01", "end": "2026-04-30"},
    ).content.decode()
    assert "Refunded to the client" in statement


def test_a_write_off_and_bad_input(therapist_x: User, client_a: User, office: User) -> None:
    invoice = march_invoice(client_a, therapist_x, office)
    browser = signed_in(office)
    url = reverse("write_off", args=[invoice.pk])
    assert browser.get(url).status_code == 200
    good = {"amount": "20.00", "written_off_on": "2026-04-10", "reason": "Hardship"}
    before = snapshot()
    for change, error in [
        ({"amount": "150.01"}, "Only 150.00 USD is still owed on this invoice."),
        ({"amount": "0"}, "Enter an amount more than zero."),
        ({"reason": "   "}, "This field is required."),
        ({"reason": "x" * 501}, "Ensure this value has at most 500 characters"),
        ({"written_off_on": "tomorrow"}, "Enter a valid date."),
    ]:
        response = browser.post(url, {**good, **change})
        assert response.status_code == 400, change
        assert error in response.content.decode(), change
    assert snapshot() == before
    assert browser.post(url, good).status_code == 302
    invoice.refresh_from_db()
    assert invoice.outstanding == 13000
    assert WriteOff.objects.get().reason == "Hardship"


def test_voiding_from_the_form_and_bad_input(
    therapist_x: User, client_a: User, office: User
) -> None:
    invoice = march_invoice(client_a, therapist_x, office)
    browser = signed_in(office)
    url = reverse("void_invoice", args=[invoice.pk])
    before = snapshot()
    response = browser.post(url, {"reason": "  "})
    assert response.status_code == 400
    assert "This field is required." in response.content.decode()
    assert snapshot() == before
    assert browser.post(url, {"reason": "Wrong client"}).status_code == 302
    invoice.refresh_from_db()
    assert invoice.status == InvoiceStatus.VOID
    # A second void says why it cannot.
    response = browser.post(url, {"reason": "Again"})
    assert response.status_code == 400
    assert "Only an issued invoice can be voided." in response.content.decode()


def test_a_therapist_reads_the_ledger_but_does_not_change_it(
    therapist_x: User, client_a: User, office: User
) -> None:
    invoice = march_invoice(client_a, therapist_x, office)
    browser = signed_in(therapist_x)
    page = browser.get(reverse("client_ledger", args=[client_a.pk])).content.decode()
    assert "INV-2026-00001" in page
    assert reverse("record_payment", args=[client_a.pk]) not in page
    assert browser.get(reverse("invoice", args=[invoice.pk])).status_code == 200
    assert (
        browser.post(reverse("void_invoice", args=[invoice.pk]), {"reason": "x"}).status_code == 403
    )
    assert AuditEvent.objects.filter(
        action=Action.BILLING_VIEWED, actor=therapist_x, object_id=str(invoice.pk)
    ).exists()


def test_the_statement_page_and_bad_periods(
    therapist_x: User, client_a: User, office: User
) -> None:
    march_invoice(client_a, therapist_x, office, fee=10001)
    ledger.record_payment(
        client_a,
        ledger.PaymentValues(
            received_on=dt.date(2026, 4, 3), amount=3333, method=PaymentMethod.CASH
        ),
        actor=office,
    )
    browser = signed_in(office)
    url = reverse("client_statement", args=[client_a.pk])
    for query, error in [
        ({"start": "2026-04-30", "end": "2026-04-01"}, "The period must end on or after"),
        ({"start": "yesterday"}, "Enter a valid date."),
        ({"start": "1990-01-01", "end": "2026-04-01"}, "at most ten years"),
    ]:
        response = browser.get(url, query)
        assert response.status_code == 400, query
        assert error in response.content.decode(), query
    page = browser.get(url, {"start": "2026-04-01", "end": "2026-04-30"}).content.decode()
    assert 'id="charges">100.01 USD' in page
    assert 'id="payments">33.33 USD' in page
    assert 'id="closing"><strong>66.68 USD' in page
    assert browser.get(url).status_code == 200  # this month so far


def test_a_client_sees_only_their_own_billing(
    therapist_x: User,
    client_a: User,
    therapist_y: User,
    client_b: User,
    office: User,
) -> None:
    mine = march_invoice(client_a, therapist_x, office)
    theirs = march_invoice(client_b, therapist_y, office, fee=7777)
    alice = signed_in(client_a)
    page = alice.get(reverse("my_billing")).content.decode()
    assert reverse("my_billing") in page  # the navigation's Billing link
    assert str(mine.number) in page and "You owe 150.00 USD" in page
    assert "77.77" not in page
    own = alice.get(reverse("my_invoice", args=[mine.pk]))
    assert own.status_code == 200
    assert "150.00 USD" in own.content.decode()
    assert alice.get(reverse("my_invoice", args=[theirs.pk])).status_code == 404
    assert alice.get(reverse("my_invoice", args=[999999])).status_code == 404
    assert signed_in(client_b).get(reverse("my_invoice", args=[mine.pk])).status_code == 404
    statement = alice.get(reverse("my_statement"), {"start": "2026-04-01", "end": "2026-04-30"})
    assert 'id="closing"><strong>150.00 USD' in statement.content.decode()
    assert alice.get(reverse("my_statement"), {"start": "x"}).status_code == 400
    assert AuditEvent.objects.filter(
        action=Action.BILLING_VIEWED, actor=client_a, object_id=str(mine.pk)
    ).exists()


def test_the_overview_ages_unpaid_invoices(
    therapist_x: User, client_a: User, office: User, admin: User
) -> None:
    made = []
    for days in (0, 30, 31, 60, 61, 90, 91, 400):
        line = confirmed(client_a, therapist_x, 100 + days)
        made.append(
            ledger.issue_session_invoice(
                client_a,
                line_id=line.pk,
                actor=office,
                issued_on=dt.date(2026, 4, 15) - dt.timedelta(days=days),
            )
        )
    paid = confirmed(client_a, therapist_x, 5)
    paid_invoice = ledger.issue_session_invoice(client_a, line_id=paid.pk, actor=office)
    ledger.record_payment(
        client_a,
        ledger.PaymentValues(received_on=dt.date(2026, 4, 15), amount=5, method="cash"),
        actor=office,
        invoice_ids=[paid_invoice.pk],
    )
    aging = ledger.aging(dt.date(2026, 4, 15))
    assert [[i.pk for i in b.invoices] for b in aging.buckets] == [
        [made[1].pk, made[0].pk],
        [made[3].pk, made[2].pk],
        [made[5].pk, made[4].pk],
        [made[7].pk, made[6].pk],
    ]
    assert [b.owed for b in aging.buckets] == [100 + 130, 131 + 160, 161 + 190, 191 + 500]
    page = signed_in(admin).get(reverse("billing_overview")).content.decode()
    assert "More than 90 days" in page and "6.91 USD" in page


def rows_of(response: Any) -> list[list[str]]:
    body = b"".join(response.streaming_content).decode()
    return list(csv.reader(io.StringIO(body)))


def test_csv_exports_are_safe_for_spreadsheets(
    therapist_x: User, client_a: User, office: User
) -> None:
    client_a.full_name = '=HYPERLINK("http://evil.test")'
    client_a.save(update_fields=["full_name"])
    line = confirmed(client_a, therapist_x, 15000)
    invoice = ledger.issue_monthly_invoice(
        client_a, dt.date(2026, 3, 1), dt.date(2026, 3, 31), actor=office
    )
    line.refresh_from_db()
    from rapport.billing.services import correct_line

    correct_line(line, None, actor=office)
    ledger.issue_monthly_invoice(client_a, dt.date(2026, 3, 1), dt.date(2026, 3, 31), actor=office)
    ledger.record_payment(
        client_a,
        ledger.PaymentValues(
            received_on=dt.date(2026, 3, 20),
            amount=1234,
            method="insurance",
            payer="@SUM(A1:A9)",
            reference="+1-800",
        ),
        actor=office,
        invoice_ids=[invoice.pk],
    )
    browser = signed_in(office)
    lines = rows_of(
        browser.get(reverse("export_billing_lines"), {"start": "2026-03-01", "end": "2026-03-31"})
    )
    header, charge, credit = lines
    assert header[:3] == ["date_of_service", "client_id", "client"]
    assert charge[2] == '\'=HYPERLINK("http://evil.test")'
    assert (charge[12], charge[13], charge[16]) == ("15000", "150.00", "INV-2026-00001")
    assert (credit[12], credit[13], credit[16]) == ("-15000", "-150.00", "INV-2026-00002")
    ledger.record_payment(
        client_a,
        ledger.PaymentValues(received_on=dt.date(2026, 3, 21), amount=500, method="cash"),
        actor=office,
        allocate=False,
    )
    ledger.refund(
        client_a,
        ledger.RefundValues(
            refunded_on=dt.date(2026, 3, 22), amount=200, method="cash", reference="=1+1"
        ),
        actor=office,
    )
    payments = rows_of(
        browser.get(reverse("export_payments"), {"start": "2026-03-01", "end": "2026-03-31"})
    )
    [_header, payment, _credit, refund] = payments
    assert (payment[5], payment[6]) == ("'@SUM(A1:A9)", "'+1-800")
    assert payment[7:9] == ["1234", "12.34"]
    assert payment[12] == "INV-2026-00001:12.34"
    assert (refund[0], refund[1], refund[6]) == ("2026-03-22", "refund", "'=1+1")
    assert refund[7:9] == ["200", "2.00"]
    assert AuditEvent.objects.filter(action=Action.BILLING_EXPORTED).count() == 2
    response = browser.get(reverse("export_payments"), {"start": "2026-04-01", "end": "2026-03-01"})
    assert response.status_code == 400
    assert "The period must end on or after its first day." in response.content.decode()


def test_the_ledger_page_has_a_fixed_number_of_queries(
    therapist_x: User, client_a: User, office: User, django_assert_max_num_queries: Any
) -> None:
    for month in (1, 2, 3):
        confirmed(client_a, therapist_x, date_of_service=dt.date(2026, month, 2))
        invoice = ledger.issue_monthly_invoice(
            client_a, dt.date(2026, month, 1), dt.date(2026, month, 28), actor=office
        )
        ledger.record_payment(
            client_a,
            ledger.PaymentValues(received_on=dt.date(2026, 4, 1), amount=100, method="cash"),
            actor=office,
            invoice_ids=[invoice.pk],
        )
        ledger.write_off(invoice, amount=1, reason="r", actor=office)
    browser = signed_in(office)
    url = reverse("client_ledger", args=[client_a.pk])
    browser.get(url)
    with django_assert_max_num_queries(30):
        assert browser.get(url).status_code == 200
