"""The outcome definitions, as pure functions of first and last scores.

NHS Talking Therapies for anxiety and depression (formerly IAPT), as NHS England's manual and
the annual reports' definitions state them (docs/architecture.md, "Outcomes", has the sources):
- caseness: PHQ-9 >= 10 or GAD-7 >= 8;
- reliable change: PHQ-9 by 6 or more points, GAD-7 by 4 or more;
- reliable improvement: a reliable decrease on at least one measure and no reliable increase on
  the other; reliable deterioration: the mirror image. A reliable decrease on one and a reliable
  increase on the other is neither: deterioration on one measure always prevents improvement;
- recovery: at caseness at the first score and below caseness on both at the last (counted
  only for episodes that started at caseness); reliable recovery: recovery and reliable
  improvement.
Single measures use the same rules with their own cut-off and reliable change (from the
instrument definition). Every instrument here scores higher when worse.
"""

from __future__ import annotations

from dataclasses import dataclass

PHQ9_KEY = "phq9"
GAD7_KEY = "gad7"
PHQ9_CASENESS = 10
GAD7_CASENESS = 8
PHQ9_RELIABLE_CHANGE = 6
GAD7_RELIABLE_CHANGE = 4


@dataclass(frozen=True)
class Outcome:
    caseness_at_start: bool
    reliable_improvement: bool
    reliable_deterioration: bool
    recovery: bool | None  # None: did not start at caseness (not in the recovery rates)
    reliable_recovery: bool | None


@dataclass(frozen=True)
class Scores:
    first: int
    last: int
    caseness_at_or_above: int
    reliable_change: int

    @property
    def reliably_better(self) -> bool:
        return self.first - self.last >= self.reliable_change

    @property
    def reliably_worse(self) -> bool:
        return self.last - self.first >= self.reliable_change

    @property
    def case_at_start(self) -> bool:
        return self.first >= self.caseness_at_or_above

    @property
    def case_at_end(self) -> bool:
        return self.last >= self.caseness_at_or_above


def combined_outcome(measures: list[Scores]) -> Outcome:
    """The outcome over one or more measures taken together (two for PHQ-9 + GAD-7)."""
    if not measures:
        raise ValueError("An outcome needs at least one measure.")
    better = any(m.reliably_better for m in measures)
    worse = any(m.reliably_worse for m in measures)
    improvement = better and not worse
    deterioration = worse and not better
    at_start = any(m.case_at_start for m in measures)
    if not at_start:
        return Outcome(False, improvement, deterioration, None, None)
    recovered = not any(m.case_at_end for m in measures)
    return Outcome(True, improvement, deterioration, recovered, recovered and improvement)


def paired_outcome(phq9_first: int, phq9_last: int, gad7_first: int, gad7_last: int) -> Outcome:
    """The NHS Talking Therapies outcome of an episode from its PHQ-9 and GAD-7 scores."""
    return combined_outcome(
        [
            Scores(phq9_first, phq9_last, PHQ9_CASENESS, PHQ9_RELIABLE_CHANGE),
            Scores(gad7_first, gad7_last, GAD7_CASENESS, GAD7_RELIABLE_CHANGE),
        ]
    )
