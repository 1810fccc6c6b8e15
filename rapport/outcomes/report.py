"""The outcomes report: rates over finished episodes, broken down, suppressed, with intervals.

Each client counts once, by their most recent finished episode in the reader's scope, so every
count is a count of clients (the unit the suppression threshold speaks of). An episode counts
when it has ended (care ended, or the practice's gap has passed since its last session), had at
least two sessions (a finished course of treatment) and has paired PHQ-9 and GAD-7 scores at its
start and end. Recovery and reliable recovery count only episodes that started at caseness.

Every table (a breakdown of one rate) is suppressed as a whole with its totals
(``rapport.lib.statistics.suppress``): a group's count of clients who met the rate and of those
who did not are its two cells. A percentage and interval are shown only where both are shown.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.db.models import Count, Exists, OuterRef, Q, QuerySet
from django.utils.functional import Promise
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from rapport.accounts.models import Practice, User
from rapport.care.models import CareRelationship
from rapport.lib.statistics import intervals_overlap, suppress, wilson_interval
from rapport.outcomes.access import OutcomesScope
from rapport.outcomes.models import EpisodeOutcome, MeasureOutcome, ModalityMix

RATES: tuple[tuple[str, Promise], ...] = (
    ("reliable_improvement", gettext_lazy("Reliable improvement")),
    ("reliable_deterioration", gettext_lazy("Reliable deterioration")),
    ("recovery", gettext_lazy("Recovery")),
    ("reliable_recovery", gettext_lazy("Reliable recovery")),
)
# Rates compared between groups (the others are shown, not compared, to keep the page short).
COMPARED = ("reliable_improvement", "recovery")
SESSION_BANDS = ((2, 5), (6, 10), (11, 20), (21, None))


@dataclass(frozen=True)
class Rate:
    met: int | None  # None: suppressed
    total: int | None
    low: float | None = None
    high: float | None = None

    @property
    def shown(self) -> bool:
        return self.met is not None and self.total is not None and self.total > 0

    @property
    def percent(self) -> float | None:
        if not self.shown:
            return None
        assert self.met is not None and self.total is not None  # noqa: S101
        return 100 * self.met / self.total

    @property
    def text(self) -> str:
        """The rate in words, or "hidden" (made here, not in the template: one per table cell)."""
        if not self.shown:
            return _("hidden")
        words = _("%(met)s of %(total)s: %(percent)s %% (95 %% CI %(low)s–%(high)s %%)")  # noqa: RUF001
        return words % {
            "met": self.met,
            "total": self.total,
            "percent": f"{self.percent:.0f}",
            "low": f"{self.low_percent:.0f}",
            "high": f"{self.high_percent:.0f}",
        }

    @property
    def low_percent(self) -> float | None:
        return None if self.low is None else 100 * self.low

    @property
    def high_percent(self) -> float | None:
        return None if self.high is None else 100 * self.high


@dataclass
class Group:
    key: str
    label: str
    rates: dict[str, Rate] = field(default_factory=dict)

    @property
    def cells(self) -> list[Rate]:
        """The rates in ``RATES`` order, as the tables' columns are."""
        return [self.rates[key] for key, _label in RATES]


@dataclass(frozen=True)
class Difference:
    rate: str
    rate_label: str
    higher: str
    lower: str


@dataclass
class Breakdown:
    key: str
    title: str
    groups: list[Group]
    total: Group
    differences: list[Difference]


@dataclass(frozen=True)
class Benchmark:
    rate: str
    label: str
    percent: int  # approximate by design: shown as "about N %"
    source: str

    @property
    def figure(self) -> str:
        return _("about %(percent)s %%") % {"percent": self.percent}


@dataclass
class Report:
    scope: OutcomesScope
    threshold: int
    gap_days: int
    rebuilding: bool  # episodes built with another gap wait for the worker's rebuild
    clients: int  # clients with a counted episode (shown only at or above the threshold)
    overall: Group
    breakdowns: list[Breakdown]
    measures: Breakdown
    benchmarks: list[Benchmark]


@dataclass(frozen=True)
class Counted:
    """One client's counted episode, as the report groups it."""

    episode_id: int
    therapist: str
    therapist_id: int
    modality_mix: str
    diagnosis: str
    sessions: int
    quarter: str
    outcome: dict[str, bool | None]


def benchmarks() -> list[Benchmark]:
    """The national figures shown beside the practice's: approximate, dated, sourced."""
    source = _(
        "NHS Talking Therapies for anxiety and depression, annual reports (NHS England / NHS "
        "Digital), 2017-18 to 2023-24: approximate national figures for finished courses of "
        "treatment in England, a different population from this practice."
    )
    return [
        Benchmark("recovery", _("Recovery"), 50, source),
        Benchmark("reliable_improvement", _("Reliable improvement"), 67, source),
    ]


