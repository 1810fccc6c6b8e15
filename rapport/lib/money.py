"""Amounts of money as integers of a currency's minor units (cents), read from and written as
text. No float ever holds money: text is parsed digit by digit.

The number of minor-unit digits follows ISO 4217: two for most currencies, with the exceptions
listed below."""

from __future__ import annotations

import re

# ISO 4217 currencies whose minor unit is not two digits.
MINOR_DIGITS = {
    "BIF": 0, "CLP": 0, "DJF": 0, "GNF": 0, "ISK": 0, "JPY": 0, "KMF": 0, "KRW": 0,
    "PYG": 0, "RWF": 0, "UGX": 0, "UYI": 0, "VND": 0, "VUV": 0, "XAF": 0, "XOF": 0, "XPF": 0,
    "BHD": 3, "IQD": 3, "JOD": 3, "KWD": 3, "LYD": 3, "OMR": 3, "TND": 3,
    "CLF": 4, "UYW": 4,
}  # fmt: skip

AMOUNT = re.compile(r"^(?P<whole>[0-9]{1,9})(?:[.](?P<fraction>[0-9]*))?$")


def minor_digits(currency: str) -> int:
    return MINOR_DIGITS.get(currency.upper(), 2)


def parse_amount(text: str, currency: str) -> int:
    """``"150.5"`` in USD -> 15050. Raises ValueError for anything but a plain, non-negative
    amount with at most the currency's number of decimals (thousands separators are dropped)."""
    cleaned = text.strip().replace(",", "").replace(" ", "")
    match = AMOUNT.match(cleaned)
    if match is None:
        raise ValueError("not an amount")
    digits = minor_digits(currency)
    fraction = match["fraction"] or ""
    if len(fraction) > digits:
        raise ValueError("too many decimals")
    whole = int(match["whole"])
    scale = int(10**digits)
    return whole * scale + int(fraction.ljust(digits, "0") or "0")


def format_amount(minor: int, currency: str) -> str:
    """15050 in USD -> ``"150.50"``; -15050 -> ``"-150.50"`` (no currency sign: pages add it)."""
    digits = minor_digits(currency)
    sign = "-" if minor < 0 else ""
    whole, fraction = divmod(abs(minor), 10**digits)
    return f"{sign}{whole:,}.{fraction:0{digits}d}" if digits else f"{sign}{whole:,}"
