"""Ledger pages: a client's invoices, payments and statement (staff), issuing and voiding an
invoice, recording a payment or a write-off (the billing office), the practice's unpaid invoices
by age and the accountant's CSV exports (the office), and the client's own billing in the portal.
Views parse and render; ``access`` decides who, ``ledger`` writes and sums, ``exports`` writes
CSV."""

from __future__ import annotations

from typing import Any

from allauth.account.decorators import reauthentication_required
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from rapport.accounts.decorators import role_required
from rapport.accounts.models import Role, User
from rapport.audit.services import Action, record
from rapport.billing import access, exports, ledger
from rapport.billing.ledger_forms import (
    KEEP_AS_CREDIT,
    IssueInvoiceForm,
    PaymentForm,
    PeriodForm,
    RefundForm,
    VoidInvoiceForm,
    WriteOffForm,
)
from rapport.billing.models import BillingSettings, Invoice, InvoiceKind, InvoiceStatus

STAFF = (Role.THERAPIST, Role.ADMIN, Role.BILLING)
OFFICE = (Role.ADMIN, Role.BILLING)


def _user(request: HttpRequest) -> User:
    return request.user  # type: ignore[return-value]


def _practice() -> dict[str, Any]:
    return {"billing": BillingSettings.get()}


# --- A client's ledger (staff) -----------------------------------------------------------------


@role_required(*STAFF)
@require_http_methods(["GET"])
def client_ledger(request: HttpRequest, client_id: int) -> HttpResponse:
    """A client's invoices, payments, write-offs, balance and the lines not invoiced yet."""
    user = _user(request)
    client = access.access_billing(user, client_id, request=request, purpose="ledger")
    return render(
        request,
        "billing/ledger.html",
        {
            "client": client,
            "currency": BillingSettings.get().currency,
            "balance": ledger.client_balance(client),
            "unbilled": list(ledger.invoiceable_lines(client).select_related("therapist")),
            "invoices": list(access.invoices_of(client)),
            "payments": list(access.payments_of(client)),
            "write_offs": list(access.write_offs_of(client)),
            "refunds": list(access.refunds_of(client)),
            "credit": ledger.credit_of(client),
            "office": access.is_billing_office(user),
        },
    )


@role_required(*OFFICE)
@require_http_methods(["GET", "POST"])
def issue_invoice(request: HttpRequest, client_id: int) -> HttpResponse:
    user = _user(request)
    client = access.access_billing(user, client_id, request=request, purpose="invoice")
    lines = list(ledger.invoiceable_lines(client))
    form = IssueInvoiceForm(request.POST or None, lines=lines)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            if data["kind"] == InvoiceKind.PER_SESSION:
                what, _sep, pk = data["session"].partition(":")
                invoice = ledger.issue_session_invoice(
                    client,
                    visit_id=int(pk) if what == "visit" else None,
                    line_id=int(pk) if what == "line" else None,
                    actor=user,
                    request=request,
                )
            else:
                start, end = data["month"]
                invoice = ledger.issue_monthly_invoice(
                    client, start, end, actor=user, request=request
                )
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            messages.success(
                request, _("Invoice %(number)s is issued.") % {"number": invoice.number}
            )
            return redirect("invoice", invoice.pk)
    return render(
        request,
        "billing/issue_invoice.html",
        {"client": client, "form": form, "lines": lines},
        status=400 if form.is_bound else 200,
    )


