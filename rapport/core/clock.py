"""Times as the reader reads them: their language's conventions and their 12/24-hour choice.

A person's choice (``User.clock``: ``"12"``, ``"24"`` or ``""`` for "as usual in my language") is
activated for the request by the preferences middleware, like their time zone and language, and
for an email with :func:`override`. Without a choice the language decides: its ``TIME_FORMAT``
(rapport/formats/<language>/formats.py) is a 24-hour one or not. Month and day names come from the
active language through Django's date formatting.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import date, datetime, time

from django.utils import timezone
from django.utils.formats import date_format, get_format, get_format_modules, time_format
from django.utils.translation import get_language

TWELVE = "12"
TWENTY_FOUR = "24"

_chosen: ContextVar[str] = ContextVar("rapport_clock", default="")


def activate(choice: str) -> None:
    _chosen.set(choice if choice in (TWELVE, TWENTY_FOUR) else "")


def deactivate() -> None:
    _chosen.set("")


@contextmanager
def override(choice: str) -> Iterator[None]:
    token = _chosen.set(choice if choice in (TWELVE, TWENTY_FOUR) else "")
    try:
        yield
    finally:
        _chosen.reset(token)


def uses_24_hours() -> bool:
    """The active choice, or else the active language's custom."""
    chosen = _chosen.get()
    if chosen:
        return chosen == TWENTY_FOUR
    usual = str(get_format("TIME_FORMAT"))
    return "H" in usual or "G" in usual


def hour_cycle() -> str:
    """The same as a JavaScript ``Intl.DateTimeFormat`` ``hourCycle`` ("h23" or "h12")."""
    return "h23" if uses_24_hours() else "h12"


# Patterns Django does not define, by name, with their English default (the formats modules).
WEEKDAY_FORMATS = {"WEEKDAY_DATE_FORMAT": "l j F", "WEEKDAY_DATE_YEAR_FORMAT": "l j F Y"}


def _format_of_language(name: str, default: str) -> str:
    """A pattern Django does not define (``WEEKDAY_DATE_FORMAT``), from the active language's
    format module (rapport/formats/<language>/formats.py), else ``default``."""
    for module in get_format_modules(get_language()):
        found = getattr(module, name, None)
        if found:
            return str(found)
    return default


def weekday_date(value: date, *, year: bool = False) -> str:
    """The day with its weekday, as the language writes it: "Saturday 5 December" or "sábado
    5 de diciembre" (with the year: "... 2026" / "... de 2026")."""
    name = "WEEKDAY_DATE_YEAR_FORMAT" if year else "WEEKDAY_DATE_FORMAT"
    return date_format(value, _format_of_language(name, WEEKDAY_FORMATS[name]))


def _meridiems() -> tuple[str, str]:
    """ "AM"/"PM" as the active language writes them (its format module's ``MERIDIEMS``; Django's
    own "A" is not translated in every language)."""
    for module in get_format_modules(get_language()):
        found = getattr(module, "MERIDIEMS", None)
        if found:
            return found  # type: ignore[no-any-return]
    return ("AM", "PM")


def _local(value: datetime | time, convert: bool) -> datetime | time:
    if convert and isinstance(value, datetime) and timezone.is_aware(value):
        return timezone.localtime(value)
    return value


def clock(value: datetime | time, *, seconds: bool = False, convert: bool = True) -> str:
    """The time of day of ``value`` in the current time zone (as it is with ``convert=False``,
    for a template filter that Django already gave the local time): "14:05" or "2:05 PM"."""
    local = _local(value, convert)
    if uses_24_hours():
        return time_format(local, "H:i:s" if seconds else "H:i")
    digits = time_format(local, "g:i:s" if seconds else "g:i")
    return f"{digits} {_meridiems()[local.hour >= 12]}"


def day_and_time(value: datetime, day: str = "SHORT_DATE_FORMAT", *, convert: bool = True) -> str:
    """``value``'s day in the Django date pattern ``day`` (month and day names in the active
    language; a format name such as ``"DATE_FORMAT"`` or ``"WEEKDAY_DATE_FORMAT"`` takes the
    language's own pattern), then its time of day: "Sat 5 Dec, 14:05"."""
    local = timezone.localtime(value) if convert and timezone.is_aware(value) else value
    if day in WEEKDAY_FORMATS:
        day = _format_of_language(day, WEEKDAY_FORMATS[day])
    return f"{date_format(local, day)}, {clock(local, convert=False)}"
