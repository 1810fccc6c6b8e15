"""What a client's submitted responses say: the responses as they stand (a correction replaces
what it corrects), a response's score, its risk items in words that never read as "no risk",
and its answers and subscales as a page shows them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db.models import Exists, OuterRef, QuerySet
from django.utils.translation import gettext as _

from rapport.accounts.models import User
from rapport.measures.definitions import Definition, Item
from rapport.measures.instruments import definition_of
from rapport.measures.models import Response
from rapport.measures.scoring import Score


def effective_responses(client: User) -> QuerySet[Response]:
    """The client's responses, each corrected one replaced by its correction."""
    corrected = Response.objects.filter(corrects=OuterRef("pk"))
    return (
        Response.objects.filter(client=client)
        .exclude(Exists(corrected))
        .select_related("instrument")
        .order_by("submitted_at", "pk")
    )


def recent_responses(client: User, *, limit: int = 20) -> QuerySet[Response]:
    """The client's latest responses as they stand, for their list: no answers decrypted."""
    return (
        effective_responses(client)
        .only("pk", "submitted_at", "result", "instrument__short_name", "instrument__name")
        .order_by("-submitted_at")[:limit]
    )


def band_for_client(definition: Definition, band: str | None, *, risk_positive: bool) -> str:
    """The band a client reads beside a score. Nothing beside a positive risk answer: "Minimal"
    there would read as "all is well". Otherwise the band's words for clients (never a
    clinician's label such as "Probable PTSD"); a label the definition no longer has, nothing."""
    if risk_positive or not band:
        return ""
    return next((b.for_client for b in definition.bands if b.label == band), "")


def result_of(response: Response) -> Score:
    return Score.from_json(response.result_data())


@dataclass(frozen=True)
class RiskAnswer:
    key: str
    text: str
    answer: str | None  # the option's label, None when unanswered
    positive: bool


@dataclass(frozen=True)
class RiskSummary:
    """What a response says about risk, in words that never read as "no risk"."""

    has_risk_items: bool
    positive: bool
    answers: tuple[RiskAnswer, ...]
    wording: str


def _risk_answer(item: Item, value: int | None) -> RiskAnswer:
    option = item.option(value) if value is not None else None
    threshold = item.risk_at_or_above
    positive = value is not None and threshold is not None and value >= threshold
    return RiskAnswer(item.key, item.text, option.label if option else None, positive)


def risk_summary(response: Response) -> RiskSummary:
    """The risk items of a response and how to describe them.

    A risk item answered below its threshold is reported as "not endorsed", with the reminder
    that this does not rule out risk (PHQ-9 item 9 alone misses about a third of people at
    risk). Rapport never describes any answer as "no risk".
    """
    definition = definition_of(response.instrument)
    values = response.answer_values()
    answers = tuple(_risk_answer(item, values.get(item.key)) for item in definition.risk_items)
    if not answers:
        wording = _("This questionnaire does not ask about risk; it says nothing about risk.")
        return RiskSummary(False, False, (), wording)
    positive = [a for a in answers if a.positive]
    if positive:
        wording = _("Risk answer given: %(answers)s. Follow up with the client today.") % {
            "answers": "; ".join(_answer_words(a) for a in positive)
        }
    elif any(a.answer is None for a in answers):
        wording = _("The risk question was not answered: risk is unknown. Ask directly.")
    else:
        wording = _("Risk question not endorsed (%(answers)s) — this does not rule out risk.") % {
            "answers": "; ".join(_answer_words(a) for a in answers)
        }
    return RiskSummary(True, bool(positive), answers, wording)


def _answer_words(answer: RiskAnswer) -> str:
    return _("item %(key)s “%(answer)s”") % {"key": answer.key, "answer": answer.answer}


def subscale_rows(definition: Definition, result: Score) -> list[tuple[str, int, bool | None]]:
    return [
        (s.name, result.subscales[s.key], result.subscale_positive.get(s.key))
        for s in definition.subscales
        if s.key in result.subscales
    ]


@dataclass(frozen=True)
class AnswerRow:
    item: Item
    value: int | None
    label: str
    risk: bool


def answer_row(item: Item, value: Any, result: Score) -> AnswerRow:
    option = item.option(value) if isinstance(value, int) else None
    return AnswerRow(
        item=item,
        value=value if isinstance(value, int) else None,
        label=option.label if option else _("not answered"),
        risk=item.key in result.risk_items,
    )