@role_required(*OFFICE)
@require_http_methods(["GET", "POST"])
def record_payment(request: HttpRequest, client_id: int) -> HttpResponse:
    user = _user(request)
    client = access.access_billing(user, client_id, request=request, purpose="payment")
    currency = BillingSettings.get().currency
    open_invoices = list(ledger.open_invoices(client))
    form = PaymentForm(request.POST or None, currency=currency, open_invoices=open_invoices)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        target = data["invoice"]
        try:
            ledger.record_payment(
                client,
                ledger.PaymentValues(
                    received_on=data["received_on"],
                    amount=data["amount"],
                    method=data["method"],
                    payer=data["payer"],
                    reference=data["reference"],
                ),
                actor=user,
                allocate=target != KEEP_AS_CREDIT,
                invoice_ids=[int(target)] if target not in ("", KEEP_AS_CREDIT) else None,
                request=request,
            )
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            messages.success(request, _("The payment is recorded."))
            return redirect("client_ledger", client.pk)
    return render(
        request,
        "billing/payment_form.html",
        {"client": client, "form": form, "balance": ledger.client_balance(client), **_practice()},
        status=400 if form.is_bound else 200,
    )


@role_required(*OFFICE)
@require_http_methods(["GET", "POST"])
def record_refund(request: HttpRequest, client_id: int) -> HttpResponse:
    """Pay back part or all of the client's credit (recorded by hand, like payments)."""
    user = _user(request)
    client = access.access_billing(user, client_id, request=request, purpose="refund")
    form = RefundForm(request.POST or None, currency=BillingSettings.get().currency)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            ledger.refund(
                client,
                ledger.RefundValues(
                    refunded_on=data["refunded_on"],
                    amount=data["amount"],
                    method=data["method"],
                    reference=data["reference"],
                ),
                actor=user,
                request=request,
            )
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            messages.success(request, _("The refund is recorded."))
            return redirect("client_ledger", client.pk)
    return render(
        request,
        "billing/refund_form.html",
        {"client": client, "form": form, "credit": ledger.credit_of(client), **_practice()},
        status=400 if form.is_bound else 200,
    )


@role_required(*STAFF)
@require_http_methods(["GET"])
def client_statement(request: HttpRequest, client_id: int) -> HttpResponse:
    user = _user(request)
    client = access.access_billing(user, client_id, request=request, purpose="statement")
    return _statement_page(request, client, base="billing/statement.html")


def _statement_page(request: HttpRequest, client: User, *, base: str) -> HttpResponse:
    form = PeriodForm(request.GET or None)
    if form.is_bound and not form.is_valid():
        return render(request, base, {"client": client, "form": form}, status=400)
    if not form.is_bound:
        form = PeriodForm({})
        form.is_valid()
    data = form.cleaned_data
    return render(
        request,
        base,
        {
            "client": client,
            "form": form,
            "statement": ledger.statement(client, data["start"], data["end"]),
            **_practice(),
        },
    )


# --- One invoice (staff) -------------------------------------------------------------------------


@role_required(*STAFF)
@require_http_methods(["GET"])
def invoice(request: HttpRequest, invoice_id: int) -> HttpResponse:
    """The invoice as the client gets it (printable), with its payments and write-offs."""
    user = _user(request)
    row = access.access_invoice(user, invoice_id, request=request)
    return render(
        request,
        "billing/invoice.html",
        _invoice_context(row, office=access.is_billing_office(user)),
    )


def _invoice_context(row: Invoice, *, office: bool = False, own: bool = False) -> dict[str, Any]:
    entries = list(
        row.entries.select_related("line", "line__therapist").order_by(
            "line__date_of_service", "line_id"
        )
    )
    return {
        "invoice": row,
        "entries": entries,
        "allocations": list(row.allocations.select_related("payment").order_by("pk")),
        "write_offs": list(row.write_offs.order_by("pk")),
        "owed": ledger.invoice_balance(row),
        "office": office,
        "own": own,
        **_practice(),
    }


@role_required(*OFFICE)
@require_http_methods(["GET", "POST"])
def void_invoice(request: HttpRequest, invoice_id: int) -> HttpResponse:
    user = _user(request)
    row = access.access_invoice(user, invoice_id, request=request, change=True)
    form = VoidInvoiceForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            ledger.void_invoice(
                row, reason=form.cleaned_data["reason"], actor=user, request=request
            )
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            messages.success(
                request,
                _("The invoice is void. Its services are charged again, ready for a new invoice."),
            )
            return redirect("client_ledger", row.client_id)
    return render(
        request,
        "billing/invoice_action.html",
        {"invoice": row, "form": form, "action": "void"},
        status=400 if form.is_bound else 200,
    )


