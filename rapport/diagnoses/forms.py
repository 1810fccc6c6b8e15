"""Forms of the diagnoses pages: recording a diagnosis, changing one, the practice's frequent
codes. Dates and codes are checked again by the services, which hold the rules."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from rapport.core.forms import PlausibleDateField
from rapport.diagnoses import icd
from rapport.diagnoses.models import Rank


class DiagnosisForm(forms.Form):
    code = forms.CharField(
        label=_("ICD-10-CM code"),
        max_length=10,
        help_text=_("A billable code, for example F41.1. Search above to find one."),
    )
    rank = forms.ChoiceField(
        label=_("Rank"), choices=Rank.choices, initial=Rank.SECONDARY, widget=forms.RadioSelect
    )
    onset = PlausibleDateField(
        label=_("Onset date"),
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
        help_text=_("Optional. When the condition began, as far as is known."),
    )
    notes = forms.CharField(
        label=_("Notes"),
        max_length=2000,
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("Optional, for the clinical team (stored encrypted)."),
    )

    def clean_code(self) -> str:
        code: str = self.cleaned_data["code"]
        if icd.billable(code) is None:
            if icd.is_code(code):
                raise forms.ValidationError(
                    _("%(code)s has subdivisions: choose one of its billable codes."),
                    params={"code": icd.normalise(code)},
                )
            raise forms.ValidationError(_("This is not an ICD-10-CM code."))
        return icd.normalise(code)

    def clean_onset(self) -> Any:
        onset = self.cleaned_data["onset"]
        if onset is not None and onset > timezone.localdate():
            raise forms.ValidationError(_("The onset date is in the future."))
        return onset


class ChangeForm(forms.Form):
    ACTIONS = (
        ("resolve", _("Resolved")),
        (Rank.PRIMARY, _("Make primary")),
        (Rank.SECONDARY, _("Make secondary")),
        ("error", _("Entered in error")),
    )
    action = forms.ChoiceField(label=_("Change"), choices=ACTIONS)
    resolved_on = PlausibleDateField(
        label=_("Resolved on"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )


class FrequentCodesForm(forms.Form):
    codes = forms.CharField(
        label=_("Frequent codes"),
        max_length=4000,
        widget=forms.Textarea(attrs={"rows": 12}),
        help_text=_(
            "One code per line, in the order the search lists them first. A category stands "
            "for all its billable codes (F32 for every F32.x)."
        ),
    )

    def clean_codes(self) -> list[str]:
        codes = [icd.normalise(line) for line in self.cleaned_data["codes"].splitlines()]
        codes = list(dict.fromkeys(c for c in codes if c))
        unknown = [c for c in codes if not icd.is_code(c)]
        if unknown:
            raise forms.ValidationError(
                _("Not ICD-10-CM codes: %(codes)s."), params={"codes": ", ".join(unknown)}
            )
        if len(codes) > 200:
            raise forms.ValidationError(_("List at most 200 codes."))
        return codes
