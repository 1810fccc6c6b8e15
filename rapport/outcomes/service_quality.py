"""How the service runs, by modality: attendance, technical health and feedback on the
relationship (docs/architecture.md, "Service quality").

The rules are plain functions over plain values (``attendance_class``, ``network_class``,
``session_technical``), tested at their boundaries; ``service_quality`` loads what they need for
one reader's scope and builds tables whose small cells are suppressed (``rapport.lib.statistics``).

A session's modality is the one it was booked as (the visit's planned modality): a step down is
then a fact about a session booked as video or audio. Nothing in a call records the client's
network as a class, so one is derived from the timeline: the share of a client's sessions in which
their own page reported a poor connection (``network_class``).
"""

from __future__ import annotations

import json
import math
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from django.db.models import Count, F, Q, Sum
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from rapport.accounts.models import Practice
from rapport.lib.statistics import Z_95, suppress, wilson_interval
from rapport.outcomes.access import OutcomesScope
from rapport.outcomes.models import EpisodeOutcome, SessionOutcome
from rapport.outcomes.report import finished_episodes
from rapport.scheduling.models import Appointment, AppointmentStatus, Modality
from rapport.visits.models import EventKind, Visit, VisitEvent, VisitStatus
from rapport.visits.services import call_health

MODALITIES = [Modality.VIDEO, Modality.AUDIO, Modality.TEXT]

# Attendance of a booked session whose time has passed. Cancelled in good time is no attendance
# failure (as in the NHS's "did not attend" rate) and is left out of the denominator.
COMPLETED, LATE_CANCELLED, NO_SHOW, NOT_RECORDED = (
    "completed",
    "late_cancelled",
    "no_show",
    "not_recorded",
)
ATTENDANCE = [COMPLETED, LATE_CANCELLED, NO_SHOW, NOT_RECORDED]
ATTENDANCE_WORDS = {
    COMPLETED: _("Completed"),
    LATE_CANCELLED: _("Cancelled late"),
    NO_SHOW: _("No-show"),
    NOT_RECORDED: _("Not recorded"),
}

# The client's network, from the share of their sessions in which their own page said the
# connection was poor: under a tenth good, under a half fair, else poor.
GOOD, FAIR, POOR = "good", "fair", "poor"
NETWORK_CLASSES = [GOOD, FAIR, POOR]
NETWORK_WORDS = {
    GOOD: _("Good (poor in under 10 % of sessions)"),
    FAIR: _("Fair (poor in 10 % to under 50 %)"),
    POOR: _("Poor (poor in half or more)"),
}
FAIR_FROM, POOR_FROM = 0.1, 0.5

# The step down the quality policy records "because of the connection" (rapport.visits.quality).
CONNECTION_REASON = "connection"


def attendance_class(status: str, late_cancellation: bool) -> str | None:
    """What a past booking counts as, or None when it does not count (cancelled in time)."""
    if status == AppointmentStatus.COMPLETED:
        return COMPLETED
    if status == AppointmentStatus.NO_SHOW:
        return NO_SHOW
    if status == AppointmentStatus.CANCELLED:
        return LATE_CANCELLED if late_cancellation else None
    return NOT_RECORDED  # requested, confirmed or in progress after its end: nobody said


def network_class(poor_sessions: int, sessions: int) -> str:
    """The client's network class from how many of their sessions had a poor connection."""
    if sessions <= 0 or not 0 <= poor_sessions <= sessions:
        raise ValueError("poor sessions must be between 0 and a positive number of sessions")
    share = poor_sessions / sessions
    if share >= POOR_FROM:
        return POOR
    if share >= FAIR_FROM:
        return FAIR
    return GOOD


@dataclass(frozen=True)
class SessionTechnical:
    """One session's technical facts, by the timeline's own summary (``visits.services``)."""

    step_down: bool  # switched to a lower modality because of the connection
    reconnects: int
    minutes_lost: float  # without sound or picture
    client_poor: bool  # the client's own page reported a poor connection


