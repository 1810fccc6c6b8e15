"""Progress charts drawn on the server as accessible SVG: no chart library in the browser.

A chart shows one instrument's scores over time on its severity bands, marks each reliable change
since the baseline with its own shape (never colour alone), and ticks the session dates with a
letter for their modality. The SVG is ``role="img"`` with a ``<title>`` and a ``<desc>`` that
summarises it in words; the page shows the same numbers as a table next to it.
"""

from __future__ import annotations

import functools
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.utils import timezone
from django.utils.dates import MONTHS_3
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import get_language, ngettext
from django.utils.translation import gettext as _

from rapport.core.clock import clock

IMPROVEMENT = "improvement"
NO_RELIABLE_CHANGE = "no_reliable_change"
DETERIORATION = "deterioration"

WIDTH, HEIGHT = 560, 272
NARROW = 380  # for pages mostly read on a phone: the same text, less squeezed
LEFT, RIGHT, TOP = 44, 12, 12
PLOT_BOTTOM = 232  # the score area; session ticks and the dates sit below it
SESSION_ROW = 250
# Light tints from calm to warm, so the darkest ink stays readable on every band (AA).
BAND_FILLS = ["#e8f3ea", "#f3f1dc", "#f8e9d2", "#f7dfd3", "#f2d3d3", "#ecc9cf"]
INK, MUTED, LINE = "#1d2330", "#4a5263", "#1f5c8a"
MODALITY_LETTERS = {"video": "V", "audio": "A", "text": "T"}


@dataclass(frozen=True)
class Band:
    low: int
    high: int
    label: str


@dataclass(frozen=True)
class Point:
    """One score; ``change`` is the reliable-change class against the baseline (None for it)."""

    at: datetime
    score: int
    band: str | None = None
    change: str | None = None


@dataclass(frozen=True)
class Session:
    at: datetime
    modality: str  # "video" | "audio" | "text"


@functools.cache
def _months(language: str | None) -> tuple[str, ...]:
    return ("", *(str(MONTHS_3[n]).title() for n in range(1, 13)))


def short_date(value: datetime, *, with_time: bool = False) -> str:
    """Like "3 Mar 2026" (and ", 14:05" or ", 2:05 PM") in the viewer's zone: Django's "j M Y"
    without its per-call format parsing and translation lookups (a page formats hundreds of
    dates)."""
    local = timezone.localtime(value)
    text = f"{local.day} {_months(get_language())[local.month]} {local.year}"
    return f"{text}, {clock(local, convert=False)}" if with_time else text


def modality_names() -> dict[str, str]:
    return {"video": _("video"), "audio": _("audio only"), "text": _("live text")}


def change_names() -> dict[str, str]:
    return {
        IMPROVEMENT: _("reliable improvement"),
        NO_RELIABLE_CHANGE: _("no reliable change"),
        DETERIORATION: _("reliable deterioration"),
    }


def describe(
    name: str, points: Sequence[Point], sessions: Sequence[Session], bands: Sequence[Band]
) -> str:
    """The chart in words: what a sighted reader takes from it at a glance."""
    if not points:
        return _("No %(name)s scores yet.") % {"name": name}
    first, last = points[0], points[-1]
    scores = [p.score for p in points]
    parts = [
        _("%(count)d %(name)s scores from %(start)s to %(end)s.")
        % {
            "count": len(points),
            "name": name,
            "start": short_date(first.at),
            "end": short_date(last.at),
        },
        _("First %(first)s, latest %(latest)s, lowest %(low)s, highest %(high)s.")
        % {
            "first": _with_band(first),
            "latest": _with_band(last),
            "low": min(scores),
            "high": max(scores),
        },
    ]
    changes = Counter(p.change for p in points[1:] if p.change)
    if changes:
        names = change_names()
        shown = [
            ngettext("%(n)d score shows %(what)s", "%(n)d scores show %(what)s", n)
            % {"n": n, "what": names[kind]}
            for kind, n in sorted(changes.items())
        ]
        parts.append(_("Against the first score: %(list)s.") % {"list": ", ".join(shown)})
    if sessions:
        names = modality_names()
        by_modality = Counter(s.modality for s in sessions)
        parts.append(
            _("%(count)d sessions: %(list)s.")
            % {
                "count": len(sessions),
                "list": ", ".join(f"{n} {names.get(m, m)}" for m, n in sorted(by_modality.items())),
            }
        )
    if bands:
        parts.append(
            _("Shaded bands: %(list)s.")
            % {"list": ", ".join(f"{b.label} {b.low} to {b.high}" for b in bands)}
        )
    return " ".join(parts)


def _with_band(point: Point) -> str:
    return f"{point.score} ({point.band})" if point.band else str(point.score)


class _Scale:
    def __init__(
        self, start: datetime, end: datetime, low: int, high: int, higher_is_worse: bool, width: int
    ) -> None:
        self.width = width
        if end <= start:
            start, end = start - timedelta(days=1), start + timedelta(days=1)
        self.start, self.span = start, (end - start).total_seconds()
        self.low, self.high = low, max(high, low + 1)
        self.higher_is_worse = higher_is_worse

    def x(self, at: datetime) -> float:
        return LEFT + (self.width - LEFT - RIGHT) * (at - self.start).total_seconds() / self.span

    def y(self, score: float) -> float:
        # Scores grow upwards, as clinicians read them on paper.
        share = (score - self.low) / (self.high - self.low)
        return PLOT_BOTTOM - (PLOT_BOTTOM - TOP) * share


