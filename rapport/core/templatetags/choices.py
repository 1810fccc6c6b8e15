"""``{{ appointment|label:"status" }}``: the words for a field's stored choice.

Django's ``get_status_display()`` does the same, but each call rebuilds a hashable copy of every
choice, hashing (and so translating) every label; a week of 80 appointments spent about a quarter
of its server time there. This looks the value up among the stored values and translates only the
label it shows. Registered as a template builtin, so no ``{% load %}`` is needed.
"""

from __future__ import annotations

from typing import Any

from django import template
from django.db.models import Field, Model

register = template.Library()


@register.filter
def label(obj: Model, field_name: str) -> Any:
    """The human label of ``obj``'s choice field ``field_name`` (the raw value when it is not
    one of the choices, as ``get_FOO_display`` does)."""
    field = obj._meta.get_field(field_name)
    if not isinstance(field, Field):
        raise TypeError(f"{field_name} is a relation, not a field with choices")
    value = getattr(obj, field.attname)
    for stored, words in field.flatchoices:
        if stored == value:
            return words
    return value
