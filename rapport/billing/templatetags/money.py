"""``{{ amount|money:currency }}``: integer minor units as text, with the currency code."""

from __future__ import annotations

from django import template

from rapport.lib.money import format_amount

register = template.Library()


@register.filter
def money(minor: int | None, currency: str) -> str:
    if minor is None:
        return "—"
    return f"{format_amount(int(minor), currency)} {currency}"


@register.filter
def money_abs(minor: int | None, currency: str) -> str:
    """The amount without its sign (a credit balance said in words beside it)."""
    return money(None if minor is None else abs(int(minor)), currency)
