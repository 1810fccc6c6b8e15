"""Forms of the ledger: issuing an invoice, recording a payment or a write-off, voiding an
invoice, choosing a period. Amounts are typed as text and cleaned to integer minor units."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from rapport.billing.forms import MoneyField
from rapport.billing.models import BillingLine, Invoice, InvoiceKind, PaymentMethod
from rapport.lib.money import format_amount

# The most one payment or write-off may be (a mistyped extra digit, not a real payment), well
# inside the database's integer.
MAX_AMOUNT = 1_000_000_000
MAX_PERIOD_DAYS = 3660
KEEP_AS_CREDIT = "none"


def _date_widget() -> forms.DateInput:
    return forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")


class PositiveMoneyField(MoneyField):
    def to_python(self, value: Any) -> int | None:  # type: ignore[override]
        amount = super().to_python(value)
        if amount is None:
            return None
        if amount <= 0:
            raise ValidationError(_("Enter an amount more than zero."), code="min_value")
        if amount > MAX_AMOUNT:
            raise ValidationError(
                _("Enter at most %(most)s.") % {"most": format_amount(MAX_AMOUNT, self.currency)},
                code="max_value",
            )
        return amount


def _not_in_future(day: dt.date) -> None:
    if day > timezone.localdate() + dt.timedelta(days=1):
        raise ValidationError(_("This date is in the future."), code="future")


class IssueInvoiceForm(forms.Form):
    """Per session: one session's confirmed lines. Monthly: the confirmed lines of a month."""

    kind = forms.ChoiceField(label=_("Invoice"), choices=InvoiceKind.choices, initial="monthly")
    session = forms.ChoiceField(label=_("Session (per-session invoice)"), required=False)
    month = forms.CharField(
        label=_("Month (monthly invoice)"),
        required=False,
        max_length=7,
        help_text=_("Like 2026-03."),
        widget=forms.TextInput(attrs={"type": "month", "placeholder": "2026-03"}),
    )

    def __init__(self, *args: Any, lines: list[BillingLine], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        choices: dict[str, str] = {}
        for line in lines:
            key = f"visit:{line.visit_id}" if line.visit_id else f"line:{line.pk}"
            label = f"{line.date_of_service:%d %b %Y} · {line.cpt_code or line.get_item_display()}"
            choices.setdefault(key, label)
        self.fields["session"].choices = [("", _("Choose")), *choices.items()]  # type: ignore[attr-defined]

    def clean_month(self) -> tuple[dt.date, dt.date] | None:
        text = self.cleaned_data["month"].strip()
        if not text:
            return None
        try:
            first = dt.datetime.strptime(text, "%Y-%m").date()  # noqa: DTZ007  (a date only)
        except ValueError:
            raise ValidationError(_("Enter a month like 2026-03."), code="invalid") from None
        following = (first.replace(day=28) + dt.timedelta(days=4)).replace(day=1)
        return first, following - dt.timedelta(days=1)

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        kind = data.get("kind")
        if kind == InvoiceKind.PER_SESSION and not data.get("session"):
            self.add_error("session", _("Choose the session to invoice."))
        if kind == InvoiceKind.MONTHLY and not data.get("month") and "month" not in self.errors:
            self.add_error("month", _("Enter the month to invoice."))
        return data


class RefundForm(forms.Form):
    refunded_on = forms.DateField(
        label=_("Refunded on"), widget=_date_widget(), validators=[_not_in_future]
    )
    method = forms.ChoiceField(
        label=_("Method"),
        choices=[
            ("", _("Choose")),
            *((value, label) for value, label in PaymentMethod.choices if value != "insurance"),
        ],
    )
    reference = forms.CharField(
        label=_("Reference"),
        required=False,
        max_length=80,
        help_text=_("A cheque number or transfer reference."),
    )

    def __init__(self, *args: Any, currency: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["amount"] = PositiveMoneyField(label=_("Amount"), currency=currency)
        self.order_fields(["refunded_on", "amount", "method", "reference"])
        self.fields["refunded_on"].initial = timezone.localdate()


class PaymentForm(forms.Form):
    received_on = forms.DateField(
        label=_("Received on"), widget=_date_widget(), validators=[_not_in_future]
    )
    method = forms.ChoiceField(
        label=_("Method"), choices=[("", _("Choose")), *PaymentMethod.choices]
    )
    payer = forms.CharField(
        label=_("Paid by"),
        required=False,
        max_length=120,
        help_text=_("Leave blank when the client paid; otherwise the insurer or other payer."),
    )
    reference = forms.CharField(
        label=_("Reference"),
        required=False,
        max_length=80,
        help_text=_("A cheque number, transfer reference or claim number."),
    )
    invoice = forms.ChoiceField(label=_("Apply to"), required=False)

    def __init__(
        self, *args: Any, currency: str, open_invoices: list[Invoice], **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self.fields["amount"] = PositiveMoneyField(label=_("Amount"), currency=currency)
        self.order_fields(["received_on", "amount", "method", "payer", "reference", "invoice"])
        self.fields["invoice"].choices = [  # type: ignore[attr-defined]
            ("", _("The oldest open invoices first")),
            (KEEP_AS_CREDIT, _("Nothing yet: keep it as the client's credit")),
            *(
                (
                    str(i.pk),
                    f"{i.number} · {format_amount(i.outstanding, i.currency)} {i.currency}",
                )
                for i in open_invoices
            ),
        ]
        self.fields["received_on"].initial = timezone.localdate()


class WriteOffForm(forms.Form):
    written_off_on = forms.DateField(
        label=_("Date"), widget=_date_widget(), validators=[_not_in_future]
    )
    reason = forms.CharField(
        label=_("Reason"), max_length=500, widget=forms.Textarea(attrs={"rows": 3})
    )

    def __init__(self, *args: Any, currency: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["amount"] = PositiveMoneyField(label=_("Amount"), currency=currency)
        self.order_fields(["amount", "written_off_on", "reason"])
        self.fields["written_off_on"].initial = timezone.localdate()

    def clean_reason(self) -> str:
        reason: str = self.cleaned_data["reason"].strip()
        if not reason:
            raise ValidationError(_("Say why the amount is written off."), code="required")
        return reason


class VoidInvoiceForm(forms.Form):
    reason = forms.CharField(
        label=_("Why is this invoice void?"),
        max_length=500,
        widget=forms.Textarea(attrs={"rows": 3}),
    )

    def clean_reason(self) -> str:
        reason: str = self.cleaned_data["reason"].strip()
        if not reason:
            raise ValidationError(_("Say why the invoice is void."), code="required")
        return reason


class PeriodForm(forms.Form):
    """A period of days, both included (statements and exports). Blank: this month so far."""

    start = forms.DateField(label=_("From"), required=False, widget=_date_widget())
    end = forms.DateField(
        label=pgettext_lazy("end of a date range", "To"), required=False, widget=_date_widget()
    )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if self.errors:
            return data
        today = timezone.localdate()
        start = data.get("start") or today.replace(day=1)
        end = data.get("end") or today
        if start > end:
            self.add_error("end", _("The period must end on or after its first day."))
        elif (end - start).days > MAX_PERIOD_DAYS:
            self.add_error("end", _("Choose a period of at most ten years."))
        data["start"], data["end"] = start, end
        return data
