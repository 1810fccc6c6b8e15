"""``get_rate``: a group's rate by key in a template (``group.rates|get_rate:"recovery"``)."""

from __future__ import annotations

from django import template

from rapport.outcomes.report import Rate

register = template.Library()


@register.filter
def get_rate(rates: dict[str, Rate], key: str) -> Rate | None:
    return rates.get(key)
