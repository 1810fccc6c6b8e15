"""Writing safety plans: a new version for every save (by the therapist alone, or by both
people together in a live session), and reviews. Each write runs in one transaction with its
audit event. Callers reached the client through ``rapport.safety.access`` (or, in the room,
through the visit's own check).
"""

from __future__ import annotations

import json
import uuid
from typing import Any

from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.http import HttpRequest

from rapport.accounts.models import User
from rapport.audit.services import Action, record
from rapport.care.access import in_active_care
from rapport.safety.models import STEPS, SafetyPlan, SafetyPlanReview, SafetyPlanVersion


def save_version(
    author: User,
    client: User,
    content: dict[str, Any],
    *,
    visit_uid: uuid.UUID | None = None,
    request: HttpRequest | None = None,
) -> SafetyPlanVersion:
    """Append a version holding ``content`` (``forms.plan_content``'s shape).

    The therapist in active care may save at any time; the client only in a live session with
    them (``visit_uid``, which the room checked)."""
    if author.pk == client.pk:
        allowed = visit_uid is not None and client.is_active and client.is_client
    else:
        allowed = author.is_therapist and in_active_care(author, client)
    if not allowed:
        raise PermissionDenied("not allowed to write this safety plan")
    fields: dict[str, str] = {"reason_for_living": content["reason_for_living"]}
    for step, kind in STEPS:
        if kind == "lines":
            fields[step] = "\n".join(content[step])
        else:
            fields[step] = json.dumps(content[step], ensure_ascii=False)
    with transaction.atomic():
        plan, _created = SafetyPlan.objects.get_or_create(client=client)
        plan = SafetyPlan.objects.select_for_update().get(pk=plan.pk)
        last = plan.versions.order_by("-number").values_list("number", flat=True).first()
        version = SafetyPlanVersion.objects.create(
            plan=plan,
            number=(last or 0) + 1,
            created_by=author,
            written_in_visit=visit_uid,
            **fields,
        )
        record(
            Action.SAFETY_PLAN_SAVED,
            actor=author,
            request=request,
            obj=version,
            client=client,
            number=version.number,
            in_session=visit_uid is not None,
        )
    return version


def record_review(
    therapist: User,
    version: SafetyPlanVersion,
    *,
    alert_id: int | None = None,
    request: HttpRequest | None = None,
) -> SafetyPlanReview:
    """The therapist went through ``version`` (with the client, or after a safety alert)."""
    client = version.plan.client
    if not (therapist.is_therapist and in_active_care(therapist, client)):
        raise PermissionDenied("not allowed to review this safety plan")
    with transaction.atomic():
        review = SafetyPlanReview.objects.create(
            version=version, reviewed_by=therapist, alert_id=alert_id
        )
        record(
            Action.SAFETY_PLAN_REVIEWED,
            actor=therapist,
            request=request,
            obj=review,
            client=client,
            number=version.number,
            alert=alert_id,
        )
    return review


def versions_of(plan: SafetyPlan | None) -> list[SafetyPlanVersion]:
    """Every version, newest first, with who wrote it (their words stay undecrypted)."""
    if plan is None:
        return []
    return list(
        plan.versions.select_related("created_by")
        .only("plan_id", "number", "created_at", "written_in_visit", "created_by__full_name")
        .order_by("-number")
    )


def latest_of(plan: SafetyPlan | None) -> SafetyPlanVersion | None:
    return None if plan is None else plan.versions.order_by("-number").first()


def last_review(plan: SafetyPlan | None) -> SafetyPlanReview | None:
    if plan is None:
        return None
    return (
        SafetyPlanReview.objects.filter(version__plan=plan)
        .select_related("reviewed_by", "version")
        .only("reviewed_at", "alert_id", "reviewed_by__full_name", "version__number")
        .order_by("-reviewed_at")
        .first()
    )


def reviews_for_alert(alert_id: int) -> list[SafetyPlanReview]:
    """The reviews an alert's acknowledgement recorded (the alert page shows them)."""
    return list(
        SafetyPlanReview.objects.filter(alert_id=alert_id)
        .select_related("version")
        .only("reviewed_at", "alert_id", "version__number")
    )
