"""Billing forms. Amounts are typed as text ("150.00") and kept as integer minor units."""

from __future__ import annotations

import re
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from rapport.billing.models import (
    BillingSettings,
    PlaceOfService,
    ProviderDetails,
    Service,
    SessionKind,
    validate_cpt,
)
from rapport.billing.superbill import check_range
from rapport.core.forms import PlausibleDateField
from rapport.lib.money import format_amount, minor_digits, parse_amount

ICD_CODE = re.compile(r"^[A-TV-Z][0-9][0-9A-Z](\.[0-9A-Z]{1,4})?$")
MODIFIER = re.compile(r"^[0-9A-Z]{2}$")
MAX_UNITS = 24


class MoneyField(forms.CharField):
    """An amount in the practice currency, typed as text; cleaned to integer minor units."""

    def __init__(self, *, currency: str, **kwargs: Any) -> None:
        self.currency = currency
        # No max_length: its validator would measure the cleaned integer. The amount's own
        # pattern bounds the length (at most nine whole digits).
        kwargs.setdefault(
            "help_text",
            _("In %(currency)s, like %(example)s.")
            % {"currency": currency, "example": format_amount(15000, currency)},
        )
        super().__init__(**kwargs)
        self.widget.attrs.setdefault("inputmode", "decimal")
        self.widget.attrs.setdefault("maxlength", "16")

    def prepare_value(self, value: Any) -> Any:
        if isinstance(value, int):
            return format_amount(value, self.currency).replace(",", "")
        return value

    def to_python(self, value: Any) -> int | None:  # type: ignore[override]
        text = super().to_python(value)
        if text in self.empty_values:
            return None
        try:
            return parse_amount(str(text), self.currency)
        except ValueError:
            digits = minor_digits(self.currency)
            raise ValidationError(
                _("Enter an amount like %(example)s (at most %(digits)s decimals, not negative).")
                % {"example": format_amount(15000, self.currency), "digits": digits},
                code="invalid",
            ) from None


def _codes(text: str) -> list[str]:
    return [c.strip().upper() for c in re.split(r"[\s,]+", text) if c.strip()]


