"""A client's progress: every instrument's scores over time with their changes, charted, and
the after-session feedback, for the progress pages.

Built for a client already reached through an accessor (``rapport.care.access``). A fixed
number of queries however many responses (``bench/progress_page.py`` holds it to that).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.urls import reverse
from django.utils.safestring import SafeString
from django.utils.translation import gettext as _

from rapport.accounts.models import User
from rapport.measures import charts
from rapport.measures.definitions import Definition
from rapport.measures.instruments import definition_of, is_feedback
from rapport.measures.models import Instrument, Response
from rapport.measures.results import band_for_client
from rapport.measures.scoring import Change, Score, classify_change
from rapport.visits.models import Visit


@dataclass
class ScoreRow:
    """One score on the progress page, with its table text worked out once."""

    response_id: int
    at: datetime
    score: Score
    risk_positive: bool = False
    change: Change | None = None  # against the baseline
    since_last: Change | None = None
    when: str = ""
    score_text: str = ""
    change_text: str = ""
    url: str = ""
    client_band: str = ""  # what the client reads (rapport.measures.results.band_for_client)


@dataclass
class InstrumentProgress:
    instrument: Instrument
    definition: Definition
    rows: list[ScoreRow] = field(default_factory=list)
    chart: SafeString | None = None

    @property
    def baseline(self) -> ScoreRow | None:
        return self.rows[0] if self.rows else None

    @property
    def latest(self) -> ScoreRow | None:
        return self.rows[-1] if self.rows else None


@dataclass
class FeedbackTrend:
    """Session feedback of one form: each item's answer after each session, and the total."""

    instrument: Instrument
    definition: Definition
    response_ids: list[int] = field(default_factory=list)
    chart: SafeString | None = None
    rows: list[list[str]] = field(default_factory=list)  # date, each answer, total


def progress_of(
    client: User, *, sessions_of: User | None, chart_prefix: str, clinical: bool = True
) -> tuple[list[InstrumentProgress], list[FeedbackTrend]]:
    """Every instrument's scores of ``client`` in order, with change since baseline and last.

    A fixed number of queries however many responses: the responses (answers stay encrypted in
    the database; only each result is decrypted, once), their instruments, visits, and the
    feedback answers. No model instance per response: plain rows are enough here.
    """
    responses = list(
        Response.objects.filter(client=client)
        .order_by("submitted_at", "pk")
        .values_list("pk", "instrument_id", "result", "submitted_at", "corrects_id")
    )
    corrected = {row[4] for row in responses if row[4] is not None}
    instruments = {i.pk: i for i in Instrument.objects.filter(pk__in={row[1] for row in responses})}
    by_instrument: dict[int, InstrumentProgress] = {}
    feedback: dict[int, FeedbackTrend] = {}
    scores: dict[int, tuple[datetime, Score]] = {}
    results_at = reverse("measure_result", args=[0]).removesuffix("0/")
    for pk, instrument_id, result_json, submitted_at, _corrects in responses:
        if pk in corrected:
            continue  # replaced by its correction
        instrument = instruments[instrument_id]
        definition = definition_of(instrument)
        result = Score.from_json(json.loads(result_json))
        if is_feedback(definition):
            if clinical:
                trend = feedback.setdefault(
                    instrument.pk, FeedbackTrend(instrument=instrument, definition=definition)
                )
                trend.response_ids.append(pk)
                scores[pk] = (submitted_at, result)
            continue
        progress = by_instrument.setdefault(
            instrument.pk, InstrumentProgress(instrument=instrument, definition=definition)
        )
        progress.rows.append(
            ScoreRow(pk, submitted_at, result, result.risk_positive, url=f"{results_at}{pk}/")
        )
    visits = Visit.objects.filter(client=client, started_at__isnull=False)
    if sessions_of is not None:
        visits = visits.filter(therapist=sessions_of)
    sessions = [
        charts.Session(at, modality)
        for at, modality in visits.order_by("started_at").values_list("started_at", "modality")
        if at is not None
    ]
    progress_list = sorted(by_instrument.values(), key=lambda p: p.instrument.short_name)
    names = _change_words()
    for progress in progress_list:
        _classify(progress, names)
        progress.chart = _chart(
            progress,
            sessions,
            f"{chart_prefix}-{progress.instrument.pk}",
            clinical=clinical,
        )
    if feedback:
        answers = dict(Response.objects.filter(pk__in=list(scores)).values_list("pk", "answers"))
        for trend in feedback.values():
            for pk in trend.response_ids:
                at, result = scores[pk]
                labels = _labels(trend.definition, _json(answers.get(pk)))
                total = "—" if result.total is None else str(result.total)
                trend.rows.append([charts.short_date(at), *labels, total])
            trend.chart = charts.progress_chart(
                chart_id=f"{chart_prefix}-feedback-{trend.instrument.pk}",
                name=trend.definition.short_name,
                points=[
                    charts.Point(at, total)
                    for at, total in (
                        (scores[pk][0], scores[pk][1].total) for pk in trend.response_ids
                    )
                    if total is not None
                ],
                sessions=sessions,
                bands=[charts.Band(b.min, b.max, _(b.label)) for b in trend.definition.bands],
                low=trend.definition.range_min,
                high=trend.definition.range_max,
                higher_is_worse=trend.definition.higher_is_worse,
            )
    return progress_list, list(feedback.values())


