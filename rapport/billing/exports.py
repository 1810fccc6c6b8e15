"""CSV exports for the practice's accountant: the billing lines and the payments (and
write-offs) of a period, streamed row by row.

Every text cell is made safe for spreadsheets: a cell starting with ``=``, ``+``, ``-``, ``@``,
a tab or a carriage return gets a leading ``'`` so no spreadsheet runs it as a formula (names and
references are typed by people). Amounts are numbers Rapport wrote itself and are left as they
are: integer minor units, and the same as a decimal."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from datetime import date
from typing import Any

from rapport.billing.models import (
    Allocation,
    BillingLine,
    InvoiceLine,
    InvoiceStatus,
    LineStatus,
    Payment,
    Refund,
    WriteOff,
)
from rapport.lib.money import format_amount

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


class Number(str):
    """A number Rapport wrote itself (an id, an amount): written as it is, never escaped."""


def number(value: int) -> Number:
    return Number(str(int(value)))


def amount(minor: int, currency: str) -> Number:
    """Minor units as a plain decimal ("-150.00"), no thousands separator."""
    return Number(format_amount(minor, currency).replace(",", ""))


def safe_cell(value: Any) -> str:
    """A CSV cell no spreadsheet reads as a formula."""
    if isinstance(value, Number):
        return str(value)
    text = "" if value is None else str(value)
    return f"'{text}" if text.startswith(FORMULA_STARTS) else text


class _Echo:
    def write(self, value: str) -> str:
        return value


def _rows(header: list[str], body: Iterator[list[Any]]) -> Iterator[str]:
    writer = csv.writer(_Echo())
    yield writer.writerow(header)
    for row in body:
        yield writer.writerow([safe_cell(cell) for cell in row])


LINE_HEADER = [
    "date_of_service",
    "client_id",
    "client",
    "therapist",
    "item",
    "kind",
    "code",
    "add_ons",
    "modifiers",
    "place_of_service",
    "units",
    "fee_minor",
    "amount_minor",
    "amount",
    "currency",
    "status",
    "invoice",
    "line_id",
    "corrects_line_id",
]


def line_rows(start: date, end: date) -> Iterator[str]:
    """Billed lines with dates of service in the period, with their live invoice's number.
    (Diagnoses stay out: the accountant needs the money, not the clinical facts.)"""
    lines = (
        BillingLine.objects.filter(
            status=LineStatus.BILLED, date_of_service__gte=start, date_of_service__lte=end
        )
        .select_related("client", "therapist")
        .order_by("date_of_service", "pk")
    )
    numbers: dict[int, str] = {}
    # A live invoice's number wins over a void one's.
    for line_id, invoice_number in (
        InvoiceLine.objects.filter(line__in=lines)
        .exclude(invoice__status=InvoiceStatus.DRAFT)
        .order_by("live", "pk")
        .values_list("line_id", "invoice__number")
    ):
        numbers[line_id] = invoice_number or ""

    def body() -> Iterator[list[Any]]:
        for line in lines.iterator(chunk_size=500):
            yield [
                line.date_of_service.isoformat(),
                number(line.client_id),
                line.client.full_name,
                line.therapist.full_name,
                line.item,
                line.kind,
                line.cpt_code,
                " ".join(f"{a['code']}x{a['units']}" for a in line.add_ons),
                line.modifiers,
                line.place_of_service,
                number(line.units),
                number(line.fee),
                number(line.amount),
                amount(line.amount, line.currency),
                line.currency,
                line.status,
                numbers.get(line.pk, ""),
                number(line.pk),
                number(line.corrects_id) if line.corrects_id else "",
            ]

    return _rows(LINE_HEADER, body())


PAYMENT_HEADER = [
    "date",
    "type",
    "client_id",
    "client",
    "method",
    "paid_by",
    "reference",
    "amount_minor",
    "amount",
    "allocated_minor",
    "unallocated_minor",
    "currency",
    "invoices",
    "recorded_by",
    "id",
]


def payment_rows(start: date, end: date) -> Iterator[str]:
    """Payments received, write-offs made and refunds paid in the period, by date. A payment's
    invoices are "INV-2026-00001:150.00" pairs; a write-off names its invoice (its reason stays
    out)."""
    payments = list(
        Payment.objects.filter(received_on__gte=start, received_on__lte=end)
        .select_related("client", "recorded_by")
        .order_by("received_on", "pk")
    )
    allocations: dict[int, list[str]] = {}
    for allocation in (
        Allocation.objects.filter(payment__in=payments).select_related("invoice").order_by("pk")
    ):
        allocations.setdefault(allocation.payment_id, []).append(
            f"{allocation.invoice.number}:{amount(allocation.amount, allocation.invoice.currency)}"
        )
    write_offs = list(
        WriteOff.objects.filter(written_off_on__gte=start, written_off_on__lte=end)
        .select_related("client", "invoice", "recorded_by")
        .order_by("written_off_on", "pk")
    )
    rows: list[tuple[date, int, list[Any]]] = []
    for p in payments:
        rows.append(
            (
                p.received_on,
                0,
                [
                    p.received_on.isoformat(),
                    "payment",
                    number(p.client_id),
                    p.client.full_name,
                    p.method,
                    p.payer,
                    p.reference,
                    number(p.amount),
                    amount(p.amount, p.currency),
                    number(p.allocated),
                    number(p.unallocated),
                    p.currency,
                    " ".join(allocations.get(p.pk, [])),
                    p.recorded_by.email,
                    number(p.pk),
                ],
            )
        )
    for w in write_offs:
        rows.append(
            (
                w.written_off_on,
                1,
                [
                    w.written_off_on.isoformat(),
                    "write_off",
                    number(w.client_id),
                    w.client.full_name,
                    "",
                    "",
                    "",
                    number(w.amount),
                    amount(w.amount, w.invoice.currency),
                    number(w.amount),
                    number(0),
                    w.invoice.currency,
                    f"{w.invoice.number}:{amount(w.amount, w.invoice.currency)}",
                    w.recorded_by.email,
                    number(w.pk),
                ],
            )
        )
    refunds = list(
        Refund.objects.filter(refunded_on__gte=start, refunded_on__lte=end)
        .select_related("client", "recorded_by")
        .order_by("refunded_on", "pk")
    )
    for r in refunds:
        rows.append(
            (
                r.refunded_on,
                2,
                [
                    r.refunded_on.isoformat(),
                    "refund",
                    number(r.client_id),
                    r.client.full_name,
                    r.method,
                    "",
                    r.reference,
                    number(r.amount),
                    amount(r.amount, r.currency),
                    number(0),
                    number(0),
                    r.currency,
                    "",
                    r.recorded_by.email,
                    number(r.pk),
                ],
            )
        )
    rows.sort(key=lambda row: (row[0], row[1]))
    return _rows(PAYMENT_HEADER, iter(row for _day, _kind, row in rows))
