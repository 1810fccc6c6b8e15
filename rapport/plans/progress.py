"""A goal's progress, computed from the measures the client already completed.

A goal tied to a measure ("PHQ-9 below 10, sustained over two scores") is **met** when the
client's latest N scores on that instrument since the plan version began all meet the target,
**not met** once its target date has passed without that, **in progress** while there are scores
but the target is not (yet) met, and **not started** before the first score. Each status comes
with the scores it was computed from. Corrected responses count as their correction.

The client's scores are read once for all goals (one query, results decrypted in Python).
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, time
from typing import Any

from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from rapport.accounts.models import User
from rapport.measures.models import Instrument
from rapport.measures.results import effective_responses
from rapport.plans.models import Comparison, Goal


class Status:
    NOT_STARTED = "not_started"
    IN_PROGRESS = "in_progress"
    MET = "met"
    NOT_MET = "not_met"


STATUS_WORDS = {
    Status.NOT_STARTED: gettext_lazy("Not started"),
    Status.IN_PROGRESS: gettext_lazy("In progress"),
    Status.MET: gettext_lazy("Met"),
    Status.NOT_MET: gettext_lazy("Not met by the target date"),
}


@dataclass(frozen=True)
class ScorePoint:
    at: datetime
    total: int
    meets: bool


@dataclass
class GoalProgress:
    goal: Goal
    status: str
    scores: list[ScorePoint] = field(default_factory=list)  # what the status was computed from
    target: str = ""  # "PHQ-9 below 10, sustained over 2 scores"
    instrument: str = ""  # the instrument's short name, "PHQ-9"

    @property
    def words(self) -> str:
        return str(STATUS_WORDS[self.status])

    @property
    def latest(self) -> ScorePoint | None:
        return self.scores[-1] if self.scores else None


def meets(comparison: str, total: int, threshold: int) -> bool:
    return {
        Comparison.BELOW: total < threshold,
        Comparison.AT_OR_BELOW: total <= threshold,
        Comparison.ABOVE: total > threshold,
        Comparison.AT_OR_ABOVE: total >= threshold,
    }[Comparison(comparison)]


def target_words(goal: Goal, instrument_name: str | None = None) -> str:
    """ "PHQ-9 below 10, sustained over 2 scores" """
    if not goal.has_measure:
        return ""
    words = _("%(name)s %(comparison)s %(threshold)s") % {
        "name": instrument_name or goal.instrument_key.upper(),
        "comparison": Comparison(goal.comparison).label,
        "threshold": goal.threshold,
    }
    if goal.sustained_over > 1:
        words += ", " + _("sustained over %(n)s scores") % {"n": goal.sustained_over}
    return words


def scores_by_instrument(
    client: User, keys: Iterable[str]
) -> tuple[dict[str, list[tuple[datetime, int]]], dict[str, str]]:
    """Every total of the client by instrument key, oldest first, and the short name of each
    instrument in ``keys`` (two queries)."""
    rows = effective_responses(client).values_list("instrument__key", "result", "submitted_at")
    scores: dict[str, list[tuple[datetime, int]]] = defaultdict(list)
    for key, result_json, submitted_at in rows:
        result: dict[str, Any] = json.loads(result_json)
        if result.get("total") is not None:
            scores[key].append((submitted_at, int(result["total"])))
    names = dict(
        Instrument.objects.filter(key__in=set(keys))
        .order_by("imported_at", "pk")
        .values_list("key", "short_name")
    )  # the newest version's name wins
    return scores, names


def progress_of_goal(
    goal: Goal,
    since: date,
    scores: dict[str, list[tuple[datetime, int]]],
    *,
    names: dict[str, str] | None = None,
    today: date | None = None,
) -> GoalProgress:
    today, names = today or timezone.localdate(), names or {}
    if not goal.has_measure or goal.threshold is None:
        return GoalProgress(goal, Status.NOT_STARTED)
    name = names.get(goal.instrument_key, goal.instrument_key.upper())
    target = target_words(goal, name)
    # Scores from the start of the day ``since`` in the current time zone (one comparison per
    # score rather than a time-zone conversion: a record prints hundreds of goals).
    start = datetime.combine(since, time(), timezone.get_current_timezone())
    points = [
        ScorePoint(at, total, meets(goal.comparison, total, goal.threshold))
        for at, total in scores.get(goal.instrument_key, [])
        if at >= start
    ]
    latest = points[-goal.sustained_over :]
    if len(latest) == goal.sustained_over and all(p.meets for p in latest):
        return GoalProgress(goal, Status.MET, points, target, name)
    if goal.target_on is not None and goal.target_on < today:
        return GoalProgress(goal, Status.NOT_MET, points, target, name)
    status = Status.IN_PROGRESS if points else Status.NOT_STARTED
    return GoalProgress(goal, status, points, target, name)


def goal_progress(client: User, goals: Iterable[Goal], since: date) -> list[GoalProgress]:
    """Each goal's progress from the client's scores since ``since`` (one query)."""
    goals = list(goals)
    keys = [g.instrument_key for g in goals if g.has_measure]
    scores, names = scores_by_instrument(client, keys) if keys else ({}, {})
    return [progress_of_goal(goal, since, scores, names=names) for goal in goals]


@dataclass
class VersionView:
    """A version as its pages show it: goals grouped by problem with their progress, and the
    interventions (each under its goal, or for the whole plan)."""

    version: Any
    problems: list[tuple[str, list[GoalProgress]]]
    interventions: list[Any]


def version_view(
    client: User, version: Any, goals: list[Goal], interventions: list[Any]
) -> VersionView:
    progress = goal_progress(client, goals, version.starts_on)
    problems: dict[str, list[GoalProgress]] = {}
    for item in progress:
        problems.setdefault(item.goal.problem, []).append(item)
    return VersionView(version, list(problems.items()), interventions)
