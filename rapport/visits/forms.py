from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from rapport.core.countries import country_choices
from rapport.visits.models import AtHome


class SafetyCheckInForm(forms.Form):
    """Where the client is right now and how to reach help: confirmed before every session."""

    location = forms.CharField(
        label=_("Where are you right now?"),
        help_text=_("An address, or a description like “at home, 12 Elm Street, Springfield”."),
        max_length=500,
        widget=forms.Textarea(attrs={"rows": 2, "autocomplete": "street-address"}),
    )
    at_home = forms.ChoiceField(
        label=_("Are you at home?"),
        help_text=_("Your therapist's bill for the session says whether it reached you at home."),
        choices=AtHome.choices,
        widget=forms.RadioSelect,
        required=False,
    )
    # Which crisis resources the client is shown (rapport.crisis.resources).
    country = forms.ChoiceField(
        label=_("Which country are you in?"),
        help_text=_("So that the crisis numbers you are shown work where you are."),
        choices=[],
        required=False,
    )
    share_position = forms.BooleanField(
        label=_("Also share my position from this device (optional)"), required=False
    )
    geolocation = forms.CharField(required=False, max_length=80, widget=forms.HiddenInput)
    callback_phone = forms.CharField(
        label=_("A phone number to call you back if the connection drops"),
        max_length=40,
        widget=forms.TextInput(attrs={"autocomplete": "tel", "inputmode": "tel"}),
    )
    emergency_contact = forms.CharField(
        label=_("Emergency contact"),
        help_text=_("Name, how they are related to you, and their phone number."),
        max_length=300,
        widget=forms.Textarea(attrs={"rows": 2}),
    )
    confirm = forms.BooleanField(label=_("These details are right for this session"))

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        choices = country_choices(blank=str(_("Choose a country")))
        self.fields["country"].choices = choices  # type: ignore[attr-defined]

    def clean_callback_phone(self) -> str:
        phone = " ".join(self.cleaned_data["callback_phone"].split())
        digits = [c for c in phone if c.isdigit()]
        if len(digits) < 5 or any(c not in "0123456789+-() ./" for c in phone):
            raise forms.ValidationError(_("Enter a phone number, digits with + - ( ) allowed."))
        return phone

    def clean_geolocation(self) -> str:
        value = str(self.cleaned_data.get("geolocation") or "").strip()
        if value and not all(c in "0123456789.,-+ ±m" for c in value):
            raise forms.ValidationError(_("The position from the browser was not readable."))
        return value

    def clean_location(self) -> str:
        return str(self.cleaned_data["location"]).strip()

    def clean_emergency_contact(self) -> str:
        return str(self.cleaned_data["emergency_contact"]).strip()
