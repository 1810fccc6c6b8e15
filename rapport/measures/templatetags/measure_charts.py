"""Template tags of measures' charts: a chart's marker, drawn for the key under the chart."""

from __future__ import annotations

from django import template
from django.utils.safestring import SafeString

from rapport.measures import charts

register = template.Library()


@register.simple_tag
def chart_marker(change: str | None = None) -> SafeString:
    """The marker the chart draws for ``change`` (a reliable-change class; none: a score)."""
    return charts.marker_icon(change)