def _change_words() -> dict[str, str]:
    return {
        "improvement": _("Reliable improvement"),
        "no_reliable_change": _("No reliable change"),
        "deterioration": _("Reliable deterioration"),
        "baseline": _("baseline"),
        "prorated": _(" (prorated)"),
    }


def _json(text: str | None) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(text) if text else {}
    return data


def _labels(definition: Definition, answers: dict[str, Any]) -> list[str]:
    """Each item's answer as "value label", in the definition's order."""
    labels = []
    for item in definition.items:
        value = answers.get(item.key)
        option = item.option(value) if isinstance(value, int) else None
        labels.append(f"{value} {option.label}" if option else "—")
    return labels


def _classify(progress: InstrumentProgress, words: dict[str, str]) -> None:
    """Each score's change since the baseline and since the one before, and its table text."""
    definition = progress.definition
    reliable = definition.reliable_change is not None
    baseline = progress.rows[0].score.total if progress.rows else None
    previous: int | None = None
    for index, row in enumerate(progress.rows):
        row.when = charts.short_date(row.at, with_time=True)
        total = row.score.total
        row.score_text = ("" if total is None else str(total)) + (
            words["prorated"] if row.score.prorated else ""
        )
        row.client_band = band_for_client(
            definition, row.score.band, risk_positive=row.risk_positive
        )
        if index == 0:
            row.change_text = words["baseline"]
        if total is None:
            continue
        if reliable and baseline is not None and index > 0:
            row.change = classify_change(definition, baseline, total)
            row.change_text = f"{row.change.delta:+d} · {words[row.change.kind]}"
        elif index > 0 and baseline is not None:
            row.change_text = f"{total - baseline:+d}"
        if reliable and previous is not None:
            row.since_last = classify_change(definition, previous, total)
        previous = total


def _words(label: str | None) -> str | None:
    """A band's label in the reader's language (the built-in ones are in ``words``)."""
    return _(label) if label else None


def _chart(
    progress: InstrumentProgress, sessions: list[charts.Session], chart_id: str, *, clinical: bool
) -> SafeString:
    """The clinician's chart names the bands by their labels; the client's by the words for
    clients, and a score with a risk answer carries no band."""
    definition = progress.definition
    return charts.progress_chart(
        chart_id=chart_id,
        name=definition.short_name,
        points=[
            charts.Point(
                row.at,
                row.score.total,
                _words(row.score.band if clinical else row.client_band),
                row.change.kind if row.change is not None else None,
            )
            for row in progress.rows
            if row.score.total is not None
        ],
        sessions=sessions,
        bands=[
            charts.Band(b.min, b.max, _(b.label if clinical else b.for_client))
            for b in definition.bands
        ],
        low=definition.range_min,
        high=definition.range_max,
        higher_is_worse=definition.higher_is_worse,
        width=charts.WIDTH if clinical else charts.NARROW,
    )
