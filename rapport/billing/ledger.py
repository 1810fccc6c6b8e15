"""The money side of billing: invoices, payments recorded by hand, write-offs, balances and
statements. Every amount is an integer count of the currency's minor units, never a float.

- ``issue_monthly_invoice`` / ``issue_session_invoice`` put a client's confirmed (so not yet
  invoiced) lines of a period, or of one session, on a new invoice, lock them
  (``services.lock_lines``) and take the next practice-wide number (INV-2026-00042) under a row
  lock, so two issuers never share one.
- ``void_invoice`` withdraws an invoice nothing is paid or written off on. Its lines stay billed
  and locked (the database refuses to unlock them): voiding credits each of its charges and
  proposes the same charge again, confirmed (``services.correct_line``), so the service can go on
  the next invoice; the credits go on the void invoice itself, never on another. An invoice that
  carries a credit (a correction of an earlier invoice) cannot be voided: correct further instead.
- ``record_payment`` records money received and allocates it to the client's open invoices,
  oldest first unless told which; what is left stays the client's credit.
- ``write_off`` forgives part of one invoice, with a reason.
- ``refund`` pays back part or all of the client's credit (the unallocated part of their
  payments, newest payment first).

Balances: a client owes the totals of their issued invoices, less their payments and write-offs,
plus what was refunded to them (a negative balance is the client's credit). A line reaches the
balance only through an issued invoice; confirmed lines not invoiced yet are shown as unbilled.

Each write runs in one transaction, locks the rows whose running sums it changes
(``Invoice.settled``, ``Payment.allocated`` and ``refunded``; the database refuses either
passing its limit) and audits.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date

from django.db import IntegrityError, transaction
from django.db.models import F, Q, QuerySet, Sum
from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext as _

from rapport.accounts.models import User
from rapport.audit.services import Action, record
from rapport.billing import notices, services
from rapport.billing.models import (
    Allocation,
    BillingLine,
    BillingSettings,
    Invoice,
    InvoiceCounter,
    InvoiceKind,
    InvoiceLine,
    InvoiceStatus,
    LineKind,
    LineStatus,
    Payment,
    Refund,
    RefundPart,
    WriteOff,
)
from rapport.billing.services import BillingError
from rapport.lib.money import format_amount

# --- Paid per line (the superbill's "amount paid") -----------------------------------------------


def split_exactly(total: int, weights: Sequence[int]) -> list[int]:
    """``total`` split in proportion to ``weights`` (non-negative), in whole minor units that sum
    exactly to ``total``: each share rounded down, the units left over going one each to the
    largest remainders (ties to the earlier weight). All-zero weights get nothing."""
    if total < 0 or any(w < 0 for w in weights):
        raise ValueError("split_exactly takes non-negative amounts")
    whole = sum(weights)
    if whole == 0 or total == 0:
        return [0] * len(weights)
    shares = [total * w // whole for w in weights]
    remainders = [total * w % whole for w in weights]
    left = total - sum(shares)
    for index in sorted(range(len(weights)), key=lambda i: (-remainders[i], i))[:left]:
        shares[index] += 1
    return shares


def paid_for_lines(lines: Iterable[BillingLine | int]) -> dict[int, int]:
    """What payments allocated to their invoices paid of each line, by line id (0 when nothing).

    An invoice's allocations are spread over its charges in proportion to their amounts, largest
    remainder first, so the lines of one invoice add up exactly to what was allocated to it (a
    credit line is paid nothing; an invoice's allocations never pass its total, so no charge is
    paid more than its amount). Write-offs are not payments. Lines on no live invoice get 0."""
    ids = [line if isinstance(line, int) else line.pk for line in lines]
    paid = dict.fromkeys(ids, 0)
    if not ids:
        return paid
    invoices = set(
        InvoiceLine.objects.filter(
            line_id__in=ids, live=True, invoice__status=InvoiceStatus.ISSUED
        ).values_list("invoice_id", flat=True)
    )
    if not invoices:
        return paid
    allocated = dict(
        Allocation.objects.filter(invoice_id__in=invoices)
        .values_list("invoice_id")
        .annotate(total=Sum("amount"))
        .values_list("invoice_id", "total")
    )
    entries: dict[int, list[tuple[int, int]]] = defaultdict(list)
    for invoice_id, line_id, amount in (
        InvoiceLine.objects.filter(invoice_id__in=invoices, live=True)
        .order_by("invoice_id", "line_id")
        .values_list("invoice_id", "line_id", "amount")
    ):
        entries[invoice_id].append((line_id, amount))
    for invoice_id, rows in entries.items():
        shares = split_exactly(
            allocated.get(invoice_id) or 0, [max(amount, 0) for _line, amount in rows]
        )
        for (line_id, _amount), share in zip(rows, shares, strict=True):
            if line_id in paid:
                paid[line_id] = share
    return paid


# --- Invoices ------------------------------------------------------------------------------------


def invoice_number(year: int) -> str:
    """The next number of ``year`` (INV-2026-00042), inside the caller's transaction: the year's
    counter row stays locked until it commits, so concurrent issuers wait their turn."""
    if not InvoiceCounter.objects.filter(year=year).exists():
        try:
            with transaction.atomic():
                InvoiceCounter.objects.create(year=year)
        except IntegrityError:
            pass  # another issuer created it first
    counter = InvoiceCounter.objects.select_for_update().get(year=year)
    counter.last += 1
    counter.save(update_fields=["last"])
    return f"INV-{year}-{counter.last:05d}"


def invoiceable_lines(
    client: User,
    start: date | None = None,
    end: date | None = None,
    *,
    visit_id: int | None = None,
    line_id: int | None = None,
) -> QuerySet[BillingLine]:
    """A client's confirmed lines: of the period (dates of service from ``start`` to ``end``),
    of one session (``visit_id``: its charges and their corrections) or one line (a missed
    session's fee). Confirmed lines are never on an invoice yet: invoicing bills them."""
    lines = BillingLine.objects.filter(client=client, status=LineStatus.CONFIRMED)
    if start is not None:
        lines = lines.filter(date_of_service__gte=start)
    if end is not None:
        lines = lines.filter(date_of_service__lte=end)
    if visit_id is not None:
        lines = lines.filter(Q(visit_id=visit_id) | Q(corrects__visit_id=visit_id))
    if line_id is not None:
        lines = lines.filter(pk=line_id)
    return lines.order_by("date_of_service", "pk")


def issue_monthly_invoice(
    client: User,
    start: date,
    end: date,
    *,
    actor: User,
    issued_on: date | None = None,
    request: HttpRequest | None = None,
) -> Invoice:
    """Invoice the client's confirmed lines with dates of service from ``start`` to ``end``."""
    if start > end:
        raise BillingError(_("The period must start on or before its last day."))
    return _issue(
        client,
        InvoiceKind.MONTHLY,
        invoiceable_lines(client, start, end),
        period=(start, end),
        actor=actor,
        issued_on=issued_on,
        request=request,
    )


def issue_session_invoice(
    client: User,
    *,
    visit_id: int | None = None,
    line_id: int | None = None,
    actor: User,
    issued_on: date | None = None,
    request: HttpRequest | None = None,
) -> Invoice:
    """Invoice one session's confirmed lines (``visit_id``), or one fee line (``line_id``: a
    missed session)."""
    if (visit_id is None) == (line_id is None):
        raise BillingError(_("Choose the session to invoice."))
    return _issue(
        client,
        InvoiceKind.PER_SESSION,
        invoiceable_lines(client, visit_id=visit_id, line_id=line_id),
        period=None,
        actor=actor,
        issued_on=issued_on,
        request=request,
    )


def _issue(
    client: User,
    kind: str,
    candidates: QuerySet[BillingLine],
    *,
    period: tuple[date, date] | None,
    actor: User,
    issued_on: date | None,
    request: HttpRequest | None,
) -> Invoice:
    """Lock ``candidates``, bill them and number their invoice. ``BillingError`` when there is
    nothing to invoice or a line is not in the practice currency; nothing changes then."""
    currency = BillingSettings.get().currency
    now = timezone.now()
    issued_on = issued_on or timezone.localdate(now)
    with transaction.atomic():
        # Lock the lines first: a second issuer of the same lines waits here, then finds none.
        lines = list(candidates.select_for_update(of=("self",)))
        if not lines:
            raise BillingError(_("There are no confirmed lines to invoice."))
        start, end = period or (
            min(line.date_of_service for line in lines),
            max(line.date_of_service for line in lines),
        )
        if any(line.currency != currency for line in lines):
            raise BillingError(
                _("Some lines are not in the practice currency (%(currency)s).")
                % {"currency": currency}
            )
        locked = services.lock_lines(lines, actor=actor, request=request)
        invoice = Invoice.objects.create(
            client=client,
            number=invoice_number(issued_on.year),
            kind=kind,
            period_start=start,
            period_end=end,
            currency=currency,
            total=sum(line.amount for line in locked),
            status=InvoiceStatus.ISSUED,
            issued_on=issued_on,
            issued_by=actor,
            issued_at=now,
        )
        InvoiceLine.objects.bulk_create(
            InvoiceLine(invoice=invoice, line=line, amount=line.amount) for line in locked
        )
        record(
            Action.INVOICE_ISSUED,
            actor=actor,
            request=request,
            obj=invoice,
            client=client,
            number=invoice.number,
            lines=[line.pk for line in locked],
            total=invoice.total,
        )
        # Applying the client's unallocated credit to the new invoice happens on request only
        # (record_payment / allocate_credit): the office decides.
        notices.invoice_issued(invoice)
    return invoice


def void_invoice(
    invoice: Invoice, *, reason: str, actor: User, request: HttpRequest | None = None
) -> Invoice:
    """Withdraw an issued invoice nothing is paid or written off on (see the module's notes)."""
    reason = reason.strip()
    if not reason:
        raise BillingError(_("Say why the invoice is void."))
    with transaction.atomic():
        row = Invoice.objects.select_for_update().get(pk=invoice.pk)
        if row.status != InvoiceStatus.ISSUED:
            raise BillingError(_("Only an issued invoice can be voided."))
        if row.settled or row.allocations.exists() or row.write_offs.exists():
            raise BillingError(
                _("Payments or write-offs are on this invoice: move them before voiding it.")
            )
        entries = list(row.entries.select_related("line").filter(live=True))
        if any(entry.line.kind == LineKind.CREDIT for entry in entries):
            raise BillingError(
                _("This invoice carries a correction of an earlier one and cannot be voided.")
            )
        credits = []
        for entry in entries:
            line = entry.line
            values = services.LineValues(
                cpt_code=line.cpt_code,
                add_ons=line.add_ons,
                modifiers=line.modifier_list,
                place_of_service=line.place_of_service,
                diagnosis_codes=line.diagnosis_codes,
                units=line.units,
                fee=line.fee,
            )
            credit, _rebill = services.correct_line(line, values, actor=actor, request=request)
            credits.append(credit)
        InvoiceLine.objects.filter(invoice=row).update(live=False)
        locked = services.lock_lines(credits, actor=actor, request=request)
        InvoiceLine.objects.bulk_create(
            InvoiceLine(invoice=row, line=credit, amount=credit.amount, live=False)
            for credit in locked
        )
        row.status = InvoiceStatus.VOID
        row.voided_by = actor
        row.voided_at = timezone.now()
        row.void_reason = reason
        row.save(update_fields=["status", "voided_by", "voided_at", "void_reason"])
        record(
            Action.INVOICE_VOIDED,
            actor=actor,
            request=request,
            obj=row,
            client=row.client,
            number=row.number,
            credits=[c.pk for c in locked],
        )
    return row


# --- Payments and write-offs ---------------------------------------------------------------------


def open_invoices(client: User) -> QuerySet[Invoice]:
    """The client's issued invoices with something still owed, oldest first."""
    return (
        Invoice.objects.filter(client=client, status=InvoiceStatus.ISSUED, total__gt=0)
        .exclude(settled__gte=F("total"))
        .order_by("issued_on", "pk")
    )


def _allocate(
    payment: Payment,
    amount: int,
    invoices: Sequence[Invoice],
    *,
    actor: User,
) -> list[Allocation]:
    """Allocate up to ``amount`` of ``payment`` (locked) to ``invoices`` (locked) in order."""
    made = []
    for invoice in invoices:
        if amount <= 0:
            break
        share = min(amount, invoice.total - invoice.settled)
        if share <= 0:
            continue
        made.append(
            Allocation.objects.create(
                payment=payment, invoice=invoice, amount=share, created_by=actor
            )
        )
        invoice.settled += share
        invoice.save(update_fields=["settled"])
        payment.allocated += share
        amount -= share
    payment.save(update_fields=["allocated"])
    return made


def _locked_open_invoices(client: User, invoice_ids: Sequence[int] | None) -> list[Invoice]:
    rows = Invoice.objects.select_for_update().filter(
        client=client, status=InvoiceStatus.ISSUED, total__gt=0
    )
    if invoice_ids is None:
        return list(rows.order_by("issued_on", "pk"))
    by_id = {row.pk: row for row in rows.filter(pk__in=invoice_ids)}
    missing = [pk for pk in invoice_ids if pk not in by_id]
    if missing:
        raise BillingError(_("Choose invoices of this client that are issued and not void."))
    return [by_id[pk] for pk in invoice_ids]


@dataclass(frozen=True)
class PaymentValues:
    received_on: date
    amount: int
    method: str
    payer: str = ""
    reference: str = ""


def record_payment(
    client: User,
    values: PaymentValues,
    *,
    actor: User,
    invoice_ids: Sequence[int] | None = None,
    allocate: bool = True,
    request: HttpRequest | None = None,
) -> Payment:
    """Record money received for ``client`` and allocate it: to ``invoice_ids`` in that order,
    else to the client's open invoices oldest first (``allocate=False``: none). What is left
    stays unallocated, the client's credit."""
    if values.amount <= 0:
        raise BillingError(_("A payment is more than zero."))
    with transaction.atomic():
        payment = Payment.objects.create(
            client=client,
            received_on=values.received_on,
            amount=values.amount,
            currency=BillingSettings.get().currency,
            method=values.method,
            payer=values.payer.strip(),
            reference=values.reference.strip(),
            recorded_by=actor,
        )
        made: list[Allocation] = []
        if allocate:
            invoices = _locked_open_invoices(client, invoice_ids)
            made = _allocate(payment, payment.amount, invoices, actor=actor)
        record(
            Action.PAYMENT_RECORDED,
            actor=actor,
            request=request,
            obj=payment,
            client=client,
            amount=payment.amount,
            method=payment.method,
            allocations=[[a.invoice_id, a.amount] for a in made],
        )
    return payment


def allocate_credit(
    client: User,
    *,
    actor: User,
    invoice_ids: Sequence[int] | None = None,
    request: HttpRequest | None = None,
) -> list[Allocation]:
    """Apply the client's unallocated payments (oldest first) to their open invoices."""
    with transaction.atomic():
        payments = list(
            Payment.objects.select_for_update().filter(client=client).order_by("received_on", "pk")
        )
        invoices = _locked_open_invoices(client, invoice_ids)
        made: list[Allocation] = []
        for payment in payments:
            if payment.unallocated:
                made += _allocate(payment, payment.unallocated, invoices, actor=actor)
        if made:
            record(
                Action.PAYMENT_ALLOCATED,
                actor=actor,
                request=request,
                client=client,
                allocations=[[a.payment_id, a.invoice_id, a.amount] for a in made],
            )
    return made


def write_off(
    invoice: Invoice,
    *,
    amount: int,
    reason: str,
    actor: User,
    on: date | None = None,
    request: HttpRequest | None = None,
) -> WriteOff:
    """Forgive ``amount`` of what is still owed on ``invoice``."""
    reason = reason.strip()
    if not reason:
        raise BillingError(_("Say why the amount is written off."))
    if amount <= 0:
        raise BillingError(_("A write-off is more than zero."))
    with transaction.atomic():
        row = Invoice.objects.select_for_update().get(pk=invoice.pk)
        if row.status != InvoiceStatus.ISSUED:
            raise BillingError(_("Only an issued invoice can be written off."))
        owed = row.total - row.settled
        if amount > owed:
            raise BillingError(
                _("Only %(owed)s is still owed on this invoice.")
                % {"owed": f"{format_amount(max(owed, 0), row.currency)} {row.currency}"}
            )
        entry = WriteOff.objects.create(
            client_id=row.client_id,
            invoice=row,
            written_off_on=on or timezone.localdate(),
            amount=amount,
            reason=reason,
            recorded_by=actor,
        )
        row.settled += amount
        row.save(update_fields=["settled"])
        record(
            Action.WRITE_OFF_RECORDED,
            actor=actor,
            request=request,
            obj=entry,
            client=row.client,
            invoice=row.pk,
            amount=amount,
        )
    return entry


def credit_of(client: User) -> int:
    """The client's credit: what their payments hold neither allocated nor refunded."""
    return sum(p.unallocated for p in Payment.objects.filter(client=client))


@dataclass(frozen=True)
class RefundValues:
    refunded_on: date
    amount: int
    method: str
    reference: str = ""


def refund(
    client: User,
    values: RefundValues,
    *,
    actor: User,
    request: HttpRequest | None = None,
) -> Refund:
    """Pay back ``values.amount`` of the client's credit, taken from their payments' unallocated
    parts, the newest payment first. More than the credit is refused."""
    if values.amount <= 0:
        raise BillingError(_("A refund is more than zero."))
    with transaction.atomic():
        payments = list(
            Payment.objects.select_for_update()
            .filter(client=client)
            .order_by("-received_on", "-pk")
        )
        credit = sum(p.unallocated for p in payments)
        if values.amount > credit:
            currency = BillingSettings.get().currency
            raise BillingError(
                _("The client's credit is %(credit)s: a refund cannot be more.")
                % {"credit": f"{format_amount(credit, currency)} {currency}"}
            )
        row = Refund.objects.create(
            client=client,
            refunded_on=values.refunded_on,
            amount=values.amount,
            currency=BillingSettings.get().currency,
            method=values.method,
            reference=values.reference.strip(),
            recorded_by=actor,
        )
        left = values.amount
        parts = []
        for payment in payments:
            share = min(left, payment.unallocated)
            if share <= 0:
                continue
            parts.append(RefundPart(refund=row, payment=payment, amount=share))
            payment.refunded += share
            payment.save(update_fields=["refunded"])
            left -= share
            if left == 0:
                break
        RefundPart.objects.bulk_create(parts)
        record(
            Action.REFUND_RECORDED,
            actor=actor,
            request=request,
            obj=row,
            client=client,
            amount=row.amount,
            method=row.method,
            payments=[[part.payment.pk, part.amount] for part in parts],
        )
    return row


# --- Balances and statements ---------------------------------------------------------------------


def _sum(rows: QuerySet, name: str = "amount") -> int:  # type: ignore[type-arg]
    return int(rows.aggregate(total=Sum(name))["total"] or 0)


def client_balance(client: User, *, until: date | None = None) -> int:
    """What the client owes (negative: their credit): issued invoices less payments and
    write-offs, plus refunds, up to and including ``until`` when given."""
    invoices = Invoice.objects.filter(client=client, status=InvoiceStatus.ISSUED)
    payments = Payment.objects.filter(client=client)
    write_offs = WriteOff.objects.filter(client=client)
    refunds = Refund.objects.filter(client=client)
    if until is not None:
        invoices = invoices.filter(issued_on__lte=until)
        payments = payments.filter(received_on__lte=until)
        write_offs = write_offs.filter(written_off_on__lte=until)
        refunds = refunds.filter(refunded_on__lte=until)
    return _sum(invoices, "total") - _sum(payments) - _sum(write_offs) + _sum(refunds)


def invoice_balance(invoice: Invoice) -> int:
    """What is still owed on one invoice, summed from its rows (equal to ``outstanding``)."""
    if invoice.status != InvoiceStatus.ISSUED:
        return 0
    return invoice.total - _sum(invoice.allocations.all()) - _sum(invoice.write_offs.all())


@dataclass
class Statement:
    """A client's account over a period, in minor units. ``closing`` equals ``opening +
    charges - credits - payments - write_offs + refunds`` exactly."""

    client: User
    start: date
    end: date
    currency: str
    opening: int
    charges: int
    credits: int
    payments: int
    write_offs: int
    refunds: int = 0
    invoices: list[Invoice] = field(default_factory=list)
    payment_rows: list[Payment] = field(default_factory=list)
    write_off_rows: list[WriteOff] = field(default_factory=list)
    refund_rows: list[Refund] = field(default_factory=list)

    @property
    def closing(self) -> int:
        return (
            self.opening
            + self.charges
            - self.credits
            - self.payments
            - self.write_offs
            + self.refunds
        )


def statement(client: User, start: date, end: date) -> Statement:
    """The client's statement from ``start`` to ``end`` (inclusive): the balance the day
    before, the charges and credits of the invoices issued in the period, the payments
    received, the write-offs made and the refunds paid in it."""
    if start > end:
        raise BillingError(_("The period must start on or before its last day."))
    invoices = list(
        Invoice.objects.filter(
            client=client,
            status=InvoiceStatus.ISSUED,
            issued_on__gte=start,
            issued_on__lte=end,
        ).order_by("issued_on", "pk")
    )
    entries = InvoiceLine.objects.filter(invoice__in=invoices, live=True)
    payments = list(
        Payment.objects.filter(client=client, received_on__gte=start, received_on__lte=end)
    )
    write_offs = list(
        WriteOff.objects.filter(
            client=client, written_off_on__gte=start, written_off_on__lte=end
        ).select_related("invoice")
    )
    refunds = list(
        Refund.objects.filter(client=client, refunded_on__gte=start, refunded_on__lte=end)
    )
    opening = client_balance(client, until=start.fromordinal(start.toordinal() - 1))
    return Statement(
        client=client,
        start=start,
        end=end,
        currency=BillingSettings.get().currency,
        opening=opening,
        charges=_sum(entries.filter(amount__gt=0)),
        credits=-_sum(entries.filter(amount__lt=0)),
        payments=sum(p.amount for p in payments),
        write_offs=sum(w.amount for w in write_offs),
        refunds=sum(r.amount for r in refunds),
        invoices=invoices,
        payment_rows=payments,
        write_off_rows=write_offs,
        refund_rows=refunds,
    )


# --- The practice's unpaid invoices --------------------------------------------------------------

AGING_BUCKETS = [(0, 30), (31, 60), (61, 90), (91, None)]


@dataclass
class AgingBucket:
    low: int
    high: int | None
    invoices: list[Invoice] = field(default_factory=list)

    @property
    def owed(self) -> int:
        return sum(invoice.outstanding for invoice in self.invoices)


@dataclass
class Aging:
    on: date
    buckets: list[AgingBucket]

    @property
    def owed(self) -> int:
        return sum(bucket.owed for bucket in self.buckets)


def aging(on: date) -> Aging:
    """Every issued invoice with something owed, by days since it was issued on ``on``:
    0-30, 31-60, 61-90, more than 90; oldest first in each."""
    buckets = [AgingBucket(low, high) for low, high in AGING_BUCKETS]
    unpaid = (
        Invoice.objects.filter(status=InvoiceStatus.ISSUED, total__gt=F("settled"))
        .select_related("client")
        .order_by("issued_on", "pk")
    )
    for invoice in unpaid:
        days = (on - invoice.issued_on).days if invoice.issued_on else 0
        for bucket in buckets:
            if days <= (bucket.high if bucket.high is not None else days):
                bucket.invoices.append(invoice)
                break
    return Aging(on=on, buckets=buckets)
