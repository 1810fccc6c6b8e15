"""The admin's form for one crisis resource. The model's ``clean`` holds the rules (one way to
reach it at least, an emergency number has a phone, https addresses)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from rapport.core.countries import country_choices
from rapport.core.forms import PlausibleDateField
from rapport.crisis.models import CrisisResource


class CrisisResourceForm(forms.ModelForm):  # type: ignore[type-arg]
    verified_on = PlausibleDateField(
        label=_("Checked against the source on"),
        widget=forms.DateInput(attrs={"type": "date"}),
        help_text=_("The day someone checked the number on the source page."),
    )

    class Meta:
        model = CrisisResource
        fields = [
            "country",
            "region",
            "kind",
            "name",
            "phone",
            "text_number",
            "chat_url",
            "hours",
            "note",
            "order",
            "verified_on",
            "source_url",
        ]
        widgets = {
            "kind": forms.RadioSelect,
            "phone": forms.TextInput(attrs={"inputmode": "tel"}),
            "text_number": forms.TextInput(attrs={"inputmode": "tel"}),
        }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["country"] = forms.ChoiceField(
            label=_("Country"), choices=country_choices(blank=str(_("Choose a country")))
        )

    def clean_verified_on(self) -> Any:
        day = self.cleaned_data["verified_on"]
        if day is not None and day > timezone.localdate():
            raise forms.ValidationError(_("The day it was checked cannot be in the future."))
        return day

    def clean_phone(self) -> str:
        return " ".join(str(self.cleaned_data["phone"]).split())

    def clean_text_number(self) -> str:
        return " ".join(str(self.cleaned_data["text_number"]).split())