def _marker(x: float, y: float, change: str | None) -> str:
    """Markup of one score's marker (numbers only: nothing to escape)."""
    if change == IMPROVEMENT:  # a diamond
        return (
            f'<path d="M{x:.1f} {y - 7:.1f}L{x + 7:.1f} {y:.1f}L{x:.1f} {y + 7:.1f}'
            f'L{x - 7:.1f} {y:.1f}Z" fill="#1e6b3a" stroke="#ffffff"/>'
        )
    if change == DETERIORATION:  # a square
        return (
            f'<rect x="{x - 6:.1f}" y="{y - 6:.1f}" width="12" height="12" fill="#a32020" '
            'stroke="#ffffff"/>'
        )
    return (
        f'<circle cx="{x:.1f}" cy="{y:.1f}" r="4.5" fill="#ffffff" stroke="{LINE}" '
        'stroke-width="2"/>'
    )


def progress_chart(
    *,
    chart_id: str,
    name: str,
    points: Sequence[Point],
    sessions: Sequence[Session] = (),
    bands: Sequence[Band] = (),
    low: int,
    high: int,
    higher_is_worse: bool = True,
    width: int = WIDTH,
) -> SafeString:
    """The SVG of one instrument's scores. ``chart_id`` must be unique on the page.

    Built from f-strings for speed (a chart has hundreds of elements): every number is
    formatted here, and every piece of text goes through ``escape``.
    """
    cid = escape(chart_id)
    title = escape(_("%(name)s scores over time") % {"name": name})
    desc = escape(describe(name, points, sessions, bands))
    moments = [p.at for p in points] + [s.at for s in sessions]
    now = timezone.now()
    scale = _Scale(
        min(moments, default=now), max(moments, default=now), low, high, higher_is_worse, width
    )
    right = width - RIGHT
    out: list[str] = [
        f'<svg class="chart" id="{cid}" role="img" viewBox="0 0 {width} {HEIGHT}" '
        f'aria-labelledby="{cid}-title {cid}-desc" font-family="system-ui, sans-serif" '
        f'font-size="12"><title id="{cid}-title">{title}</title>'
        f'<desc id="{cid}-desc">{desc}</desc>'
    ]
    # Severity bands, shaded and named; a band spans its whole last point.
    ordered = sorted(bands, key=lambda b: b.low)
    for i, band in enumerate(ordered):
        shade = i if higher_is_worse else len(ordered) - 1 - i
        fill = BAND_FILLS[min(round(shade * (len(BAND_FILLS) - 1) / max(len(ordered) - 1, 1)), 5)]
        top = scale.y(min(band.high + 0.5, scale.high))
        bottom = scale.y(max(band.low - 0.5, scale.low))
        out.append(
            f'<rect x="{LEFT}" y="{top:.1f}" width="{right - LEFT}" height="{bottom - top:.1f}" '
            f'fill="{fill}"/>'
        )
        if bottom - top >= 13:
            out.append(
                f'<text x="{LEFT + 4}" y="{top + 12:.1f}" fill="{MUTED}" font-size="11">'
                f"{escape(band.label)}</text>"
            )
    # The score axis: the range ends and where each band starts.
    for tick in sorted({low, high, *(b.low for b in ordered)}):
        y = scale.y(tick)
        out.append(
            f'<line x1="{LEFT}" x2="{right}" y1="{y:.1f}" y2="{y:.1f}" stroke="#d5d8de"/>'
            f'<text x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end" fill="{INK}">'
            f"{int(tick)}</text>"
        )
    out.append(
        f'<line x1="{LEFT}" x2="{right}" y1="{PLOT_BOTTOM}" y2="{PLOT_BOTTOM}" stroke="{MUTED}"/>'
    )
    # Sessions: a tick under the plot with the modality's letter.
    for session in sessions:
        x = f"{scale.x(session.at):.1f}"
        letter = MODALITY_LETTERS.get(session.modality, "?")
        out.append(
            f'<line x1="{x}" x2="{x}" y1="{PLOT_BOTTOM}" y2="{PLOT_BOTTOM + 8}" stroke="{INK}"/>'
            f'<text x="{x}" y="{SESSION_ROW}" text-anchor="middle" fill="{INK}" font-size="11">'
            f"{letter}</text>"
        )
    # The scores: a line through them, each marked by its reliable-change class.
    if points:
        path = " ".join(f"{scale.x(p.at):.1f},{scale.y(p.score):.1f}" for p in points)
        out.append(f'<polyline points="{path}" fill="none" stroke="{LINE}" stroke-width="2"/>')
        out.extend(_marker(scale.x(p.at), scale.y(p.score), p.change) for p in points)
    # Dates at both ends; the legend is HTML under the chart, so it reflows on a phone.
    if moments:
        first, last = min(moments), max(moments)
        out.append(
            f'<text x="{LEFT}" y="{SESSION_ROW + 14}" fill="{MUTED}">'
            f"{escape(short_date(first))}</text>"
        )
        if last != first:
            out.append(
                f'<text x="{right}" y="{SESSION_ROW + 14}" text-anchor="end" fill="{MUTED}">'
                f"{escape(short_date(last))}</text>"
            )
    out.append("</svg>")
    return mark_safe("".join(out))  # noqa: S308 (numbers formatted here; all text escaped)


def marker_icon(change: str | None) -> SafeString:
    """The marker of ``change`` as a small decorative SVG, for the legend under a chart."""
    return mark_safe(  # noqa: S308 (numbers only)
        '<svg class="marker" viewBox="0 0 16 16" width="16" height="16" aria-hidden="true" '
        f'focusable="false">{_marker(8, 8, change)}</svg>'
    )
