"""Forms of matching: a therapist's profile, a client's choice, a decline, a re-match request."""

from __future__ import annotations

import re
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from rapport.accounts.models import User
from rapport.matching import photos
from rapport.matching.models import TherapistProfile
from rapport.matching.vocab import APPROACHES, CONCERNS, POPULATIONS, region_choices
from rapport.scheduling.models import Modality

LANGUAGE_CODE = re.compile(r"^[a-z]{2,3}$")


class TherapistProfileForm(forms.ModelForm):  # type: ignore[type-arg]
    approaches = forms.MultipleChoiceField(
        label=_("Approaches"),
        choices=APPROACHES,
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )
    specialties = forms.MultipleChoiceField(
        label=_("Specialties"),
        choices=CONCERNS,
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )
    populations = forms.MultipleChoiceField(
        label=_("People you work with"),
        choices=POPULATIONS,
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )
    modalities = forms.MultipleChoiceField(
        label=_("Ways you meet clients"),
        choices=Modality.choices,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text=_("A client is matched only on a way one of your session types also allows."),
    )
    languages = forms.CharField(
        label=_("Languages you offer therapy in"),
        max_length=100,
        required=False,
        help_text=_("Two-letter codes separated by commas, such as: en, es"),
    )
    licensed_regions = forms.MultipleChoiceField(
        label=_("Licensed in"),
        choices=(),
        required=False,
        help_text=_("Hold Ctrl (or Cmd) to choose more than one."),
    )
    photo = forms.FileField(
        label=_("Photo (optional)"),
        required=False,
        help_text=_("JPEG, PNG or WebP, up to 5 MB. It is shown only to people signed in."),
        widget=forms.ClearableFileInput(attrs={"accept": "image/jpeg,image/png,image/webp"}),
    )
    remove_photo = forms.BooleanField(label=_("Remove the photo"), required=False)

    class Meta:
        model = TherapistProfile
        fields = [
            "pronouns",
            "bio",
            "approaches",
            "specialties",
            "populations",
            "languages",
            "modalities",
            "licensed_regions",
            "fee_information",
            "accepting_new_clients",
        ]
        widgets = {"bio": forms.Textarea(attrs={"rows": 5})}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        regions = self.fields["licensed_regions"]
        if isinstance(regions, forms.MultipleChoiceField):
            regions.choices = region_choices()
        if not self.is_bound:
            self.initial["languages"] = ", ".join(self.instance.languages or [])
        self.photo_bytes: bytes | None = None

    def clean_languages(self) -> list[str]:
        codes = [c.strip().lower() for c in self.cleaned_data["languages"].split(",") if c.strip()]
        wrong = [c for c in codes if not LANGUAGE_CODE.match(c)]
        if wrong:
            raise ValidationError(
                _("“%(code)s” is not a language code. Use codes such as en, es."),
                params={"code": wrong[0]},
            )
        return list(dict.fromkeys(codes))

    def clean_photo(self) -> Any:
        upload = self.cleaned_data.get("photo")
        if upload:
            self.photo_bytes = photos.reencode(upload)
        return None


class ChoiceForm(forms.Form):
    """Up to three of the suggested therapists, in order; the first is required."""

    def __init__(self, *args: Any, therapists: list[User], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        choices = [("", _("(none)"))] + [(str(t.pk), t.full_name) for t in therapists]
        labels = [_("Your first choice"), _("Your second choice"), _("Your third choice")]
        for index, text in enumerate(labels[: len(therapists)]):
            self.fields[f"choice_{index + 1}"] = forms.ChoiceField(
                label=text, choices=choices, required=index == 0
            )

    def chosen(self) -> list[int]:
        return [
            int(self.cleaned_data[name])
            for name in sorted(self.fields)
            if self.cleaned_data.get(name)
        ]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        picked = [data.get(name) for name in sorted(self.fields) if data.get(name)]
        if len(picked) != len(set(picked)):
            raise ValidationError(_("Choose each therapist only once."))
        return data


class DeclineForm(forms.Form):
    reason = forms.CharField(
        label=_("Why (optional, seen only by the practice)"),
        required=False,
        max_length=1000,
        widget=forms.Textarea(attrs={"rows": 3}),
    )


class RematchForm(forms.Form):
    reason = forms.CharField(
        label=_("Anything the practice should know (optional)"),
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text=_("Only the practice's admins read this. Your therapist is not told now."),
    )


class PracticeChoiceForm(forms.Form):
    def __init__(self, *args: Any, therapists: list[tuple[User, str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.therapists = {str(t.pk): t for t, _label in therapists}
        self.fields["therapist"] = forms.ChoiceField(
            label=_("Therapist"),
            choices=[(str(t.pk), label) for t, label in therapists],
        )

    def therapist(self) -> User:
        return self.therapists[self.cleaned_data["therapist"]]
