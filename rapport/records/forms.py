from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from rapport.core.forms import PlausibleDateField
from rapport.records.timeline import KINDS


class TimelineFilterForm(forms.Form):
    kind = forms.MultipleChoiceField(
        label=_("Show"),
        required=False,
        choices=list(KINDS.items()),
        widget=forms.CheckboxSelectMultiple,
    )
    since = PlausibleDateField(
        label=_("From"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    until = PlausibleDateField(
        label=_("To"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )

    def clean(self) -> dict[str, object]:
        data = super().clean() or {}
        since, until = data.get("since"), data.get("until")
        if since and until and since > until:
            self.add_error("until", _("The end date is before the start date."))
        return data


class ErasureRequestForm(forms.Form):
    """Why a record is to be erased, and the client's address typed to confirm which one."""

    reason = forms.ChoiceField(
        label=_("Why erase this record?"),
        choices=[
            ("retention", _("The retention period has passed")),
            ("client_request", _("The client asked, and the law allows it")),
        ],
        widget=forms.RadioSelect,
    )
    confirm_email = forms.CharField(
        label=_("Type the client's email address to confirm"),
        max_length=254,
        help_text=_("Erasing cannot be undone."),
    )

    def __init__(self, *args: object, expected_email: str, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.expected_email = expected_email

    def clean_confirm_email(self) -> str:
        typed: str = self.cleaned_data["confirm_email"]
        if typed.strip().casefold() != self.expected_email.casefold():
            raise forms.ValidationError(_("This is not the client's email address."))
        return typed
