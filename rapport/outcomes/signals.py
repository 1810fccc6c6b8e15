"""Keeping the episode facts current: every change that can move an outcome refreshes that
client's episodes (connected in ``OutcomesConfig.ready``).

A new score (or correction) and a change of care or diagnosis refresh inside the transaction
that made them, so the facts are never behind a committed change; an ended visit refreshes as
soon as its end has committed (visits announces it then). A new episode gap rebuilds everyone,
in the worker (``tasks.rebuild_episodes``); until then the page says its figures are catching up.
"""

from __future__ import annotations

from typing import Any

from rapport.accounts.models import Practice
from rapport.care.models import CareRelationship
from rapport.diagnoses.models import Diagnosis
from rapport.measures.models import Response
from rapport.outcomes import tasks
from rapport.outcomes.episodes import refresh_client
from rapport.outcomes.models import EpisodeOutcome
from rapport.visits.models import Visit


def response_saved(
    sender: type[Response], instance: Response, created: bool, **kwargs: Any
) -> None:
    if created and not kwargs.get("raw"):
        refresh_client(instance.client_id)


def care_saved(sender: type[CareRelationship], instance: CareRelationship, **kwargs: Any) -> None:
    if not kwargs.get("raw"):
        refresh_client(instance.client_id)


def diagnosis_saved(sender: type[Diagnosis], instance: Diagnosis, **kwargs: Any) -> None:
    if not kwargs.get("raw"):
        refresh_client(instance.client_id)


def visit_ended(sender: type[Visit], visit_id: int, **kwargs: Any) -> None:
    client_id = Visit.objects.filter(pk=visit_id).values_list("client_id", flat=True).first()
    if client_id is not None:
        refresh_client(client_id)


def practice_saved(sender: type[Practice], instance: Practice, **kwargs: Any) -> None:
    if kwargs.get("raw"):
        return
    if EpisodeOutcome.objects.exclude(gap_days=instance.outcomes_episode_gap_days).exists():
        tasks.rebuild_episodes.enqueue()
