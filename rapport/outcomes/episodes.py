"""Episodes of care and their outcome facts, built from what the other apps recorded.

An episode is a run of one care relationship's ended sessions in which no two consecutive
sessions are more than the practice's episode gap apart (``Practice.outcomes_episode_gap_days``,
default 90 days). It has ended when the relationship ended after it, or when the gap has passed
since its last session. Rapport records no discharge, so these are the only end rules.

A score belongs to an episode when it was submitted from ``SCORE_LEAD`` before its first session
to ``SCORE_LAG`` after its last (a questionnaire sent before the first session, or after the
last, counts), within the relationship; first and last are taken per instrument. Corrected
responses count as corrected.

The modality mix of an episode comes from the minutes per modality of its sessions (the visit
timeline): "mostly" one modality at ``MOSTLY`` (75 %) of the minutes or more, otherwise mixed.

Each ended session also gets its ``SessionOutcome`` (how the call went, the feedback after it),
and each episode the mean of its sessions' feedback: the service page counts those rows.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import Prefetch

from rapport.accounts.models import Practice, User
from rapport.care.models import CareRelationship
from rapport.diagnoses.models import Diagnosis, Rank
from rapport.diagnoses.models import Status as DiagnosisStatus
from rapport.measures.instruments import definition_of, is_feedback
from rapport.measures.models import MeasureTask, Response
from rapport.measures.results import effective_responses, result_of
from rapport.outcomes.definitions import GAD7_KEY, PHQ9_KEY, Scores, combined_outcome
from rapport.outcomes.models import EpisodeOutcome, MeasureOutcome, ModalityMix, SessionOutcome
from rapport.outcomes.service_quality import TECH_EVENTS, normalised_feedback, session_technical
from rapport.visits.models import Visit, VisitEvent, VisitStatus
from rapport.visits.services import summary

MOSTLY = 0.75
SCORE_LEAD = timedelta(days=14)
SCORE_LAG = timedelta(days=14)


@dataclass(frozen=True)
class TimedScore:
    at: datetime
    instrument_key: str
    total: int
    caseness_at_or_above: int
    reliable_change: int


def modality_mix(minutes: dict[str, float]) -> str:
    """``ModalityMix`` of the minutes per modality: the one with ``MOSTLY`` of them, or mixed."""
    total = sum(minutes.values())
    if total > 0:
        for modality in (ModalityMix.VIDEO, ModalityMix.AUDIO, ModalityMix.TEXT):
            if minutes.get(str(modality), 0.0) >= MOSTLY * total:
                return str(modality)
    return str(ModalityMix.MIXED)


def quarter_of(moment: datetime) -> str:
    return f"{moment.year}-Q{(moment.month - 1) // 3 + 1}"


def split_into_runs(visits: list[Visit], gap: timedelta) -> list[list[Visit]]:
    """Consecutive sessions no more than ``gap`` apart, in order."""
    runs: list[list[Visit]] = []
    for visit in visits:
        assert visit.started_at is not None  # noqa: S101 (only started visits are passed)
        if runs and visit.started_at - _start(runs[-1][-1]) <= gap:
            runs[-1].append(visit)
        else:
            runs.append([visit])
    return runs


def _start(visit: Visit) -> datetime:
    assert visit.started_at is not None  # noqa: S101
    return visit.started_at


def scored(responses: Iterable[Response]) -> list[TimedScore]:
    """The totals of responses on instruments with a caseness cut-off and a reliable change."""
    scores = []
    for response in responses:
        definition = definition_of(response.instrument)
        if is_feedback(definition) or not definition.higher_is_worse:
            continue
        if definition.caseness is None or definition.reliable_change is None:
            continue
        total = result_of(response).total
        if total is None:
            continue
        scores.append(
            TimedScore(
                at=response.submitted_at,
                instrument_key=definition.key,
                total=total,
                caseness_at_or_above=definition.caseness.at_or_above,
                reliable_change=definition.reliable_change.points,
            )
        )
    return scores


def episodes_of(
    relationship: CareRelationship,
    visits: list[Visit],
    scores: list[TimedScore],
    primary: Diagnosis | None,
    gap_days: int,
    feedback: dict[int, float] | None = None,
) -> list[tuple[EpisodeOutcome, list[MeasureOutcome]]]:
    """The episodes of one relationship, unsaved, with their per-instrument outcomes.
    ``feedback``: the client's after-session feedback by visit (``session_feedback``)."""
    feedback = feedback or {}
    built = []
    runs = split_into_runs(visits, timedelta(days=gap_days))
    for index, run in enumerate(runs):
        first, last = _start(run[0]), _start(run[-1])
        minutes: dict[str, float] = defaultdict(float)
        for visit in run:
            for modality, value in summary(visit, visit.timeline, None).minutes.items():  # type: ignore[attr-defined]
                minutes[modality] += value
        answers = [feedback[visit.pk] for visit in run if visit.pk in feedback]
        episode = EpisodeOutcome(
            relationship=relationship,
            client_id=relationship.client_id,
            therapist_id=relationship.therapist_id,
            first_session_at=first,
            last_session_at=last,
            care_ended=(
                index == len(runs) - 1 and relationship.status == CareRelationship.Status.ENDED
            ),
            gap_days=gap_days,
            quarter=quarter_of(last),
            sessions=len(run),
            video_minutes=round(minutes["video"]),
            audio_minutes=round(minutes["audio"]),
            text_minutes=round(minutes["text"]),
            modality_mix=modality_mix(minutes),
            diagnosis_code=primary.code if primary is not None else "",
            diagnosis_description=primary.description if primary is not None else "",
            feedback_mean=round(sum(answers) / len(answers), 2) if answers else None,
            feedback_count=len(answers),
        )
        window_start = max(first - SCORE_LEAD, relationship.started_at)
        window_end = last + SCORE_LAG
        if relationship.ended_at is not None:
            window_end = min(window_end, max(relationship.ended_at, last))
        by_instrument: dict[str, list[TimedScore]] = defaultdict(list)
        for score in scores:
            if window_start <= score.at <= window_end:
                by_instrument[score.instrument_key].append(score)
        measures = [
            _measure_outcome(episode, key, series)
            for key, series in sorted(by_instrument.items())
            if len(series) >= 2
        ]
        _pair(episode, {m.instrument_key: m for m in measures})
        built.append((episode, measures))
    return built


