"""How forms are drawn on every page (one template for a form, one for each of its fields), and
the date field every form uses."""

from __future__ import annotations

from datetime import date
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.forms.renderers import DjangoTemplates
from django.utils.translation import gettext_lazy as _

# The dates Rapport accepts anywhere a person types one or puts one in an address. Python's own
# limits (years 1 and 9999) overflow as soon as a zone or a day is added to them.
EARLIEST_DATE = date(1970, 1, 1)
LATEST_DATE = date(2999, 12, 31)


def is_plausible_date(day: date) -> bool:
    return EARLIEST_DATE <= day <= LATEST_DATE


class PlausibleDateField(forms.DateField):
    """A date between ``EARLIEST_DATE`` and ``LATEST_DATE``; anything else is a form error."""

    def to_python(self, value: Any) -> date | None:
        day: date | None = super().to_python(value)
        if day is not None and not is_plausible_date(day):
            raise ValidationError(
                _("Enter a date from %(first)s to %(last)s."),
                code="out_of_range",
                params={"first": EARLIEST_DATE.isoformat(), "last": LATEST_DATE.isoformat()},
            )
        return day


class FormRenderer(DjangoTemplates):
    """Django's renderer with Rapport's templates; ``{{ form }}`` and ``field.as_field_group`` use
    them. A field's help text is escaped like any text: a link it needs belongs in the page."""

    form_template_name = "rapport/forms/form.html"
    field_template_name = "rapport/forms/field.html"
