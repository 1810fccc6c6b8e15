"""Countries as ISO 3166-1 alpha-2 codes ("US", "GB"), with their names in the reader's language.

The list and its translations come from django-countries; Rapport stores only the two-letter code.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _
from django_countries import countries


def country_choices(*, blank: str = "") -> list[tuple[str, str]]:
    """Every country, sorted by name in the active language; a blank choice first if asked."""
    choices = [(str(code), str(name)) for code, name in countries]
    return [("", blank), *choices] if blank else choices


def country_name(code: str) -> str:
    return str(countries.name(code)) if code else ""


def validate_country(code: str) -> None:
    if code not in countries:
        raise ValidationError(_("Choose a country from the list (a two-letter ISO code)."))
