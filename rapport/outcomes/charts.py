"""Rate charts drawn on the server as accessible SVG, like the measures progress charts.

One chart per breakdown: a bar per group for one rate with its 95 % interval as a whisker, and
the national figure as a dashed line labelled in words. Suppressed groups are written out
("hidden: fewer than N clients"), never drawn as an empty bar. The SVG is ``role="img"`` with a
``<title>`` and a ``<desc>`` that reads every figure; the page puts the same numbers in a table.
"""

from __future__ import annotations

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext as _

from rapport.outcomes.report import Group

WIDTH = 560
LABEL_WIDTH = 200
BAR_LEFT, BAR_RIGHT = LABEL_WIDTH + 8, WIDTH - 16
ROW = 28
TOP = 8
INK, MUTED, BAR, WHISKER = "#1d2330", "#4a5263", "#1f5c8a", "#1d2330"


def _x(percent: float) -> float:
    return BAR_LEFT + (BAR_RIGHT - BAR_LEFT) * percent / 100


def rate_chart(
    chart_id: str,
    title: str,
    rate: str,
    groups: list[Group],
    *,
    threshold: int,
    national: float | None = None,
    national_label: str = "",
) -> SafeString:
    height = TOP + ROW * max(1, len(groups)) + 24
    words: list[str] = []
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" role="img" class="outcome-chart" '
        f'viewBox="0 0 {WIDTH} {height}" aria-labelledby="{chart_id}-t {chart_id}-d">',
        f'<title id="{chart_id}-t">{escape(title)}</title>',
    ]
    body = []
    for index, group in enumerate(groups):
        y = TOP + ROW * index
        figure = group.rates[rate]
        body.append(
            f'<text x="{LABEL_WIDTH}" y="{y + 18}" text-anchor="end" fill="{INK}" '
            f'font-size="12">{escape(group.label[:32])}</text>'
        )
        if not figure.shown:
            hidden = _("hidden: fewer than %(n)s clients, or recoverable") % {"n": threshold}
            body.append(
                f'<text x="{BAR_LEFT + 4}" y="{y + 18}" fill="{MUTED}" font-size="12">'
                f"{escape(hidden)}</text>"
            )
            words.append(f"{group.label}: {hidden}.")
            continue
        percent = figure.percent or 0.0
        low, high = figure.low_percent or 0.0, figure.high_percent or 0.0
        body.append(
            f'<rect x="{BAR_LEFT}" y="{y + 6}" width="{_x(percent) - BAR_LEFT:.1f}" height="16" '
            f'fill="{BAR}"/>'
        )
        body.append(
            f'<line x1="{_x(low):.1f}" x2="{_x(high):.1f}" y1="{y + 14}" y2="{y + 14}" '
            f'stroke="{WHISKER}" stroke-width="2"/>'
            f'<line x1="{_x(low):.1f}" x2="{_x(low):.1f}" y1="{y + 8}" y2="{y + 20}" '
            f'stroke="{WHISKER}" stroke-width="2"/>'
            f'<line x1="{_x(high):.1f}" x2="{_x(high):.1f}" y1="{y + 8}" y2="{y + 20}" '
            f'stroke="{WHISKER}" stroke-width="2"/>'
        )
        words.append(
            _(
                "%(group)s: %(percent).0f %% (%(met)s of %(total)s; "
                "95 %% interval %(low).0f to %(high).0f %%)."
            )
            % {
                "group": group.label,
                "percent": percent,
                "met": figure.met,
                "total": figure.total,
                "low": low,
                "high": high,
            }
        )
    axis_y = TOP + ROW * max(1, len(groups)) + 4
    body.append(
        f'<line x1="{BAR_LEFT}" x2="{BAR_RIGHT}" y1="{axis_y}" y2="{axis_y}" stroke="{MUTED}"/>'
    )
    for tick in (0, 25, 50, 75, 100):
        body.append(
            f'<text x="{_x(tick):.1f}" y="{axis_y + 14}" text-anchor="middle" fill="{MUTED}" '
            f'font-size="11">{tick} %</text>'
        )
    if national is not None:
        body.append(
            f'<line x1="{_x(national):.1f}" x2="{_x(national):.1f}" y1="{TOP}" y2="{axis_y}" '
            f'stroke="{INK}" stroke-dasharray="4 3"/>'
        )
        words.append(national_label)
    parts.append(f'<desc id="{chart_id}-d">{escape(" ".join(words))}</desc>')
    parts += body
    parts.append("</svg>")
    return mark_safe("".join(parts))  # noqa: S308 (every text above is escaped)