def session_technical(client_id: int, events: Sequence[VisitEvent]) -> SessionTechnical:
    """``events``: the session's modality switches, reconnects and quality drops."""
    health = call_health(e for e in events if e.kind != EventKind.QUALITY_POOR)
    return SessionTechnical(
        step_down=health.connection_switches > 0,
        reconnects=health.reconnects,
        minutes_lost=health.minutes_lost,
        client_poor=any(
            e.kind == EventKind.QUALITY_POOR and e.actor_id == client_id for e in events
        ),
    )


def normalised_feedback(
    total: float, range_min: int, range_max: int, higher_is_worse: bool
) -> float:
    """A feedback total as a share of its scale, 0 to 100, higher always better, so that
    Rapport's form and an imported alliance measure read alike."""
    if range_max <= range_min:
        raise ValueError("a scale needs a range")
    share = (total - range_min) / (range_max - range_min)
    return round(100 * (1 - share if higher_is_worse else share), 1)


# The tables -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Cell:
    """A count and its share of the row with the Wilson 95 % interval; all None if hidden."""

    count: int | None
    percent: float | None
    low: float | None
    high: float | None

    @property
    def hidden(self) -> bool:
        return self.count is None


HIDDEN = Cell(None, None, None, None)


@dataclass(frozen=True)
class Row:
    key: str
    label: str
    total: int | None  # sessions or bookings in the row; None if hidden
    cells: list[Cell]
    means: list[float | None]  # the row's means (per session), None if hidden

    @property
    def hidden(self) -> bool:
        return self.total is None


@dataclass(frozen=True)
class Table:
    columns: list[str]
    rows: list[Row]  # the groups, then "All"
    mean_columns: list[str]

    @property
    def any_hidden(self) -> bool:
        return any(row.hidden or any(c.hidden for c in row.cells) for row in self.rows)


@dataclass
class Group:
    """What one row of a table gathers before suppression."""

    counts: list[int]
    cell_clients: list[set[int]]
    clients: set[int]
    sums: list[float]

    @classmethod
    def empty(cls, columns: int, means: int) -> Group:
        return cls([0] * columns, [set() for _ in range(columns)], set(), [0.0] * means)


def build_table(
    groups: dict[str, Group],
    order: Sequence[tuple[str, str]],
    columns: Sequence[str],
    mean_columns: Sequence[str],
    threshold: int,
    total_label: str,
) -> Table:
    """Rows of counts (each row's columns add up to its total) with shares and intervals.

    A cell is hidden when fewer than ``threshold`` clients are behind it, a whole row when fewer
    than ``threshold`` clients are in it; then ``suppress`` hides whatever else would let one
    work them out by subtraction from the row or column totals."""
    width = len(columns)
    present = [(key, label) for key, label in order if key in groups]
    counts = [groups[key].counts for key, _label in present]
    hide = []
    for key, _label in present:
        group = groups[key]
        thin = len(group.clients) < threshold
        hide.append([thin or 0 < len(people) < threshold for people in group.cell_clients] + [thin])
    everyone: set[int] = set().union(*(g.clients for g in groups.values())) if groups else set()
    hide.append([False] * width + [0 < len(everyone) < threshold])
    table = suppress(counts or [[0] * width], threshold, hide=hide if counts else None)
    rows = []
    for i, (key, label) in enumerate([*present, ("all", str(total_label))]):
        index = i if key != "all" else -1
        total = table.shown(index, -1)
        group = (
            groups[key] if key != "all" else _sum_groups(groups.values(), width, len(mean_columns))
        )
        cells = [_cell(table.shown(index, j), total) for j in range(width)]
        means = [None if total is None or not total else round(s / total, 2) for s in group.sums]
        rows.append(Row(key, label, total, cells, means))
    return Table(list(columns), rows, list(mean_columns))


def _sum_groups(groups: Iterable[Group], width: int, means: int) -> Group:
    whole = Group.empty(width, means)
    for group in groups:
        whole.counts = [a + b for a, b in zip(whole.counts, group.counts, strict=True)]
        whole.sums = [a + b for a, b in zip(whole.sums, group.sums, strict=True)]
    return whole