class LineForm(forms.Form):
    """The therapist's confirmation (and edits) of a proposed line."""

    cpt_code = forms.CharField(label=_("Code"), max_length=5, validators=[validate_cpt])
    add_ons = forms.CharField(
        label=_("Add-on codes"),
        required=False,
        max_length=60,
        help_text=_("Code and units, like “90785” or “90840x2”, separated by commas."),
    )
    modifiers = forms.CharField(
        label=_("Modifiers"),
        required=False,
        max_length=11,
        help_text=_("Up to four, separated by commas, like “95”."),
    )
    place_of_service = forms.ChoiceField(
        label=_("Place of service"),
        choices=[("", _("Choose")), *PlaceOfService.choices],
        help_text=_("10 when the client was at home, 02 when elsewhere."),
    )
    diagnosis_codes = forms.CharField(
        label=_("Diagnoses (ICD-10-CM, in pointer order)"),
        required=False,
        max_length=120,
        help_text=_("The primary first, separated by commas, like “F41.1, Z63.0”."),
    )
    units = forms.IntegerField(label=_("Units"), min_value=1, max_value=MAX_UNITS, initial=1)

    def __init__(self, *args: Any, currency: str, session: bool = True, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["fee"] = MoneyField(label=_("Fee per unit"), currency=currency)
        if not session:  # a no-show or late-cancellation fee has no code or place
            for name in ("cpt_code", "place_of_service"):
                self.fields[name].required = False

    def clean_cpt_code(self) -> str:
        return str(self.cleaned_data["cpt_code"]).strip().upper()

    def clean_add_ons(self) -> list[dict[str, Any]]:
        add_ons = []
        for part in _codes(self.cleaned_data["add_ons"]):
            code, _x, units = part.partition("X")
            if not re.fullmatch(r"[0-9]{4}[0-9A-Z]", code) or (units and not units.isdigit()):
                raise ValidationError(_("Write each add-on as a code, or a code x units."))
            count = int(units) if units else 1
            if not 1 <= count <= MAX_UNITS:
                raise ValidationError(_("Add-on units are between 1 and 24."))
            add_ons.append({"code": code, "units": count})
        return add_ons

    def clean_modifiers(self) -> list[str]:
        modifiers = _codes(self.cleaned_data["modifiers"])
        if len(modifiers) > 4 or not all(MODIFIER.match(m) for m in modifiers):
            raise ValidationError(_("Up to four modifiers of two letters or digits each."))
        return modifiers

    def clean_diagnosis_codes(self) -> list[str]:
        codes = _codes(self.cleaned_data["diagnosis_codes"])
        if len(codes) > 12:
            raise ValidationError(_("At most twelve diagnoses."))
        bad = [c for c in codes if not ICD_CODE.match(c)]
        if bad:
            raise ValidationError(
                _("Not an ICD-10-CM code: %(codes)s.") % {"codes": ", ".join(bad)}
            )
        return codes


def line_initial(line: Any) -> dict[str, Any]:
    return {
        "cpt_code": line.cpt_code,
        "add_ons": ", ".join(
            a["code"] + (f"x{a['units']}" if a["units"] != 1 else "") for a in line.add_ons
        ),
        "modifiers": line.modifiers,
        "place_of_service": line.place_of_service,
        "diagnosis_codes": ", ".join(line.diagnosis_codes),
        "units": line.units,
        "fee": line.fee,
    }


class SuperbillForm(forms.Form):
    """The dates of service a superbill covers (or, with ``invoice``, one invoice's)."""

    start = PlausibleDateField(
        label=_("First day"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    end = PlausibleDateField(
        label=_("Last day"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    invoice = forms.IntegerField(required=False, min_value=1, widget=forms.HiddenInput)

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("invoice") or self.errors:
            return data
        start, end = data.get("start"), data.get("end")
        if start is None:
            self.add_error("start", _("Enter the first day of the period."))
        if end is None:
            self.add_error("end", _("Enter the last day of the period."))
        if start is not None and end is not None:
            try:
                check_range(start, end)
            except ValidationError as exc:
                self.add_error(None, exc)
        return data


class ServiceForm(forms.ModelForm[Service]):
    class Meta:
        model = Service
        fields = ["cpt_code", "label", "is_active"]
        help_texts = {"label": _("Your own short words (the official descriptors are not used).")}

    def __init__(self, *args: Any, currency: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["fee"] = MoneyField(
            label=_("Fee"),
            currency=currency,
            initial=self.instance.fee if self.instance.pk else None,
        )
        self.order_fields(["cpt_code", "label", "fee", "is_active"])

    def clean_cpt_code(self) -> str:
        return str(self.cleaned_data["cpt_code"]).strip().upper()

    def save(self, commit: bool = True) -> Service:
        self.instance.fee = self.cleaned_data["fee"]
        return super().save(commit=commit)


class TherapistFeeForm(forms.Form):
    therapist = forms.TypedChoiceField(label=_("Therapist"), coerce=int, choices=())

    def __init__(self, *args: Any, currency: str, therapists: list[Any], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["therapist"].choices = [(t.pk, t.full_name) for t in therapists]  # type: ignore[attr-defined]
        self.fields["fee"] = MoneyField(
            label=_("Their fee"),
            currency=currency,
            required=False,
            help_text=_("Leave blank to remove their own fee (the schedule's applies)."),
        )


class ClientFeeForm(forms.Form):
    service = forms.TypedChoiceField(
        label=_("Service"),
        coerce=int,
        choices=(),
        required=False,
        empty_value=None,
    )
    percent = forms.IntegerField(
        label=_("Or a percentage of the usual fee"),
        min_value=0,
        max_value=100,
        required=False,
    )
    reason = forms.CharField(
        label=_("Reason"),
        max_length=500,
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=_("Kept encrypted. For example: reduced income this year."),
    )

    def __init__(self, *args: Any, currency: str, services: list[Service], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["service"].choices = [  # type: ignore[attr-defined]
            ("", _("Every service (a percentage only)")),
            *[(s.pk, str(s)) for s in services],
        ]
        self.fields["fee"] = MoneyField(
            label=_("A fixed fee for this service"), currency=currency, required=False
        )
        self.order_fields(["service", "fee", "percent", "reason"])

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        fee, percent = data.get("fee"), data.get("percent")
        if self.errors:
            return data
        if (fee is None) == (percent is None):
            raise ValidationError(_("Give either a fixed fee or a percentage, not both."))
        if fee is not None and data.get("service") is None:
            raise ValidationError(_("A fixed fee is for one service: choose it."))
        return data


class BillingSettingsForm(forms.ModelForm[BillingSettings]):
    class Meta:
        model = BillingSettings
        fields = [
            "currency",
            "legal_name",
            "address",
            "phone",
            "tax_id",
            "modifier_rule",
            "audio_only_percent",
            "audio_only_modifier",
        ]
        widgets = {"address": forms.Textarea(attrs={"rows": 3})}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        currency = self.instance.currency
        self.fields["no_show_fee"] = MoneyField(
            label=_("No-show fee"),
            currency=currency,
            required=False,
            initial=self.instance.no_show_fee,
            help_text=_("Leave blank for no fee."),
        )
        self.fields["late_cancel_fee"] = MoneyField(
            label=_("Late-cancellation fee"),
            currency=currency,
            required=False,
            initial=self.instance.late_cancel_fee,
            help_text=_("Leave blank for no fee. The window is the practice's cancellation one."),
        )

    def clean_currency(self) -> str:
        return str(self.cleaned_data["currency"]).strip().upper()

    def save(self, commit: bool = True) -> BillingSettings:
        self.instance.no_show_fee = self.cleaned_data["no_show_fee"]
        self.instance.late_cancel_fee = self.cleaned_data["late_cancel_fee"]
        return super().save(commit=commit)


class ProviderDetailsForm(forms.ModelForm[ProviderDetails]):
    class Meta:
        model = ProviderDetails
        fields = ["npi", "credentials", "licence_number", "licence_state"]


class SessionKindForm(forms.Form):
    kind = forms.ChoiceField(label=_("Bills as"), choices=SessionKind.choices)
