"""Feedback on the relationship: the form a client is asked after each session, and the alert a
marked drop in it raises (in-app and email, no escalation).
"""

from __future__ import annotations

from statistics import fmean
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from rapport.accounts.models import User
from rapport.measures import tasks
from rapport.measures.alerts import raise_alert
from rapport.measures.definitions import Definition, Item
from rapport.measures.instruments import definition_of, feedback_instrument
from rapport.measures.models import AlertKind, MeasureTask, Response, SafetyAlert
from rapport.measures.results import effective_responses, result_of
from rapport.visits.models import Visit

# Items of the feedback form the drop rules look at.
FEEDBACK_HEARD_ITEM = "heard"
FEEDBACK_OVERALL_ITEM = "overall"
# A marked drop: this share of the scale's range below the mean of the previous responses.
FEEDBACK_DROP_SHARE = 0.25
# A single 0-4 answer must fall by half its scale (e.g. "very good" to "fair"): a one-step dip
# is ordinary variation, not an early sign of a rupture.
FEEDBACK_ITEM_DROP_SHARE = 0.5
FEEDBACK_HISTORY = 3


def visit_ended(sender: Any, visit_id: int, **kwargs: Any) -> None:
    """``rapport.visits.signals.visit_ended``: ask the client for feedback on the session."""
    session_ended(visit_id)


def session_ended(visit_id: int) -> MeasureTask | None:
    """After a session, ask the client for feedback on it (once per visit).

    Called after the visit's end commits. A visit the client was never admitted to was no
    session, and gets no feedback form.
    """
    visit: Visit | None = (
        Visit.objects.select_related("client", "therapist").filter(pk=visit_id).first()
    )
    if visit is None or not visit.is_ended or visit.started_at is None:
        return None
    instrument = feedback_instrument()
    if instrument is None:
        return None
    try:
        with transaction.atomic():
            task = MeasureTask.objects.create(
                client=visit.client,
                therapist=visit.therapist,
                instrument=instrument,
                due_at=visit.ended_at or timezone.now(),
                appointment=visit.appointment,
                visit=visit,
            )
            tasks.send_task_reminder.enqueue(task.pk)
    except IntegrityError:
        return None  # already asked about this visit
    return task


def feedback_drop_reasons(response: Response) -> list[str]:
    """Why this feedback response marks a drop (empty when it does not).

    A drop: the total, or the "overall" answer, falls by at least a quarter of its scale below
    the mean of the previous (up to three) responses; or "heard and understood" is at the bottom.
    """
    definition = definition_of(response.instrument)
    values = response.answer_values()
    reasons: list[str] = []
    worse = 1 if definition.higher_is_worse else -1

    heard = _item_or_none(definition, FEEDBACK_HEARD_ITEM)
    if heard is not None and values.get(heard.key) is not None:
        bottom = heard.max_value if definition.higher_is_worse else heard.min_value
        if values[heard.key] == bottom:
            reasons.append(_("felt heard and understood: the lowest answer"))

    previous = list(
        effective_responses(response.client)
        .filter(instrument__key=definition.key, submitted_at__lte=response.submitted_at)
        .exclude(pk=response.pk)
        .order_by("-submitted_at", "-pk")[:FEEDBACK_HISTORY]
    )
    if not previous:
        return reasons
    total = result_of(response).total
    earlier = [t for t in (result_of(r).total for r in previous) if t is not None]
    span = definition.range_max - definition.range_min
    if (
        total is not None
        and earlier
        and worse * (total - fmean(earlier)) >= FEEDBACK_DROP_SHARE * span
    ):
        reasons.append(_("total well below the previous sessions"))
    overall = _item_or_none(definition, FEEDBACK_OVERALL_ITEM)
    if overall is not None and values.get(overall.key) is not None:
        before: list[int] = [
            value for r in previous if (value := r.answer_values().get(overall.key)) is not None
        ]
        item_span = overall.max_value - overall.min_value
        if before and worse * (values[overall.key] - fmean(before)) >= (
            FEEDBACK_ITEM_DROP_SHARE * item_span
        ):
            reasons.append(_("overall rating well below the previous sessions"))
    return reasons


def _item_or_none(definition: Definition, key: str) -> Item | None:
    try:
        return definition.item(key)
    except KeyError:
        return None


def feedback_drop(response: Response, therapist: User) -> SafetyAlert | None:
    """Raise a feedback alert (in-app and email, no escalation) on a marked drop."""
    if not feedback_drop_reasons(response):
        return None
    return raise_alert(response, therapist, AlertKind.FEEDBACK_DROP)
