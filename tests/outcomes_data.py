"""Outcomes test data: ended sessions with chosen minutes per modality, and scores with chosen
totals, stored as the apps store them (a saved Response fires what a submitted one fires)."""

from __future__ import annotations

from datetime import datetime, timedelta

from rapport.accounts.models import User
from rapport.care.models import CareRelationship
from rapport.measures.definition_files import load_definition
from rapport.measures.models import Response
from rapport.visits.models import EventKind, Visit, VisitEvent, VisitStatus
from rapport.visits.signals import visit_ended
from tests.measures_data import builtin_instrument, response


def answers_for_total(key: str, total: int) -> dict[str, int]:
    """Answers of the built-in ``key`` whose score is ``total``; risk items at their lowest."""
    definition = load_definition(builtin_instrument(key).definition)
    answers: dict[str, int] = {}
    left = total - sum(
        min(item.values) for item in definition.items if item.key in definition.scoring.items
    )
    for item in definition.items:
        if not item.required:
            continue
        low = min(item.values)
        if item.key not in definition.scoring.items or item.risk_at_or_above is not None:
            answers[item.key] = low
            continue
        step = min(left, max(item.values) - low)
        answers[item.key] = low + step
        left -= step
    if left:
        raise ValueError(f"{key} cannot score {total} without its risk items")
    return answers


def score(client: User, key: str, total: int, at: datetime, **kwargs: object) -> Response:
    return response(client, builtin_instrument(key), answers_for_total(key, total), at=at, **kwargs)  # type: ignore[arg-type]


def ended_session(
    relationship: CareRelationship,
    at: datetime,
    minutes: dict[str, int] | None = None,
    *,
    announce: bool = True,
) -> Visit:
    """A session at ``at`` lasting the ``minutes`` given per modality (in that order), ended and
    (``announce``) announced as visits announces an end."""
    minutes = minutes or {"video": 50}
    modalities = list(minutes)
    end = at + timedelta(minutes=sum(minutes.values()))
    visit = Visit.objects.create(
        relationship=relationship,
        therapist=relationship.therapist,
        client=relationship.client,
        planned_modality=modalities[0],
        modality=modalities[-1],
        status=VisitStatus.ENDED,
        created_by=relationship.therapist,
        created_at=at,
        started_at=at,
        client_admitted_at=at,
        ended_at=end,
        ended_by=relationship.therapist,
    )
    moment = at
    for index, modality in enumerate(modalities):
        if index:
            VisitEvent.objects.create(
                visit=visit, at=moment, kind=EventKind.MODALITY, modality=modality, reason="user"
            )
        moment += timedelta(minutes=minutes[modality])
    if announce:
        visit_ended.send(Visit, visit_id=visit.pk)
    return visit