def _cell(count: int | None, total: int | None) -> Cell:
    if count is None or total is None or total == 0:
        return HIDDEN if count is None or total is None else Cell(count, None, None, None)
    low, high = wilson_interval(count, total)
    return Cell(count, round(100 * count / total, 1), round(100 * low, 1), round(100 * high, 1))


@dataclass(frozen=True)
class MeanRow:
    key: str
    label: str
    clients: int | None  # None if hidden
    responses: int | None
    mean: float | None
    low: float | None
    high: float | None


@dataclass(frozen=True)
class Moments:
    """Values added up: how many, their sum and the sum of their squares. A mean and its
    interval need no more, so the database can do the adding (``session_groups``)."""

    count: int
    total: float
    squares: float

    @classmethod
    def of(cls, *values: float) -> Moments:
        return cls(len(values), sum(values), sum(v * v for v in values))

    def __add__(self, other: Moments) -> Moments:
        return Moments(
            self.count + other.count, self.total + other.total, self.squares + other.squares
        )


NONE = Moments(0, 0.0, 0.0)


def mean_interval(values: Moments) -> tuple[float, float, float]:
    """The mean and its normal-approximation 95 % interval (one value: no width to claim)."""
    mean = values.total / values.count
    if values.count < 2:
        return mean, mean, mean
    variance = max(0.0, (values.squares - values.count * mean * mean) / (values.count - 1))
    half = Z_95 * math.sqrt(variance) / math.sqrt(values.count)
    return mean, mean - half, mean + half


def mean_rows(
    values: dict[str, list[tuple[int, Moments]]],
    order: Sequence[tuple[str, str]],
    threshold: int,
    total_label: str,
) -> list[MeanRow]:
    """Means per group of values given by client; a group of fewer than ``threshold`` clients
    is hidden, and so is the next smallest when its count could be worked out from the total."""
    present = [(k, label) for k, label in order if values.get(k)]
    people = [[len({c for c, _v in values[k]})] for k, _label in present]
    table = suppress(people or [[0]], threshold)
    rows = []
    everything = [pair for k, _label in present for pair in values[k]]
    for i, (key, label) in enumerate([*present, ("all", str(total_label))]):
        pairs = values[key] if key != "all" else everything
        clients = table.shown(i if key != "all" else -1, 0)
        if key == "all" and clients is not None:
            # A client may be in several groups (sessions of several modalities): count once.
            clients = len({c for c, _v in everything})
        added = sum((v for _c, v in pairs), NONE)
        if clients is None or clients < threshold or not added.count:
            rows.append(MeanRow(key, label, None, None, None, None, None))
            continue
        mean, low, high = mean_interval(added)
        rows.append(
            MeanRow(key, label, clients, added.count, round(mean, 1), round(low, 1), round(high, 1))
        )
    return rows


# Loading ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ServiceQuality:
    threshold: int
    attendance: Table
    technical_by_modality: Table
    technical_by_network: Table
    feedback_by_modality: list[MeanRow]
    feedback_by_outcome: list[MeanRow]  # empty when no episode has ended


def modality_order() -> list[tuple[str, str]]:
    return [(m.value, str(m.label)) for m in MODALITIES]


def attendance_table(scope: OutcomesScope, threshold: int, now: datetime | None = None) -> Table:
    bookings = Appointment.objects.filter(ends_at__lte=now or timezone.now())
    if scope.therapist is not None:
        bookings = bookings.filter(therapist=scope.therapist)
    groups: dict[str, Group] = {}
    # Added up by the database per client, modality and status: a few rows per client.
    rows = bookings.values_list("client_id", "modality", "status", "late_cancellation").annotate(
        bookings=Count("pk")
    )
    for client_id, modality, status, late, count in rows.order_by():
        kind = attendance_class(status, late)
        if kind is None:
            continue
        group = groups.setdefault(modality, Group.empty(len(ATTENDANCE), 0))
        column = ATTENDANCE.index(kind)
        group.counts[column] += count
        group.cell_clients[column].add(client_id)
        group.clients.add(client_id)
    columns = [str(ATTENDANCE_WORDS[k]) for k in ATTENDANCE]
    return build_table(groups, modality_order(), columns, [], threshold, str(_("All modalities")))


