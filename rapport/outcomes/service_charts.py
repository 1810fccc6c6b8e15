"""Bar charts of shares with their 95 % intervals, drawn on the server as accessible SVG (as the
progress charts are): ``role="img"`` with a title and a description in words, and the page shows
the same numbers in a table beside it. A hidden (suppressed) bar is drawn as no bar and says so.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext as _

WIDTH = 560
LABEL_WIDTH = 190
RIGHT = 56
BAR_HEIGHT = 18
ROW_HEIGHT = 30
TOP = 8
AXIS = 24
INK, MUTED, BAR, WHISKER, GRID = "#1d2330", "#4a5263", "#1f5c8a", "#1d2330", "#d5d9e0"


@dataclass(frozen=True)
class Bar:
    label: str
    percent: float | None  # None: hidden
    low: float | None = None
    high: float | None = None


def _x(percent: float, scale: float) -> float:
    plot = WIDTH - LABEL_WIDTH - RIGHT
    return LABEL_WIDTH + plot * min(percent, scale) / scale


def describe(title: str, bars: Sequence[Bar]) -> str:
    """The chart in words, for the SVG's description."""
    parts = []
    for bar in bars:
        if bar.percent is None:
            parts.append(_("%(label)s: hidden (too few clients)") % {"label": bar.label})
        elif bar.low is None or bar.high is None:
            parts.append(
                _("%(label)s: %(percent)s %%") % {"label": bar.label, "percent": bar.percent}
            )
        else:
            parts.append(
                _("%(label)s: %(percent)s %% (95 %% interval %(low)s to %(high)s)")
                % {"label": bar.label, "percent": bar.percent, "low": bar.low, "high": bar.high}
            )
    return f"{title}. " + "; ".join(parts) + "."


def bar_chart(
    chart_id: str, title: str, bars: Sequence[Bar], *, scale: float = 100.0
) -> SafeString:
    """Horizontal bars from 0 to ``scale`` per cent, each with its interval as a whisker."""
    height = TOP + ROW_HEIGHT * len(bars) + AXIS
    ident = escape(chart_id)
    out = [
        f'<svg class="outcome-chart" role="img" viewBox="0 0 {WIDTH} {height}" '
        f'width="100%" preserveAspectRatio="xMinYMin meet" aria-labelledby="{ident}-t {ident}-d">',
        f'<title id="{ident}-t">{escape(title)}</title>',
        f'<desc id="{ident}-d">{escape(describe(title, bars))}</desc>',
    ]
    bottom = TOP + ROW_HEIGHT * len(bars)
    for tick in (0, 25, 50, 75, 100):
        value = scale * tick / 100
        x = _x(value, scale)
        out.append(
            f'<line x1="{x:.1f}" y1="{TOP}" x2="{x:.1f}" y2="{bottom}" stroke="{GRID}"/>'
            f'<text x="{x:.1f}" y="{bottom + 16}" font-size="11" fill="{MUTED}" '
            f'text-anchor="middle">{value:g} %</text>'
        )
    for i, bar in enumerate(bars):
        y = TOP + ROW_HEIGHT * i + (ROW_HEIGHT - BAR_HEIGHT) / 2
        middle = y + BAR_HEIGHT / 2 + 4
        out.append(
            f'<text x="{LABEL_WIDTH - 8}" y="{middle:.1f}" font-size="12" fill="{INK}" '
            f'text-anchor="end">{escape(bar.label)}</text>'
        )
        if bar.percent is None:
            out.append(
                f'<text x="{LABEL_WIDTH + 4}" y="{middle:.1f}" font-size="12" fill="{MUTED}">'
                f"{escape(_('hidden'))}</text>"
            )
            continue
        end = _x(bar.percent, scale)
        out.append(
            f'<rect x="{LABEL_WIDTH}" y="{y:.1f}" width="{max(end - LABEL_WIDTH, 0):.1f}" '
            f'height="{BAR_HEIGHT}" fill="{BAR}"/>'
        )
        if bar.low is not None and bar.high is not None:
            a, b, c = _x(bar.low, scale), _x(bar.high, scale), y + BAR_HEIGHT / 2
            out.append(
                f'<line x1="{a:.1f}" y1="{c:.1f}" x2="{b:.1f}" y2="{c:.1f}" '
                f'stroke="{WHISKER}" stroke-width="2"/>'
                f'<line x1="{a:.1f}" y1="{y + 3:.1f}" x2="{a:.1f}" y2="{y + BAR_HEIGHT - 3:.1f}" '
                f'stroke="{WHISKER}" stroke-width="2"/>'
                f'<line x1="{b:.1f}" y1="{y + 3:.1f}" x2="{b:.1f}" y2="{y + BAR_HEIGHT - 3:.1f}" '
                f'stroke="{WHISKER}" stroke-width="2"/>'
            )
        out.append(
            f'<text x="{WIDTH - RIGHT + 6}" y="{middle:.1f}" font-size="12" fill="{INK}">'
            f"{bar.percent:g} %</text>"
        )
    out.append("</svg>")
    return mark_safe("".join(out))  # noqa: S308 (every text above is escaped)