def finished_episodes(scope: OutcomesScope, *, now: datetime, gap_days: int) -> Q:
    ended = Q(care_ended=True) | Q(last_session_at__lte=now - timedelta(days=gap_days))
    condition = ended & Q(sessions__gte=2)
    if scope.therapist is not None:
        condition &= Q(therapist=scope.therapist)
    return condition


def counted_queryset(
    scope: OutcomesScope, *, now: datetime, gap_days: int
) -> QuerySet[EpisodeOutcome]:
    """Each client's most recent finished episode with paired scores, in ``scope``."""
    counted = finished_episodes(scope, now=now, gap_days=gap_days) & Q(
        reliable_improvement__isnull=False
    )
    later = EpisodeOutcome.objects.filter(counted, client=OuterRef("client")).filter(
        Q(last_session_at__gt=OuterRef("last_session_at"))
        | Q(last_session_at=OuterRef("last_session_at"), pk__gt=OuterRef("pk"))
    )
    return EpisodeOutcome.objects.filter(counted).exclude(Exists(later))


def counted_episodes(scope: OutcomesScope, *, now: datetime, gap_days: int) -> list[Counted]:
    """The counted episodes (``counted_queryset``) as the report groups them."""
    rows = counted_queryset(scope, now=now, gap_days=gap_days).values_list(
        "pk",
        "therapist_id",
        "therapist__full_name",
        "modality_mix",
        "diagnosis_code",
        "diagnosis_description",
        "sessions",
        "quarter",
        "reliable_improvement",
        "reliable_deterioration",
        "recovery",
        "reliable_recovery",
    )
    unnamed = _("Unnamed therapist")
    rate_keys = [key for key, _label in RATES]
    return [
        Counted(
            episode_id=pk,
            therapist=therapist or unnamed,
            therapist_id=therapist_id,
            modality_mix=mix,
            diagnosis=f"{code} {description}".strip() if code else "",
            sessions=sessions,
            quarter=quarter,
            outcome=dict(zip(rate_keys, outcome, strict=True)),
        )
        for (
            pk,
            therapist_id,
            therapist,
            mix,
            code,
            description,
            sessions,
            quarter,
            *outcome,
        ) in rows
    ]


Tally = dict[str, tuple[int, int]]  # rate -> (clients who met it, clients counted for it)


def _tally(outcomes: list[dict[str, bool | None]]) -> Tally:
    tally = {}
    for rate, _label in RATES:
        values = [o[rate] for o in outcomes if o[rate] is not None]
        tally[rate] = (sum(1 for v in values if v), len(values))
    return tally


def _session_band(sessions: int) -> str:
    for low, high in SESSION_BANDS:
        if (high is None or sessions <= high) and sessions >= low:
            return f"{low}+" if high is None else f"{low}-{high}"
    return ""


def _rates_table(groups: list[tuple[str, str, Tally]], threshold: int) -> tuple[list[Group], Group]:
    """Groups (key, label, tally) → the shown rates, each rate's table suppressed whole."""
    shown = [Group(key, label) for key, label, _tally in groups]
    total = Group("all", _("All counted clients"))
    for rate, _label in RATES:
        counts = []
        for _key, _group_label, tally in groups:
            yes, counted = tally[rate]
            counts.append([yes, counted - yes])
        if not counts:
            total.rates[rate] = Rate(None, None)
            continue
        table = suppress(counts, threshold)
        for index, group in enumerate([*shown, total]):
            row = -1 if group is total else index
            met, not_met, all_ = table.shown(row, 0), table.shown(row, 1), table.shown(row, -1)
            if met is None or not_met is None or all_ is None or all_ == 0:
                group.rates[rate] = Rate(None, all_)
                continue
            low, high = wilson_interval(met, all_)
            group.rates[rate] = Rate(met, all_, low, high)
    return shown, total


def _differences(groups: list[Group]) -> list[Difference]:
    """Pairs of groups whose 95 % intervals do not overlap; none is claimed where they do."""
    found = []
    for rate, label in RATES:
        if rate not in COMPARED:
            continue
        shown = [g for g in groups if g.rates[rate].shown]
        for a_index, a in enumerate(shown):
            for b in shown[a_index + 1 :]:
                ra, rb = a.rates[rate], b.rates[rate]
                assert ra.low is not None and ra.high is not None  # noqa: S101
                assert rb.low is not None and rb.high is not None  # noqa: S101
                if intervals_overlap((ra.low, ra.high), (rb.low, rb.high)):
                    continue
                higher, lower = (a, b) if ra.low > rb.high else (b, a)
                found.append(Difference(rate, str(label), higher.label, lower.label))
    return found


