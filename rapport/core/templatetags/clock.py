"""Times in templates: ``{{ moment|clock }}`` ("14:05" or "2:05 PM") and
``{{ moment|day_and_time:"D j M" }}`` ("Sat 5 Dec, 14:05") and ``{{ day|weekday_date }}``
("Saturday 5 December", "sábado 5 de diciembre"), by the reader's language and their
12/24-hour choice (rapport.core.clock). Use them for every time a person reads instead of a
hard-coded ``|date:"H:i"``. Registered as a template builtin, so no ``{% load %}`` is needed.
"""

from __future__ import annotations

from datetime import date, datetime, time

from django import template

from rapport.core import clock as clocks

register = template.Library()


@register.filter(name="clock", expects_localtime=True)
def clock_filter(value: datetime | time | None, arg: str = "") -> str:
    """The time of day; ``|clock:"seconds"`` adds the seconds."""
    if value in (None, ""):
        return ""
    return clocks.clock(value, seconds=arg == "seconds", convert=False)


@register.filter(expects_localtime=True)
def day_and_time(value: datetime | None, day: str = "SHORT_DATE_FORMAT") -> str:
    """The day in the Django date pattern ``day``, a comma, and the time of day."""
    if value in (None, ""):
        return ""
    return clocks.day_and_time(value, day, convert=False)


@register.filter(expects_localtime=True)
def weekday_date(value: date | None, arg: str = "") -> str:
    """The day with its weekday in the reader's language ("sábado 5 de diciembre");
    ``|weekday_date:"year"`` adds the year."""
    if value in (None, ""):
        return ""
    return clocks.weekday_date(value, year=arg == "year")


@register.simple_tag
def hour_cycle() -> str:
    """For ``<html data-hour-cycle>``: browser code formats times the same way."""
    return clocks.hour_cycle()