TECH_EVENTS = [EventKind.MODALITY, EventKind.RECONNECTED, EventKind.QUALITY_POOR]


@dataclass(frozen=True)
class HeldSession:
    visit_id: int
    client_id: int
    modality: str  # as booked
    started_at: datetime


def session_facts(scope: OutcomesScope | None) -> list[tuple[HeldSession, SessionTechnical]]:
    """Every session held (ended, the client admitted) in scope, with its technical facts.
    Only the timeline lines the figures read are loaded, and only for the sessions that have
    any: most sessions have none."""
    visits = Visit.objects.filter(status=VisitStatus.ENDED, started_at__isnull=False)
    if scope is not None and scope.therapist is not None:
        visits = visits.filter(therapist=scope.therapist)
    events: dict[int, list[VisitEvent]] = defaultdict(list)
    lines = (
        VisitEvent.objects.filter(visit__in=visits, kind__in=TECH_EVENTS)
        .only("visit_id", "at", "kind", "reason", "seconds", "actor_id")
        .order_by("visit_id", "at", "pk")
    )
    for line in lines.iterator(chunk_size=5000):
        events[line.visit_id].append(line)
    held = visits.values_list("pk", "client_id", "planned_modality", "started_at")
    return [
        (
            HeldSession(pk, client_id, modality, started),
            session_technical(client_id, events.get(pk, [])),
        )
        for pk, client_id, modality, started in held.iterator(chunk_size=5000)
        if started is not None  # filtered above; the column may be null elsewhere
    ]


TECH_COLUMNS = [_("With a step down"), _("Without")]
TECH_MEANS = [_("Reconnects per session"), _("Minutes lost per session")]


@dataclass(frozen=True)
class SessionGroup:
    """The held sessions of one client booked as one modality, with or without a step down,
    added up (from their ``SessionOutcome`` rows)."""

    client_id: int
    modality: str  # as booked
    step_down: bool
    sessions: int
    poor: int  # in which the client's own page reported a poor connection
    reconnects: int
    minutes_lost: float
    feedback: Moments  # the answers after them, 0 to 100, higher better


def session_groups(scope: OutcomesScope) -> list[SessionGroup]:
    """The held sessions in scope, from the facts built with the episodes
    (``episodes.refresh_client``), added up by the database per client, modality and step down:
    tens of thousands of sessions come back as a few thousand rows."""
    rows = SessionOutcome.objects.all()
    if scope.therapist is not None:
        rows = rows.filter(therapist=scope.therapist)
    sums = rows.values_list("client_id", "modality", "step_down").annotate(
        sessions=Count("pk"),
        poor=Count("pk", filter=Q(client_poor=True)),
        reconnects=Sum("reconnects"),
        minutes_lost=Sum("minutes_lost"),
        answered=Count("feedback"),
        feedback_total=Sum("feedback"),
        feedback_squares=Sum(F("feedback") * F("feedback")),
    )
    return [
        SessionGroup(
            client_id,
            modality,
            step_down,
            sessions,
            poor,
            reconnects,
            minutes_lost,
            Moments(answered, feedback or 0.0, squares or 0.0),
        )
        for (
            client_id,
            modality,
            step_down,
            sessions,
            poor,
            reconnects,
            minutes_lost,
            answered,
            feedback,
            squares,
        ) in sums.order_by()
    ]


def technical_tables(groups: Sequence[SessionGroup], threshold: int) -> tuple[Table, Table]:
    by_modality: dict[str, Group] = {}
    per_client: dict[int, list[SessionGroup]] = defaultdict(list)
    for sessions in groups:
        _add_sessions(by_modality.setdefault(sessions.modality, _tech_group()), sessions)
        per_client[sessions.client_id].append(sessions)
    by_network: dict[str, Group] = {}
    for own in per_client.values():
        kind = network_class(sum(g.poor for g in own), sum(g.sessions for g in own))
        group = by_network.setdefault(kind, _tech_group())
        for sessions in own:
            _add_sessions(group, sessions)
    columns = [str(c) for c in TECH_COLUMNS]
    means = [str(m) for m in TECH_MEANS]
    every = str(_("All sessions"))
    network_order = [(k, str(NETWORK_WORDS[k])) for k in NETWORK_CLASSES]
    return (
        build_table(by_modality, modality_order(), columns, means, threshold, every),
        build_table(by_network, network_order, columns, means, threshold, every),
    )