def _breakdown(
    key: str,
    title: str,
    counted: list[Counted],
    group_of: Callable[[Counted], tuple[str, str]],
    threshold: int,
    order: Callable[[tuple[str, str]], Any] | None = None,
) -> Breakdown:
    members: dict[tuple[str, str], list[dict[str, bool | None]]] = defaultdict(list)
    for episode in counted:
        members[group_of(episode)].append(episode.outcome)
    keys = sorted(members, key=order or (lambda k: k[1].lower()))
    groups, total = _rates_table(
        [(k, label, _tally(members[(k, label)])) for k, label in keys], threshold
    )
    return Breakdown(key, title, groups, total, _differences(groups))


def _quarter_order(key: tuple[str, str]) -> Any:
    return key[0]


def _session_order(key: tuple[str, str]) -> Any:
    return int(key[0].split("-")[0].rstrip("+"))


def _mix_order(key: tuple[str, str]) -> Any:
    return [str(m) for m in ModalityMix].index(key[0])


def _measures(counted: QuerySet[EpisodeOutcome], threshold: int) -> Breakdown:
    """Single-measure outcomes of the counted episodes, per instrument (counted in SQL)."""
    counts: dict[str, Any] = {}
    for rate, _label in RATES:
        counts[f"{rate}_yes"] = Count("pk", filter=Q(**{rate: True}))
        counts[f"{rate}_all"] = Count("pk", filter=Q(**{f"{rate}__isnull": False}))
    rows: Any = (
        MeasureOutcome.objects.filter(episode__in=counted)
        .values("instrument_key")
        .annotate(**counts)
        .order_by("instrument_key")
    )
    labels = {"phq9": "PHQ-9", "gad7": "GAD-7", "k10": "K10", "pcl5": "PCL-5"}
    groups, total = _rates_table(
        [
            (
                row["instrument_key"],
                labels.get(row["instrument_key"], row["instrument_key"].upper()),
                {rate: (row[f"{rate}_yes"], row[f"{rate}_all"]) for rate, _label in RATES},
            )
            for row in rows
        ],
        threshold,
    )
    return Breakdown("measures", _("Single measures"), groups, total, [])


def outcomes_report(scope: OutcomesScope, *, now: datetime) -> Report:
    practice = Practice.get()
    threshold = practice.outcomes_suppression_threshold
    gap_days = practice.outcomes_episode_gap_days
    counted = counted_episodes(scope, now=now, gap_days=gap_days)
    mix_labels = {key: str(label) for key, label in ModalityMix.choices}
    no_diagnosis = _("No primary diagnosis recorded")
    breakdowns = [
        _breakdown(
            "modality",
            _("By modality mix of the episode"),
            counted,
            lambda e: (e.modality_mix, mix_labels[e.modality_mix]),
            threshold,
            _mix_order,
        ),
    ]
    if scope.by_therapist:
        breakdowns.append(
            _breakdown(
                "therapist",
                _("By therapist"),
                counted,
                lambda e: (str(e.therapist_id), e.therapist),
                threshold,
            )
        )
    breakdowns += [
        _breakdown(
            "diagnosis",
            _("By presenting concern (primary diagnosis)"),
            counted,
            lambda e: (e.diagnosis or "-", e.diagnosis or no_diagnosis),
            threshold,
        ),
        _breakdown(
            "sessions",
            _("By number of sessions"),
            counted,
            lambda e: (_session_band(e.sessions), _session_band(e.sessions)),
            threshold,
            _session_order,
        ),
        _breakdown(
            "quarter",
            _("By quarter the episode ended"),
            counted,
            lambda e: (e.quarter, e.quarter),
            threshold,
            _quarter_order,
        ),
    ]
    _groups, overall = _rates_table([("all", "", _tally([e.outcome for e in counted]))], threshold)
    return Report(
        scope=scope,
        threshold=threshold,
        gap_days=gap_days,
        rebuilding=EpisodeOutcome.objects.exclude(gap_days=gap_days).exists(),
        clients=len(counted),
        overall=overall,
        breakdowns=breakdowns,
        measures=_measures(counted_queryset(scope, now=now, gap_days=gap_days), threshold),
        benchmarks=benchmarks(),
    )


@dataclass(frozen=True)
class Caseload:
    episodes: list[EpisodeOutcome]  # of clients in the therapist's active care, by name
    former_clients: int  # clients with a finished episode whose care has ended: not listed


def caseload_clients(therapist: User, *, now: datetime) -> Caseload:
    """A therapist's own clients' finished episodes with them (the drill-down)."""
    practice = Practice.get()
    scope = OutcomesScope(therapist=therapist, by_therapist=False)
    episodes = (
        EpisodeOutcome.objects.filter(
            finished_episodes(scope, now=now, gap_days=practice.outcomes_episode_gap_days)
        )
        .select_related("client", "relationship")
        .order_by("client__full_name", "client_id", "-last_session_at")
    )
    active = CareRelationship.Status.ACTIVE
    listed = [e for e in episodes if e.relationship.status == active]
    former = {e.client_id for e in episodes if e.relationship.status != active}
    return Caseload(listed, len(former - {e.client_id for e in listed}))