def _measure_outcome(episode: EpisodeOutcome, key: str, series: list[TimedScore]) -> MeasureOutcome:
    first, last = series[0], series[-1]
    scores = Scores(first.total, last.total, first.caseness_at_or_above, first.reliable_change)
    outcome = combined_outcome([scores])
    return MeasureOutcome(
        episode=episode,
        instrument_key=key,
        first_score=first.total,
        last_score=last.total,
        scores=len(series),
        caseness_at_or_above=first.caseness_at_or_above,
        reliable_change_points=first.reliable_change,
        caseness_at_start=outcome.caseness_at_start,
        reliable_improvement=outcome.reliable_improvement,
        reliable_deterioration=outcome.reliable_deterioration,
        recovery=outcome.recovery,
        reliable_recovery=outcome.reliable_recovery,
    )


def _pair(episode: EpisodeOutcome, measures: dict[str, MeasureOutcome]) -> None:
    """The NHS Talking Therapies outcome, when the episode has PHQ-9 and GAD-7 pairs."""
    phq9, gad7 = measures.get(PHQ9_KEY), measures.get(GAD7_KEY)
    if phq9 is None or gad7 is None:
        return
    outcome = combined_outcome(
        [
            Scores(
                phq9.first_score,
                phq9.last_score,
                phq9.caseness_at_or_above,
                phq9.reliable_change_points,
            ),
            Scores(
                gad7.first_score,
                gad7.last_score,
                gad7.caseness_at_or_above,
                gad7.reliable_change_points,
            ),
        ]
    )
    episode.phq9_first, episode.phq9_last = phq9.first_score, phq9.last_score
    episode.gad7_first, episode.gad7_last = gad7.first_score, gad7.last_score
    episode.caseness_at_start = outcome.caseness_at_start
    episode.reliable_improvement = outcome.reliable_improvement
    episode.reliable_deterioration = outcome.reliable_deterioration
    episode.recovery = outcome.recovery
    episode.reliable_recovery = outcome.reliable_recovery


def _ended_visits(client_ids: Iterable[int] | None) -> dict[int, list[Visit]]:
    """Ended sessions by relationship, with the timeline lines their minutes and technical facts
    come from (modality switches, reconnects, poor connections)."""
    timeline = VisitEvent.objects.filter(kind__in=TECH_EVENTS).only(
        "visit_id", "at", "kind", "modality", "reason", "seconds", "actor_id"
    )
    visits = (
        Visit.objects.filter(status=VisitStatus.ENDED, started_at__isnull=False)
        .only(
            "relationship_id",
            "client_id",
            "therapist_id",
            "planned_modality",
            "started_at",
            "ended_at",
        )
        .prefetch_related(Prefetch("events", queryset=timeline, to_attr="timeline"))
        .order_by("started_at", "pk")
    )
    if client_ids is not None:
        visits = visits.filter(client_id__in=list(client_ids))
    by_relationship: dict[int, list[Visit]] = defaultdict(list)
    for visit in visits:
        by_relationship[visit.relationship_id].append(visit)
    return by_relationship


