"""``{{ text|tel_links }}``: free text with each phone number in it as a ``tel:`` link (the
practice's own crisis text, shown when no listed resource fits the client), escaped first;
line breaks kept."""

from __future__ import annotations

import re

from django import template
from django.utils.html import escape, format_html
from django.utils.safestring import SafeString, mark_safe

register = template.Library()

# A run of three or more digits, with spaces or dashes inside, an optional leading +.
NUMBER = re.compile(r"(?<![\w+])(\+?\d[\d -]{1,18}\d)(?!\w)")


@register.filter
def tel_links(text: str) -> SafeString:
    parts = []
    position = 0
    escaped = str(escape(text))
    for found in NUMBER.finditer(escaped):
        number = found.group(1)
        digits = ("+" if number.startswith("+") else "") + re.sub(r"\D", "", number)
        parts.append(escaped[position : found.start(1)])
        parts.append(format_html('<a href="tel:{}">{}</a>', digits, number))
        position = found.end(1)
    parts.append(escaped[position:])
    return mark_safe("".join(parts).replace("\n", "<br>"))  # noqa: S308 - escaped above