@role_required(*OFFICE)
@require_http_methods(["GET", "POST"])
def write_off(request: HttpRequest, invoice_id: int) -> HttpResponse:
    user = _user(request)
    row = access.access_invoice(user, invoice_id, request=request, change=True)
    form = WriteOffForm(request.POST or None, currency=row.currency)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            ledger.write_off(
                row,
                amount=data["amount"],
                reason=data["reason"],
                on=data["written_off_on"],
                actor=user,
                request=request,
            )
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            messages.success(request, _("The amount is written off."))
            return redirect("invoice", row.pk)
    return render(
        request,
        "billing/invoice_action.html",
        {"invoice": row, "form": form, "action": "write_off", "owed": ledger.invoice_balance(row)},
        status=400 if form.is_bound else 200,
    )


# --- The practice (billing office) ---------------------------------------------------------------


@role_required(*OFFICE)
@require_http_methods(["GET"])
def billing_overview(request: HttpRequest) -> HttpResponse:
    """Unpaid invoices of every client, by age (days since issue)."""
    user = _user(request)
    access.require_billing_office(user)
    aging = ledger.aging(timezone.localdate())
    record(Action.BILLING_VIEWED, request=request, purpose="overview")
    return render(
        request, "billing/overview.html", {"aging": aging, "form": PeriodForm(), **_practice()}
    )


@role_required(*OFFICE)
@reauthentication_required  # type: ignore[untyped-decorator,unused-ignore]
@require_http_methods(["GET"])
def export_billing(request: HttpRequest, what: str) -> HttpResponse | StreamingHttpResponse:
    """The billing lines or the payments of a period as CSV, for the practice's accountant."""
    user = _user(request)
    access.require_billing_office(user)
    form = PeriodForm(request.GET)
    if not form.is_valid():
        return render(
            request,
            "billing/overview.html",
            {"aging": ledger.aging(timezone.localdate()), "form": form, **_practice()},
            status=400,
        )
    start, end = form.cleaned_data["start"], form.cleaned_data["end"]
    record(
        Action.BILLING_EXPORTED,
        request=request,
        what=what,
        start=start.isoformat(),
        end=end.isoformat(),
    )
    rows = exports.line_rows(start, end) if what == "lines" else exports.payment_rows(start, end)
    response = StreamingHttpResponse(rows, content_type="text/csv; charset=utf-8")
    name = f"rapport-{what}-{start.isoformat()}-{end.isoformat()}.csv"
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    return response


# --- The client's own (portal) -------------------------------------------------------------------


@role_required(Role.CLIENT)
@require_http_methods(["GET"])
def my_billing(request: HttpRequest) -> HttpResponse:
    user = access.own_billing(_user(request), request=request, purpose="my_billing")
    return render(
        request,
        "billing/my_billing.html",
        {
            "balance": ledger.client_balance(user),
            "invoices": list(access.invoices_of(user).filter(status=InvoiceStatus.ISSUED)),
            "payments": list(access.payments_of(user)),
            **_practice(),
        },
    )


@role_required(Role.CLIENT)
@require_http_methods(["GET"])
def my_invoice(request: HttpRequest, invoice_id: int) -> HttpResponse:
    row = access.access_own_invoice(_user(request), invoice_id, request=request)
    return render(request, "billing/invoice.html", _invoice_context(row, own=True))


@role_required(Role.CLIENT)
@require_http_methods(["GET"])
def my_statement(request: HttpRequest) -> HttpResponse:
    user = access.own_billing(_user(request), request=request, purpose="my_statement")
    return _statement_page(request, user, base="billing/my_statement.html")