def session_feedback(client: User, responses: Iterable[Response]) -> dict[int, float]:
    """The client's after-session feedback by visit, each on 0 to 100 (higher better); a later
    answer about the same session replaces an earlier one."""
    visit_of = dict(
        MeasureTask.objects.filter(client=client, visit__isnull=False).values_list("pk", "visit_id")
    )
    feedback: dict[int, float] = {}
    for response in responses:
        visit_id = visit_of.get(response.task_id) if response.task_id is not None else None
        definition = definition_of(response.instrument)
        if visit_id is None or not is_feedback(definition):
            continue
        total = result_of(response).total
        if total is not None:
            feedback[visit_id] = normalised_feedback(
                total, definition.range_min, definition.range_max, definition.higher_is_worse
            )
    return feedback


def session_outcomes(visits: Iterable[Visit], feedback: dict[int, float]) -> list[SessionOutcome]:
    """Each ended session's facts, unsaved (``visits`` from ``_ended_visits``)."""
    built = []
    for visit in visits:
        tech = session_technical(visit.client_id, visit.timeline)  # type: ignore[attr-defined]
        built.append(
            SessionOutcome(
                visit_id=visit.pk,
                client_id=visit.client_id,
                therapist_id=visit.therapist_id,
                modality=visit.planned_modality,
                step_down=tech.step_down,
                reconnects=tech.reconnects,
                minutes_lost=tech.minutes_lost,
                client_poor=tech.client_poor,
                feedback=feedback.get(visit.pk),
            )
        )
    return built


def _primary_diagnosis(client_id: int) -> Diagnosis | None:
    return (
        Diagnosis.objects.filter(client_id=client_id, rank=Rank.PRIMARY)
        .exclude(status=DiagnosisStatus.ENTERED_IN_ERROR)
        .order_by("-recorded_at", "-pk")
        .first()
    )


@dataclass
class Built:
    """One client's facts, unsaved: episodes with their per-instrument outcomes, and sessions."""

    episodes: list[tuple[EpisodeOutcome, list[MeasureOutcome]]]
    sessions: list[SessionOutcome]


def build_client(client: User, gap_days: int) -> Built:
    """Every episode and ended session of one client, unsaved."""
    relationships = list(CareRelationship.objects.filter(client=client).order_by("started_at"))
    if not relationships:
        return Built([], [])
    visits = _ended_visits([client.pk])
    responses = list(effective_responses(client))
    scores = scored(responses)
    feedback = session_feedback(client, responses)
    primary = _primary_diagnosis(client.pk)
    built = Built([], [])
    for relationship in relationships:
        runs = visits.get(relationship.pk, [])
        if runs:
            built.episodes += episodes_of(relationship, runs, scores, primary, gap_days, feedback)
            built.sessions += session_outcomes(runs, feedback)
    return built


def _save(built: Built) -> None:
    episodes = EpisodeOutcome.objects.bulk_create([episode for episode, _m in built.episodes])
    measures = []
    for episode, (_unsaved, rows) in zip(episodes, built.episodes, strict=True):
        for row in rows:
            row.episode = episode
            measures.append(row)
    MeasureOutcome.objects.bulk_create(measures)
    SessionOutcome.objects.bulk_create(built.sessions)


def refresh_client(client_id: int) -> None:
    """Rebuild one client's episodes and session facts from their sessions, scores, diagnoses
    and care."""
    with transaction.atomic():
        # One refresh of a client at a time: two scores submitted together both end up counted.
        client = User.objects.select_for_update().filter(pk=client_id).first()
        EpisodeOutcome.objects.filter(client_id=client_id).delete()
        SessionOutcome.objects.filter(client_id=client_id).delete()
        if client is None:
            return
        _save(build_client(client, Practice.get().outcomes_episode_gap_days))


def rebuild_all() -> int:
    """Rebuild every client's episodes and session facts; the number of episodes."""
    gap_days = Practice.get().outcomes_episode_gap_days
    count = 0
    with transaction.atomic():
        EpisodeOutcome.objects.all().delete()
        SessionOutcome.objects.all().delete()
        client_ids = (
            CareRelationship.objects.values_list("client_id", flat=True).distinct().order_by()
        )
        for client in User.objects.filter(pk__in=client_ids).order_by("pk").iterator():
            built = build_client(client, gap_days)
            _save(built)
            count += len(built.episodes)
    return count
