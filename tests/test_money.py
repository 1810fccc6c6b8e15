"""Money as integer minor units, parsed from text without floats (rapport/lib/money.py)."""

from __future__ import annotations

import pytest

from rapport.lib.money import format_amount, parse_amount


@pytest.mark.parametrize(
    ("text", "currency", "minor"),
    [
        ("150", "USD", 15000),
        ("150.5", "USD", 15050),
        ("150.05", "USD", 15005),
        ("0.10", "USD", 10),
        ("1,250.00", "USD", 125000),
        (" 12. ", "USD", 1200),
        ("5000", "JPY", 5000),
        ("1.234", "KWD", 1234),
        ("0", "EUR", 0),
    ],
)
def test_parse_amount(text: str, currency: str, minor: int) -> None:
    assert parse_amount(text, currency) == minor


@pytest.mark.parametrize(
    ("text", "currency"),
    [("", "USD"), ("-5", "USD"), ("1.005", "USD"), ("1e3", "USD"), ("abc", "USD"),
     ("5.5", "JPY"), (".5", "USD"), ("1.2.3", "USD"), ("1234567890", "USD")],
)  # fmt: skip
def test_parse_amount_refuses(text: str, currency: str) -> None:
    with pytest.raises(ValueError, match=r"amount|decimals"):
        parse_amount(text, currency)


@pytest.mark.parametrize(
    ("minor", "currency", "text"),
    [(15050, "USD", "150.50"), (5, "USD", "0.05"), (-15050, "USD", "-150.50"),
     (5000, "JPY", "5,000"), (1234, "KWD", "1.234"), (123456789, "EUR", "1,234,567.89")],
)  # fmt: skip
def test_format_amount(minor: int, currency: str, text: str) -> None:
    assert format_amount(minor, currency) == text
