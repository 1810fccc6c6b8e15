"""Scoring answers against an instrument definition, and classifying change between two totals.

Pure functions over ``definitions.Definition``: no database, so the same code scores a
submission, re-scores a stored response and feeds charts and exports. Anything that does not fit
the definition (an unknown item, a value that is not one of the item's answers, too many
unanswered items) raises ``ScoringError`` rather than producing a number that looks valid.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from fractions import Fraction
from typing import Any, Literal

from rapport.measures.definitions import Definition

ChangeKind = Literal["improvement", "no_reliable_change", "deterioration"]


class ScoringError(ValueError):
    """Answers that cannot be scored against the definition; the message says why."""


@dataclass(frozen=True)
class Score:
    # Sum of the scored items (after reverse scoring); prorated totals are rounded half up.
    # None only when scoring an incomplete draft with ``allow_incomplete=True``.
    total: int | None
    band: str | None  # label of the band holding the total; None without bands or total
    subscales: dict[str, int] = field(default_factory=dict)  # only fully answered subscales
    subscale_positive: dict[str, bool] = field(default_factory=dict)  # where a cut-off exists
    risk_items: list[str] = field(default_factory=list)  # answered at/above their risk threshold
    caseness: bool | None = None  # None when the instrument has no caseness cut-off
    complete: bool = True  # every scored and every required item answered
    prorated: bool = False
    diagnosis: bool | None = None  # provisional diagnosis (PCL-5); None without a rule/answers
    missing: list[str] = field(default_factory=list)  # scored items left unanswered
    # Risk items left unanswered: not "no risk" -- worth asking about (PHQ-9 item 9 may be skipped
    # when the total is prorated).
    risk_unanswered: list[str] = field(default_factory=list)

    @property
    def risk_positive(self) -> bool:
        return bool(self.risk_items)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Score:
        return cls(
            total=data["total"],
            band=data["band"],
            subscales=dict(data["subscales"]),
            subscale_positive=dict(data["subscale_positive"]),
            risk_items=list(data["risk_items"]),
            caseness=data["caseness"],
            complete=data["complete"],
            prorated=data["prorated"],
            diagnosis=data["diagnosis"],
            missing=list(data.get("missing", [])),
            risk_unanswered=list(data.get("risk_unanswered", [])),
        )


@dataclass(frozen=True)
class Change:
    baseline: int
    current: int
    delta: int  # current - baseline
    kind: ChangeKind
    threshold: int  # points of change needed to count as reliable
    source: str  # where the threshold comes from (stored with every classification)
    # Baseline was at/above the caseness cut-off and current is below it; None without a cut-off.
    recovered: bool | None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def score(
    definition: Definition,
    answers: Mapping[str, int | None],
    *,
    allow_incomplete: bool = False,
) -> Score:
    """Score ``answers`` ({item key: answer value, or None for unanswered}).

    Missing scored items follow the definition's ``scoring.missing`` rule; beyond it this raises
    ``ScoringError``, unless ``allow_incomplete`` (a saved draft), which gives ``total=None``.
    """
    known = {item.key: item for item in definition.items}
    unknown = sorted(set(answers) - set(known))
    if unknown:
        raise ScoringError(f"{definition.short_name} has no item {', '.join(unknown)}.")
    for key, value in answers.items():
        if value is None:
            continue
        item = known[key]
        if isinstance(value, bool) or not isinstance(value, int) or item.option(value) is None:
            allowed = ", ".join(str(v) for v in item.values)
            raise ScoringError(
                f"{definition.short_name} item {key}: {value!r} is not one of its answers "
                f"({allowed})."
            )

    def answered(key: str) -> bool:
        return answers.get(key) is not None

    # Risk items are always required: no total is prorated around a skipped safety question.
    risk_keys = {item.key for item in definition.risk_items}
    unanswered_required = [
        item.key
        for item in definition.items
        if ((not item.scored and item.required) or item.key in risk_keys) and not answered(item.key)
    ]
    if unanswered_required and not allow_incomplete:
        raise ScoringError(
            f"{definition.short_name}: item {', '.join(unanswered_required)} needs an answer."
        )

    scoring = definition.scoring
    reverse = set(scoring.reverse)
    values: dict[str, int] = {}
    for key in scoring.items:
        raw = answers.get(key)
        if raw is None:
            continue
        item = known[key]
        values[key] = item.min_value + item.max_value - raw if key in reverse else raw
    missing = [key for key in scoring.items if key not in values]

    total: int | None
    prorated = False
    if not missing:
        total = sum(values.values())
    elif scoring.missing_method == "prorate" and len(missing) <= scoring.missing_allowed:
        # Mean of the answered items times the number of items, rounded half up.
        exact = Fraction(sum(values.values()) * len(scoring.items), len(values))
        total = math.floor(exact + Fraction(1, 2))
        prorated = True
    elif allow_incomplete:
        total = None
    elif scoring.missing_method == "prorate":
        raise ScoringError(
            f"{definition.short_name}: {len(missing)} items are unanswered "
            f"({', '.join(missing)}); at most {scoring.missing_allowed} may be left out."
        )
    else:
        raise ScoringError(
            f"{definition.short_name}: every item needs an answer; unanswered: "
            f"{', '.join(missing)}."
        )

    subscales: dict[str, int] = {}
    subscale_positive: dict[str, bool] = {}
    for subscale in definition.subscales:
        if all(key in values for key in subscale.items):
            subscales[subscale.key] = sum(values[key] for key in subscale.items)
            if subscale.positive_at_or_above is not None:
                subscale_positive[subscale.key] = (
                    subscales[subscale.key] >= subscale.positive_at_or_above
                )

    risk_items = [
        item.key
        for item in definition.items
        if item.risk_at_or_above is not None
        and answered(item.key)
        and answers[item.key] >= item.risk_at_or_above  # type: ignore[operator]
    ]

    risk_unanswered = [
        item.key
        for item in definition.items
        if item.risk_at_or_above is not None and not answered(item.key)
    ]

    band = definition.band_for(total) if total is not None else None
    caseness = (
        total >= definition.caseness.at_or_above
        if definition.caseness is not None and total is not None
        else None
    )

    diagnosis: bool | None = None
    rule = definition.diagnostic_rule
    if rule is not None and not missing:
        diagnosis = all(
            sum(
                1
                for key in definition.subscale(cluster).items
                if values[key] >= rule.item_counts_at_or_above
            )
            >= needed
            for cluster, needed in rule.clusters
        )

    return Score(
        total=total,
        band=band.label if band is not None else None,
        subscales=subscales,
        subscale_positive=subscale_positive,
        risk_items=risk_items,
        caseness=caseness,
        complete=not missing and not unanswered_required,
        prorated=prorated,
        diagnosis=diagnosis,
        missing=missing,
        risk_unanswered=risk_unanswered,
    )


def classify_change(definition: Definition, baseline: int, current: int) -> Change:
    """Reliable change from ``baseline`` to ``current`` total, with the threshold used.

    A change of at least the definition's ``reliable_change.points`` in the better direction is
    an improvement, in the worse direction a deterioration. Raises ``ScoringError`` for an
    instrument without a reliable-change threshold (check ``definition.reliable_change``).
    """
    reliable = definition.reliable_change
    if reliable is None:
        raise ScoringError(f"{definition.short_name} has no reliable-change threshold.")
    for name, total in (("baseline", baseline), ("current", current)):
        if (
            isinstance(total, bool)
            or not isinstance(total, int)
            or not definition.range_min <= total <= definition.range_max
        ):
            raise ScoringError(
                f"{definition.short_name} {name} total {total!r} is outside "
                f"{definition.range_min} to {definition.range_max}."
            )
    delta = current - baseline
    worsening = delta if definition.higher_is_worse else -delta
    kind: ChangeKind
    if worsening >= reliable.points:
        kind = "deterioration"
    elif worsening <= -reliable.points:
        kind = "improvement"
    else:
        kind = "no_reliable_change"
    recovered = None
    if definition.caseness is not None:
        cut_off = definition.caseness.at_or_above
        recovered = baseline >= cut_off and current < cut_off
    return Change(
        baseline=baseline,
        current=current,
        delta=delta,
        kind=kind,
        threshold=reliable.points,
        source=reliable.source,
        recovered=recovered,
    )
