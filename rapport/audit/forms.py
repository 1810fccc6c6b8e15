from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from rapport.accounts.models import Role, User
from rapport.core.forms import PlausibleDateField


class TrailFilterForm(forms.Form):
    client = forms.ModelChoiceField(
        label=_("Client"), required=False, queryset=User.objects.filter(role=Role.CLIENT)
    )
    actor = forms.ModelChoiceField(label=_("Done by"), required=False, queryset=User.objects.all())
    action = forms.CharField(label=_("Action starts with"), required=False, max_length=64)
    since = PlausibleDateField(
        label=_("From"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    until = PlausibleDateField(
        label=pgettext_lazy("end of a date range", "To"),
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
    )

    def clean(self) -> dict[str, object]:
        data = super().clean() or {}
        since, until = data.get("since"), data.get("until")
        if since and until and since > until:
            self.add_error("until", _("The end date is before the start date."))
        return data
