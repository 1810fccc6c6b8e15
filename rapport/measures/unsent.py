"""Risk answers left unsent: a risk answer in a saved questionnaire alerts nobody until the
client sends it. The client sees the crisis resources at once (``questionnaire.js``); if the
draft stays unsent past the practice's limit, the worker's sweep tells the therapist, once per
questionnaire, through the alert channels (a content-free email and a live event).
"""

from __future__ import annotations

from datetime import datetime

from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from rapport.care.access import active_relationship
from rapport.core import realtime
from rapport.measures import tasks
from rapport.measures.answers import risk_answered
from rapport.measures.instruments import definition_of
from rapport.measures.models import MeasureTask, TaskStatus


def notice_unsent_risk_answers(now: datetime | None = None) -> int:
    """The worker's sweep: every saved draft whose check time has come. Returns notices sent."""
    now = now or timezone.now()
    due = MeasureTask.objects.filter(status=TaskStatus.OPEN, draft_check_at__lte=now)
    return sum(_check_draft(task_id, now) for task_id in due.values_list("pk", flat=True))


def _check_draft(task_id: int, now: datetime) -> bool:
    """Look at one draft; tell its therapist if it holds a risk answer. True if told."""
    with transaction.atomic():
        task = (
            MeasureTask.objects.select_for_update(of=("self",))
            .select_related("instrument", "client", "therapist")
            .filter(pk=task_id, status=TaskStatus.OPEN)
            .first()
        )
        if task is None or task.draft_check_at is None or task.draft_check_at > now:
            return False  # sent, or checked by another worker in the meantime
        task.draft_check_at = None
        tell = (
            not task.unsent_risk_noticed_at
            and risk_answered(definition_of(task.instrument), task.draft_answers())
            and active_relationship(task.therapist, task.client) is not None
        )
        if tell:
            task.unsent_risk_noticed_at = now.isoformat()
        task.save(update_fields=["draft_check_at", "unsent_risk_noticed_at"])
        if not tell:
            return False
        tasks.send_unsent_risk_email.enqueue(task.pk)
        realtime.publish_to_user(
            task.therapist_id,
            {
                "type": "measure.unsent_risk",
                "task": task.pk,
                "client_name": task.client.full_name,
                "url": reverse("client_measures", kwargs={"client_id": task.client_id}),
            },
        )
    return True
