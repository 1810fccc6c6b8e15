from __future__ import annotations

from typing import Any

from django import forms
from django.core.validators import MaxLengthValidator
from django.utils.translation import gettext_lazy as _

from rapport.accounts.models import Role, User
from rapport.care.models import ClientProfile
from rapport.core.countries import country_choices


class ClientProfileForm(forms.ModelForm):  # type: ignore[type-arg]
    class Meta:
        model = ClientProfile
        fields = [
            "preferred_name",
            "date_of_birth",
            "postal_address",
            "country",
            "phone",
            "emergency_contact",
            "intake_notes",
        ]
        widgets = {
            "phone": forms.TextInput(attrs={"autocomplete": "off", "maxlength": 40}),
            "postal_address": forms.Textarea(attrs={"rows": 4, "maxlength": 500}),
            "emergency_contact": forms.Textarea(attrs={"rows": 2, "maxlength": 500}),
            "intake_notes": forms.Textarea(attrs={"rows": 6, "maxlength": 10000}),
        }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["country"] = forms.ChoiceField(
            label=_("Country of residence"),
            choices=country_choices(blank=str(_("Not known"))),
            required=False,
            help_text=_(
                "Sets which crisis numbers are shown, until a session check-in names a country."
            ),
        )
        self.fields["date_of_birth"].help_text = _("For example 1980-04-23.")
        self.fields["date_of_birth"].error_messages["invalid"] = _(
            "Enter the date of birth as year-month-day, for example 1980-04-23."
        )
        self.fields["postal_address"].help_text = _(
            "Street, city, region or state, postal code and country, one per line."
        )
        limits = {
            "phone": 40,
            "postal_address": 500,
            "emergency_contact": 500,
            "intake_notes": 10000,
        }
        for name, limit in limits.items():
            self.fields[name].max_length = limit  # type: ignore[attr-defined]
            self.fields[name].validators.append(MaxLengthValidator(limit))


class EmergencyAccessForm(forms.Form):
    reason = forms.CharField(
        label=_("Why do you need access to this client's record?"),
        min_length=15,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text=_("Recorded in the audit trail and visible to the client."),
    )


class RelationshipForm(forms.Form):
    therapist = forms.ModelChoiceField(
        label=_("Therapist"), queryset=User.objects.filter(role=Role.THERAPIST, is_active=True)
    )
    client = forms.ModelChoiceField(
        label=_("Client"), queryset=User.objects.filter(role=Role.CLIENT, is_active=True)
    )