def _tech_group() -> Group:
    return Group.empty(len(TECH_COLUMNS), len(TECH_MEANS))


def _add_sessions(group: Group, sessions: SessionGroup) -> None:
    column = 0 if sessions.step_down else 1
    group.counts[column] += sessions.sessions
    group.cell_clients[column].add(sessions.client_id)
    group.clients.add(sessions.client_id)
    group.sums[0] += sessions.reconnects
    group.sums[1] += sessions.minutes_lost


def stored_total(result: str) -> int | None:
    """The total of a stored result (``scoring.Score`` as JSON): only it is needed here."""
    total = json.loads(result)["total"]
    return None if total is None else int(total)


def feedback_by_modality(groups: Sequence[SessionGroup], threshold: int) -> list[MeanRow]:
    values: dict[str, list[tuple[int, Moments]]] = defaultdict(list)
    for sessions in groups:
        if sessions.feedback.count:
            values[sessions.modality].append((sessions.client_id, sessions.feedback))
    return mean_rows(values, modality_order(), threshold, str(_("All modalities")))


@dataclass(frozen=True)
class EpisodeFeedback:
    """A client's latest finished episode with a paired PHQ-9/GAD-7 outcome: whether it
    improved reliably, and the mean feedback on its sessions (None: none answered)."""

    improved: bool
    feedback_mean: float | None


def episode_feedback(
    scope: OutcomesScope, *, now: datetime, gap_days: int
) -> dict[int, EpisodeFeedback]:
    """By client, in ``scope`` (the episodes the outcomes page counts:
    ``report.finished_episodes``)."""
    rows = (
        EpisodeOutcome.objects.filter(
            finished_episodes(scope, now=now, gap_days=gap_days),
            reliable_improvement__isnull=False,
        )
        .order_by("client_id", "-last_session_at", "-pk")
        .values_list("client_id", "reliable_improvement", "feedback_mean")
    )
    episodes: dict[int, EpisodeFeedback] = {}
    for client_id, improved, mean in rows:
        episodes.setdefault(client_id, EpisodeFeedback(bool(improved), mean))
    return episodes


def feedback_by_outcome(episodes: dict[int, EpisodeFeedback], threshold: int) -> list[MeanRow]:
    """Mean feedback over the episode of clients whose episode ended in reliable improvement
    and of those whose did not, one mean per client (the episode's own, built with it) so that
    a client with many sessions weighs as much as one with few."""
    values: dict[str, list[tuple[int, Moments]]] = defaultdict(list)
    for client_id, episode in episodes.items():
        if episode.feedback_mean is not None:
            key = IMPROVED if episode.improved else NOT_IMPROVED
            values[key].append((client_id, Moments.of(episode.feedback_mean)))
    order = [
        (IMPROVED, str(_("Reliably improved"))),
        (NOT_IMPROVED, str(_("Not reliably improved"))),
    ]
    return mean_rows(values, order, threshold, str(_("All with an ended episode")))


IMPROVED, NOT_IMPROVED = "improved", "not_improved"


def service_quality(
    scope: OutcomesScope, practice: Practice, *, now: datetime | None = None
) -> ServiceQuality:
    """Every table of the service page for ``scope`` (already permission-checked)."""
    now = now or timezone.now()
    threshold = practice.outcomes_suppression_threshold
    episodes = episode_feedback(scope, now=now, gap_days=practice.outcomes_episode_gap_days)
    sessions = session_groups(scope)
    by_modality, by_network = technical_tables(sessions, threshold)
    attendance = attendance_table(scope, threshold, now)
    return ServiceQuality(
        threshold=threshold,
        attendance=attendance,
        technical_by_modality=by_modality,
        technical_by_network=by_network,
        feedback_by_modality=feedback_by_modality(sessions, threshold),
        feedback_by_outcome=feedback_by_outcome(episodes, threshold) if episodes else [],
    )
