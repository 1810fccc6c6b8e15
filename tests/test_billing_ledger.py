"""The ledger: invoices, payments, write-offs, balances and statements, exact in minor units."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import pytest
import time_machine
from django.db import IntegrityError, transaction
from django.db.models import Model

from rapport.accounts.models import User
from rapport.audit.models import AuditEvent
from rapport.audit.services import Action
from rapport.billing import ledger, notices
from rapport.billing.ledger import split_exactly
from rapport.billing.models import (
    Allocation,
    BillingLine,
    Invoice,
    InvoiceLine,
    InvoiceStatus,
    LineKind,
    LineStatus,
    Payment,
    PaymentMethod,
    Refund,
    RefundPart,
)
from rapport.billing.services import BillingError, correct_line
from rapport.core.models import EmailDelivery
from tests.billing_data import billing_line
from tests.conftest import make_user
from tests.mail import Inbox


@pytest.mark.parametrize(
    ("total", "weights", "shares"),
    [
        (100, [1, 1, 1], [34, 33, 33]),
        (200, [1, 1, 1], [67, 67, 66]),
        (100, [15000, 15000, 15000], [34, 33, 33]),
        (1, [3, 3, 3], [1, 0, 0]),
        (2, [1, 2], [1, 1]),
        (10, [1, 2], [3, 7]),
        (99, [12345, 6789, 1], [64, 35, 0]),
        (0, [5, 5], [0, 0]),
        (7, [0, 0], [0, 0]),
        (15000, [15000, 0], [15000, 0]),
        (100, [1, 0, 1], [50, 0, 50]),
    ],
)
def test_split_exactly_sums_to_the_total(total: int, weights: list[int], shares: list[int]) -> None:
    got = split_exactly(total, weights)
    assert got == shares
    if any(weights):
        assert sum(got) == total


def test_split_exactly_refuses_negative_amounts() -> None:
    with pytest.raises(ValueError, match="non-negative"):
        split_exactly(-1, [1])


# --- Services against the database ---------------------------------------------------------------

MARCH = (dt.date(2026, 3, 1), dt.date(2026, 3, 31))


@pytest.fixture(autouse=True)
def _mid_april() -> Iterator[None]:
    """Invoices are issued "today" unless a test says otherwise: today is in April 2026."""
    with time_machine.travel(dt.datetime(2026, 4, 15, 12, tzinfo=dt.UTC)):
        yield


@pytest.fixture
def office(db: None) -> User:
    return make_user("billing@example.test", "billing", "Bea Billing")


def confirmed(client: User, therapist: User, fee: int = 15000, **fields: Any) -> BillingLine:
    return billing_line(client, therapist, status=LineStatus.CONFIRMED, fee=fee, **fields)


def monthly(
    client: User, office: User, period: tuple[dt.date, dt.date] = MARCH, **kw: Any
) -> Invoice:
    return ledger.issue_monthly_invoice(client, *period, actor=office, **kw)


def pay(client: User, office: User, amount: int, **kw: Any) -> Payment:
    values = ledger.PaymentValues(
        received_on=kw.pop("on", dt.date(2026, 4, 2)), amount=amount, method=PaymentMethod.CASH
    )
    return ledger.record_payment(client, values, actor=office, **kw)


def test_a_monthly_invoice_takes_the_months_confirmed_lines_and_locks_them(
    therapist_x: User, client_a: User, office: User
) -> None:
    march = [confirmed(client_a, therapist_x, 15000), confirmed(client_a, therapist_x, 12345)]
    april = confirmed(client_a, therapist_x, date_of_service=dt.date(2026, 4, 1))
    proposed = billing_line(client_a, therapist_x)  # not confirmed: not invoiced
    invoice = monthly(client_a, office, issued_on=dt.date(2026, 4, 1))
    assert invoice.number == "INV-2026-00001"
    assert invoice.status == InvoiceStatus.ISSUED
    assert invoice.total == 27345
    assert invoice.currency == "USD"
    assert (invoice.period_start, invoice.period_end) == MARCH
    assert sorted(invoice.entries.values_list("line_id", flat=True)) == [m.pk for m in march]
    for line in march:
        line.refresh_from_db()
        assert line.status == LineStatus.BILLED
    april.refresh_from_db()
    proposed.refresh_from_db()
    assert (april.status, proposed.status) == (LineStatus.CONFIRMED, LineStatus.PROPOSED)
    assert AuditEvent.objects.filter(action=Action.INVOICE_ISSUED, object_id=str(invoice.pk))
    # Nothing left in March: nothing changes, no number is used up.
    with pytest.raises(BillingError, match="no confirmed lines"):
        monthly(client_a, office)
    nxt = monthly(client_a, office, period=(dt.date(2026, 4, 1), dt.date(2026, 4, 30)))
    assert nxt.number == "INV-2026-00002"
    assert ledger.client_balance(client_a) == 27345 + 15000


def test_numbers_run_per_year_across_clients(
    therapist_x: User, client_a: User, therapist_y: User, client_b: User, office: User
) -> None:
    confirmed(client_a, therapist_x)
    confirmed(client_b, therapist_y)
    confirmed(client_a, therapist_x, date_of_service=dt.date(2026, 12, 30))
    first = monthly(client_a, office, issued_on=dt.date(2026, 4, 1))
    second = monthly(client_b, office, issued_on=dt.date(2026, 4, 1))
    third = monthly(
        client_a,
        office,
        period=(dt.date(2026, 12, 1), dt.date(2026, 12, 31)),
        issued_on=dt.date(2027, 1, 2),
    )
    assert [first.number, second.number, third.number] == [
        "INV-2026-00001",
        "INV-2026-00002",
        "INV-2027-00001",
    ]


def test_a_per_session_invoice_takes_that_sessions_lines(
    therapist_x: User, client_a: User, office: User
) -> None:
    fee = confirmed(client_a, therapist_x, 5000, item="no_show", cpt_code="", place_of_service="")
    other = confirmed(client_a, therapist_x)
    invoice = ledger.issue_session_invoice(client_a, line_id=fee.pk, actor=office)
    assert invoice.kind == "session"
    assert invoice.total == 5000
    assert list(invoice.entries.values_list("line_id", flat=True)) == [fee.pk]
    other.refresh_from_db()
    assert other.status == LineStatus.CONFIRMED
    with pytest.raises(BillingError):
        ledger.issue_session_invoice(client_a, actor=office)


def test_a_line_is_on_one_live_invoice_only_the_database_says_so(
    therapist_x: User, client_a: User, office: User
) -> None:
    confirmed(client_a, therapist_x)
    invoice = monthly(client_a, office)
    entry = invoice.entries.get()
    other = Invoice.objects.create(
        client=client_a, period_start=MARCH[0], period_end=MARCH[1], currency="USD"
    )
    with pytest.raises(IntegrityError), transaction.atomic():
        InvoiceLine.objects.create(invoice=other, line=entry.line, amount=entry.amount)


def test_payments_go_to_the_oldest_open_invoice_first_and_the_rest_is_credit(
    therapist_x: User, client_a: User, office: User
) -> None:
    confirmed(client_a, therapist_x, 10000)
    old = monthly(client_a, office, issued_on=dt.date(2026, 4, 1))
    confirmed(client_a, therapist_x, 5000, date_of_service=dt.date(2026, 4, 3))
    new = monthly(client_a, office, period=(dt.date(2026, 4, 1), dt.date(2026, 4, 30)))
    first = pay(client_a, office, 12000)
    assert list(first.allocations.values_list("invoice_id", "amount")) == [
        (old.pk, 10000),
        (new.pk, 2000),
    ]
    assert ledger.client_balance(client_a) == 3000
    old.refresh_from_db()
    new.refresh_from_db()
    assert (old.outstanding, new.outstanding) == (0, 3000)
    assert ledger.invoice_balance(new) == 3000
    second = pay(client_a, office, 5000)
    assert (second.allocated, second.unallocated) == (3000, 2000)
    assert ledger.client_balance(client_a) == -2000  # in credit
    # A new invoice: the credit is applied when the office says so.
    confirmed(client_a, therapist_x, 1500, date_of_service=dt.date(2026, 5, 3))
    may = monthly(client_a, office, period=(dt.date(2026, 5, 1), dt.date(2026, 5, 31)))
    made = ledger.allocate_credit(client_a, actor=office)
    assert [(a.payment_id, a.invoice_id, a.amount) for a in made] == [(second.pk, may.pk, 1500)]
    assert ledger.client_balance(client_a) == -500
    # Sums of rows and running sums agree.
    for payment in Payment.objects.all():
        assert payment.allocated == sum(a.amount for a in payment.allocations.all())
    for invoice in Invoice.objects.all():
        assert ledger.invoice_balance(invoice) == invoice.outstanding


def test_a_payment_to_a_chosen_invoice_and_one_kept_as_credit(
    therapist_x: User, client_a: User, client_b: User, therapist_y: User, office: User
) -> None:
    confirmed(client_a, therapist_x, 10000)
    old = monthly(client_a, office)
    confirmed(client_a, therapist_x, 5000, date_of_service=dt.date(2026, 4, 3))
    new = monthly(client_a, office, period=(dt.date(2026, 4, 1), dt.date(2026, 4, 30)))
    chosen = pay(client_a, office, 6000, invoice_ids=[new.pk])
    assert list(chosen.allocations.values_list("invoice_id", "amount")) == [(new.pk, 5000)]
    assert chosen.unallocated == 1000
    kept = pay(client_a, office, 700, allocate=False)
    assert kept.allocated == 0
    old.refresh_from_db()
    assert old.outstanding == 10000
    # Another client's invoice is refused, and nothing is recorded.
    confirmed(client_b, therapist_y)
    theirs = monthly(client_b, office)
    before = Payment.objects.count()
    with pytest.raises(BillingError, match="Choose invoices of this client"):
        pay(client_a, office, 100, invoice_ids=[theirs.pk])
    assert Payment.objects.count() == before


def test_the_database_refuses_bad_sums(therapist_x: User, client_a: User, office: User) -> None:
    confirmed(client_a, therapist_x, 1000)
    invoice = monthly(client_a, office)
    payment = pay(client_a, office, 600)
    with pytest.raises(IntegrityError), transaction.atomic():
        Payment.objects.filter(pk=payment.pk).update(allocated=601)
    with pytest.raises(IntegrityError), transaction.atomic():
        Invoice.objects.filter(pk=invoice.pk).update(settled=1001)
    with pytest.raises(IntegrityError), transaction.atomic():
        Payment.objects.filter(pk=payment.pk).update(amount=0, allocated=0)
    with pytest.raises(IntegrityError), transaction.atomic():
        Allocation.objects.create(payment=payment, invoice=invoice, amount=0, created_by=office)
    with pytest.raises(BillingError, match="more than zero"):
        pay(client_a, office, 0)


def test_a_write_off_forgives_what_is_owed_and_no_more(
    therapist_x: User, client_a: User, office: User
) -> None:
    confirmed(client_a, therapist_x, 10000)
    invoice = monthly(client_a, office)
    pay(client_a, office, 7001)
    with pytest.raises(BillingError, match=r"Only 29\.99 USD is still owed"):
        ledger.write_off(invoice, amount=3000, reason="Hardship", actor=office)
    with pytest.raises(BillingError, match="Say why"):
        ledger.write_off(invoice, amount=100, reason="  ", actor=office)
    with pytest.raises(BillingError, match="more than zero"):
        ledger.write_off(invoice, amount=0, reason="Hardship", actor=office)
    entry = ledger.write_off(invoice, amount=2999, reason="Hardship", actor=office)
    invoice.refresh_from_db()
    assert (invoice.settled, invoice.outstanding, ledger.client_balance(client_a)) == (10000, 0, 0)
    assert AuditEvent.objects.filter(action=Action.WRITE_OFF_RECORDED, object_id=str(entry.pk))
    assert "Hardship" not in str(list(AuditEvent.objects.values_list("detail", flat=True)))


def test_voiding_credits_and_recharges_the_lines_for_the_next_invoice(
    therapist_x: User, client_a: User, office: User
) -> None:
    line = confirmed(client_a, therapist_x, 15000)
    invoice = monthly(client_a, office)
    payment = pay(client_a, office, 100)
    with pytest.raises(BillingError, match="Payments or write-offs"):
        ledger.void_invoice(invoice, reason="Wrong month", actor=office)
    Allocation.objects.filter(payment=payment).delete()  # (undo the allocation by hand)
    Payment.objects.filter(pk=payment.pk).update(allocated=0)
    Invoice.objects.filter(pk=invoice.pk).update(settled=0)
    with pytest.raises(BillingError, match="Say why"):
        ledger.void_invoice(invoice, reason=" ", actor=office)
    ledger.void_invoice(invoice, reason="Wrong month", actor=office)
    invoice.refresh_from_db()
    assert invoice.status == InvoiceStatus.VOID
    assert invoice.void_reason == "Wrong month"
    credit = BillingLine.objects.get(corrects=line, kind=LineKind.CREDIT)
    rebill = BillingLine.objects.get(corrects=line, kind=LineKind.CHARGE)
    assert credit.status == LineStatus.BILLED  # absorbed by the void invoice, never invoiced again
    assert rebill.status == LineStatus.CONFIRMED
    assert ledger.client_balance(client_a) == -100  # the payment stays; the invoice is gone
    again = monthly(client_a, office)
    assert list(again.entries.values_list("line_id", flat=True)) == [rebill.pk]
    assert again.total == 15000
    assert ledger.client_balance(client_a) == 14900
    with pytest.raises(BillingError, match="Only an issued invoice"):
        ledger.void_invoice(invoice, reason="Twice", actor=office)


def test_an_invoice_carrying_a_correction_cannot_be_voided(
    therapist_x: User, client_a: User, office: User
) -> None:
    line = confirmed(client_a, therapist_x, 15000)
    first = monthly(client_a, office)
    line.refresh_from_db()
    correct_line(line, None, actor=office)  # a credit, confirmed, for the next invoice
    credit_note = monthly(client_a, office)
    assert credit_note.total == -15000
    assert ledger.client_balance(client_a) == 0
    with pytest.raises(BillingError, match="correction of an earlier one"):
        ledger.void_invoice(credit_note, reason="No", actor=office)
    assert first.number != credit_note.number


def test_paid_for_lines_spreads_an_invoices_payments_exactly(
    therapist_x: User, client_a: User, office: User
) -> None:
    lines = [confirmed(client_a, therapist_x, 1000) for _ in range(3)]
    monthly(client_a, office)
    assert ledger.paid_for_lines(lines) == {line.pk: 0 for line in lines}
    pay(client_a, office, 100)
    assert list(ledger.paid_for_lines(lines).values()) == [34, 33, 33]
    pay(client_a, office, 100)
    assert list(ledger.paid_for_lines(lines).values()) == [67, 67, 66]
    pay(client_a, office, 2800)
    assert list(ledger.paid_for_lines(lines).values()) == [1000, 1000, 1000]
    # By id too; unknown and uninvoiced lines are 0.
    loose = confirmed(client_a, therapist_x, 999)
    assert ledger.paid_for_lines([lines[0].pk, loose.pk]) == {lines[0].pk: 1000, loose.pk: 0}
    assert ledger.paid_for_lines([]) == {}


def test_paid_for_lines_with_unequal_fees_a_credit_and_two_invoices(
    therapist_x: User, client_a: User, office: User
) -> None:
    a = confirmed(client_a, therapist_x, 12345)
    b = confirmed(client_a, therapist_x, 6789)
    c = confirmed(client_a, therapist_x, 1)
    monthly(client_a, office)
    b.refresh_from_db()
    credit, _rebill = correct_line(b, None, actor=office)
    d = confirmed(client_a, therapist_x, 3333, date_of_service=dt.date(2026, 4, 1))
    second = monthly(client_a, office, period=(dt.date(2026, 3, 1), dt.date(2026, 4, 30)))
    assert second.total == 3333 - 6789 < 0  # a credit note: nothing can be paid on it
    pay(client_a, office, 99)
    paid = ledger.paid_for_lines([a, b, c, credit, d])
    assert [paid[x.pk] for x in (a, b, c)] == [64, 35, 0]
    assert paid[credit.pk] == 0
    assert paid[d.pk] == 0
    assert sum(paid.values()) == 99


def test_a_statement_adds_up_exactly(therapist_x: User, client_a: User, office: User) -> None:
    confirmed(client_a, therapist_x, 10001)
    monthly(client_a, office, issued_on=dt.date(2026, 3, 31))
    pay(client_a, office, 3333, on=dt.date(2026, 3, 31))
    line = confirmed(client_a, therapist_x, 20002, date_of_service=dt.date(2026, 4, 2))
    april = monthly(
        client_a,
        office,
        period=(dt.date(2026, 4, 1), dt.date(2026, 4, 30)),
        issued_on=dt.date(2026, 4, 30),
    )
    line.refresh_from_db()
    correct_line(line, None, actor=office)
    ledger.issue_monthly_invoice(
        client_a,
        dt.date(2026, 4, 1),
        dt.date(2026, 4, 30),
        actor=office,
        issued_on=dt.date(2026, 4, 30),
    )
    pay(client_a, office, 1, on=dt.date(2026, 4, 15))
    ledger.write_off(april, amount=7, reason="Rounding", actor=office, on=dt.date(2026, 4, 20))
    pay(client_a, office, 5, on=dt.date(2026, 5, 1))
    april_statement = ledger.statement(client_a, dt.date(2026, 4, 1), dt.date(2026, 4, 30))
    assert april_statement.opening == 10001 - 3333
    assert (april_statement.charges, april_statement.credits) == (20002, 20002)
    assert (april_statement.payments, april_statement.write_offs) == (1, 7)
    assert april_statement.closing == 10001 - 3333 - 1 - 7
    assert april_statement.closing == ledger.client_balance(client_a, until=dt.date(2026, 4, 30))
    everything = ledger.statement(client_a, dt.date(2026, 1, 1), dt.date(2026, 12, 31))
    assert everything.opening == 0
    assert everything.closing == ledger.client_balance(client_a) == 10001 - 3333 - 1 - 7 - 5
    with pytest.raises(BillingError):
        ledger.statement(client_a, dt.date(2026, 5, 1), dt.date(2026, 4, 1))


def test_issuing_emails_the_client_once_and_says_nothing(
    therapist_x: User,
    client_a: User,
    office: User,
    smtp: Inbox,
    django_capture_on_commit_callbacks: Any,
) -> None:
    confirmed(client_a, therapist_x, 15000)
    with django_capture_on_commit_callbacks(execute=True):
        invoice = monthly(client_a, office)
    [mail] = smtp.take()
    assert mail["To"] == client_a.email
    assert mail["Subject"] == "A new statement is ready in Rapport"
    body = mail.get_content()
    for secret in (invoice.number or "", "150.00", "15000", "90834", "Xena"):
        assert secret not in body
    assert "/my/billing/" in body
    # Decided once: a second decision about the same invoice records nothing.
    with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
        assert notices.invoice_issued(invoice) is False
    assert smtp.count() == 0
    assert EmailDelivery.objects.filter(key=f"invoice-issued:{invoice.pk}").count() == 1


@pytest.mark.django_db(transaction=True)
def refund(client: User, office: User, amount: int, on: dt.date = dt.date(2026, 4, 10)) -> Refund:
    values = ledger.RefundValues(refunded_on=on, amount=amount, method=PaymentMethod.BANK_TRANSFER)
    return ledger.refund(client, values, actor=office)


def test_a_refund_pays_back_credit_newest_payment_first_and_no_more(
    therapist_x: User, client_a: User, client_b: User, office: User
) -> None:
    confirmed(client_a, therapist_x, 10000)
    monthly(client_a, office)
    older = pay(client_a, office, 12000, on=dt.date(2026, 4, 2))  # 2000 left as credit
    newer = pay(client_a, office, 500, on=dt.date(2026, 4, 5), allocate=False)
    assert ledger.credit_of(client_a) == 2500
    assert ledger.client_balance(client_a) == -2500

    with pytest.raises(BillingError, match=r"credit is 25\.00 USD"):
        refund(client_a, office, 2501)
    with pytest.raises(BillingError, match="more than zero"):
        refund(client_a, office, 0)
    with pytest.raises(BillingError, match=r"credit is 0\.00 USD"):
        refund(client_b, office, 1)  # another client's credit is not this one's
    assert not Refund.objects.exists()

    made = refund(client_a, office, 1200)
    parts = list(made.parts.order_by("pk").values_list("payment_id", "amount"))
    assert parts == [(newer.pk, 500), (older.pk, 700)]
    older.refresh_from_db()
    newer.refresh_from_db()
    assert (older.unallocated, newer.unallocated) == (1300, 0)
    assert ledger.credit_of(client_a) == 1300
    assert ledger.client_balance(client_a) == -1300
    # The running sums agree with the rows, and the database refuses to pay back more.
    for payment in Payment.objects.all():
        assert payment.refunded == sum(p.amount for p in payment.refund_parts.all())
    with pytest.raises(IntegrityError), transaction.atomic():
        Payment.objects.filter(pk=newer.pk).update(refunded=501)
    with pytest.raises(IntegrityError), transaction.atomic():
        Payment.objects.filter(pk=older.pk).update(refunded=2001)  # more than its credit
    event = AuditEvent.objects.get(action=Action.REFUND_RECORDED)
    assert event.client_id == client_a.pk
    assert event.detail["payments"] == [[newer.pk, 500], [older.pk, 700]]
    # Refunded credit can no longer pay an invoice.
    confirmed(client_a, therapist_x, 5000, date_of_service=dt.date(2026, 4, 3))
    april = monthly(client_a, office, period=(dt.date(2026, 4, 1), dt.date(2026, 4, 30)))
    ledger.allocate_credit(client_a, actor=office)
    april.refresh_from_db()
    assert april.outstanding == 5000 - 1300


def test_a_statement_counts_refunds_and_still_adds_up(
    therapist_x: User, client_a: User, office: User
) -> None:
    confirmed(client_a, therapist_x, 1000)
    monthly(client_a, office, issued_on=dt.date(2026, 3, 31))
    pay(client_a, office, 1500, on=dt.date(2026, 4, 2))
    refund(client_a, office, 400, on=dt.date(2026, 4, 10))
    refund(client_a, office, 100, on=dt.date(2026, 5, 2))
    april = ledger.statement(client_a, dt.date(2026, 4, 1), dt.date(2026, 4, 30))
    assert (april.opening, april.payments, april.refunds) == (1000, 1500, 400)
    assert [r.amount for r in april.refund_rows] == [400]
    assert april.closing == 1000 - 1500 + 400 == -100
    assert april.closing == ledger.client_balance(client_a, until=dt.date(2026, 4, 30))
    assert ledger.client_balance(client_a) == 0


def test_erasure_removes_the_clients_ledger(therapist_x: User, client_a: User) -> None:
    from rapport.billing.models import InvoiceCounter, WriteOff
    from rapport.records.erasure import destroy, gather

    office = make_user("billing.erase@example.test", "billing", "Bea Billing")
    confirmed(client_a, therapist_x, 10000)
    invoice = monthly(client_a, office)
    pay(client_a, office, 4000)
    ledger.write_off(invoice, amount=1000, reason="Hardship", actor=office)
    pay(client_a, office, 300, allocate=False)
    refund(client_a, office, 200)
    ledger_models: set[type[Model]] = {Invoice, InvoiceLine, Payment, Allocation, WriteOff}
    ledger_models |= {BillingLine, Refund, RefundPart}
    plan = gather(client_a)
    assert ledger_models <= set(plan.rows)
    destroy(plan, "erased-client")
    for model in ledger_models:
        assert not model._default_manager.exists(), model
    # The practice's numbering goes on: a number once used is never given again.
    assert InvoiceCounter.objects.get(year=2026).last == 1
