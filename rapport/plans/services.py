"""Writing treatment plans: drafts edited by the client's therapist, finalised into immutable
numbered versions, signed by the client; the review reminder. Each write runs in one
transaction with its audit event. Callers reached the client through ``rapport.plans.access``.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import Exists, OuterRef, QuerySet
from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext as _

from rapport.accounts.models import User
from rapport.audit.services import Action, record, request_origin
from rapport.care.access import clients_of
from rapport.plans import tasks
from rapport.plans.errors import PlanError
from rapport.plans.models import (
    Goal,
    Intervention,
    Modality,
    Plan,
    PlanSignature,
    PlanVersion,
    VersionStatus,
)

FIRST_REVIEW_AFTER = timedelta(days=90)
REMINDER_AT = time(8, 0)  # the morning of the review date, in the therapist's zone


def versions_of(plan: Plan | None) -> list[PlanVersion]:
    if plan is None:
        return []
    return list(plan.versions.order_by("-number"))


def latest_final(plan: Plan | None) -> PlanVersion | None:
    if plan is None:
        return None
    return plan.versions.filter(status=VersionStatus.FINAL).order_by("-number").first()


def draft_of(plan: Plan | None) -> PlanVersion | None:
    return None if plan is None else plan.versions.filter(status=VersionStatus.DRAFT).first()


def goals_of(version: PlanVersion) -> list[Goal]:
    return list(version.goals.order_by("position", "pk"))


def interventions_of(version: PlanVersion) -> list[Intervention]:
    return list(version.interventions.select_related("goal").order_by("position", "pk"))


def _locked_draft(version: PlanVersion) -> PlanVersion:
    locked = PlanVersion.objects.select_for_update().get(pk=version.pk)
    if not locked.is_draft:
        raise PlanError(_("This version is finalised and cannot change. Start a new version."))
    return locked


def _audit(
    therapist: User, version: PlanVersion, request: HttpRequest | None, **detail: Any
) -> None:
    record(
        Action.PLAN_DRAFT_CHANGED,
        actor=therapist,
        request=request,
        obj=version,
        client=version.plan.client,
        **detail,
    )


def start_draft(
    therapist: User, client: User, *, request: HttpRequest | None = None
) -> PlanVersion:
    """The plan's draft: the one being edited, or a new one copied from the latest version."""
    with transaction.atomic():
        plan, _created = Plan.objects.get_or_create(
            client=client, defaults={"created_by": therapist}
        )
        plan = Plan.objects.select_for_update().get(pk=plan.pk)
        if (draft := draft_of(plan)) is not None:
            return draft
        latest = latest_final(plan)
        today = timezone.localdate()
        draft = PlanVersion.objects.create(
            plan=plan,
            number=(latest.number + 1) if latest else 1,
            starts_on=latest.starts_on if latest else today,
            review_on=max(latest.review_on, today) if latest else today + FIRST_REVIEW_AFTER,
            modality=latest.modality if latest else Modality.VIDEO,
            frequency=latest.frequency if latest else "",
            summary=latest.summary if latest else "",
            created_by=therapist,
        )
        if latest is not None:
            _copy_parts(latest, draft)
        _audit(therapist, draft, request, change="started", number=draft.number)
    return draft


def _copy_parts(source: PlanVersion, draft: PlanVersion) -> None:
    copies: dict[int, Goal] = {}
    for goal in goals_of(source):
        old_pk = goal.pk
        goal.pk, goal.version = None, draft
        goal.save()
        copies[old_pk] = goal
    for item in interventions_of(source):
        item.pk, item.version = None, draft
        item.goal = copies.get(item.goal_id) if item.goal_id else None
        item.save()


def update_draft(
    therapist: User,
    version: PlanVersion,
    *,
    starts_on: date,
    review_on: date,
    modality: str,
    frequency: str,
    summary: str,
    request: HttpRequest | None = None,
) -> PlanVersion:
    if review_on < starts_on:
        raise PlanError(_("The review date is before the plan starts."))
    with transaction.atomic():
        version = _locked_draft(version)
        version.starts_on, version.review_on, version.modality = starts_on, review_on, modality
        version.frequency, version.summary = frequency.strip(), summary.strip()
        version.save(update_fields=["starts_on", "review_on", "modality", "frequency", "summary"])
        _audit(therapist, version, request, change="details")
    return version


def add_goal(
    therapist: User, version: PlanVersion, *, request: HttpRequest | None = None, **fields: Any
) -> Goal:
    if fields.get("instrument_key") and (
        fields.get("threshold") is None or not fields.get("comparison")
    ):
        raise PlanError(_("A goal tied to a measure needs a comparison and a threshold."))
    if fields.get("target_on") is not None and fields["target_on"] < version.starts_on:
        raise PlanError(_("The target date is before the plan starts."))
    with transaction.atomic():
        version = _locked_draft(version)
        goal = Goal.objects.create(version=version, position=version.goals.count(), **fields)
        _audit(therapist, version, request, change="goal_added")
    return goal


def add_intervention(
    therapist: User, version: PlanVersion, *, request: HttpRequest | None = None, **fields: Any
) -> Intervention:
    goal = fields.get("goal")
    if goal is not None and goal.version_id != version.pk:
        raise PlanError(_("Choose a goal of this version."))
    with transaction.atomic():
        version = _locked_draft(version)
        item = Intervention.objects.create(
            version=version, position=version.interventions.count(), **fields
        )
        _audit(therapist, version, request, change="intervention_added")
    return item


def remove_part(
    therapist: User,
    version: PlanVersion,
    *,
    kind: str,
    part_id: int,
    request: HttpRequest | None = None,
) -> None:
    with transaction.atomic():
        version = _locked_draft(version)
        if kind == "goal":
            goal = version.goals.filter(pk=part_id).first()
            if goal is None:
                raise PlanError(_("That goal is not in this draft."))
            version.interventions.filter(goal=goal).update(goal=None)
            goal.delete()
        else:
            item = version.interventions.filter(pk=part_id).first()
            if item is None:
                raise PlanError(_("That intervention is not in this draft."))
            item.delete()
        _audit(therapist, version, request, change=f"{kind}_removed")


def finalise(
    therapist: User, version: PlanVersion, *, request: HttpRequest | None = None
) -> PlanVersion:
    """Make the draft the plan's current version: immutable from now on."""
    with transaction.atomic():
        version = _locked_draft(version)
        if not version.goals.exists():
            raise PlanError(_("Add at least one goal before finalising the plan."))
        now = timezone.now()
        PlanVersion.objects.filter(pk=version.pk).update(
            status=VersionStatus.FINAL, finalised_at=now
        )
        version.status, version.finalised_at = VersionStatus.FINAL, now
        record(
            Action.PLAN_FINALISED,
            actor=therapist,
            request=request,
            obj=version,
            client=version.plan.client,
            number=version.number,
        )
        remind_at = datetime.combine(
            version.review_on, REMINDER_AT, tzinfo=ZoneInfo(therapist.time_zone)
        )
        tasks.send_review_reminder.using(run_after=max(remind_at, now)).enqueue(version.pk)
    return version


def sign_plan(
    client: User, version: PlanVersion, *, typed_name: str, request: HttpRequest
) -> PlanSignature:
    """The client signs their current plan by typing their full name, as they sign the consent."""
    if not client.is_client or version.plan.client_id != client.pk:
        raise PermissionDenied("only the plan's client signs it")
    current = latest_final(version.plan)
    if current is None or current.pk != version.pk:
        raise PlanError(_("Your therapist has updated the plan. Please read the new version."))
    typed = " ".join(typed_name.split())
    if typed.casefold() != " ".join(client.full_name.split()).casefold():
        raise PlanError(
            _("Type your full name exactly as it appears on your account: %(name)s")
            % {"name": client.full_name}
        )
    ip, agent = request_origin(request)
    with transaction.atomic():
        signature, created = PlanSignature.objects.get_or_create(
            version=version,
            client=client,
            defaults={"typed_name": typed, "ip_address": ip, "user_agent": agent},
        )
        if created:
            record(
                Action.PLAN_SIGNED,
                actor=client,
                request=request,
                obj=signature,
                client=client,
                number=version.number,
            )
    return signature


def signature_of(client: User, version: PlanVersion | None) -> PlanSignature | None:
    if version is None:
        return None
    return PlanSignature.objects.filter(version=version, client=client).first()


def reviews_due(therapist: User, *, on: date | None = None) -> QuerySet[PlanVersion]:
    """Current plans of the therapist's clients whose review date is today or past."""
    newer = PlanVersion.objects.filter(
        plan=OuterRef("plan"), status=VersionStatus.FINAL, number__gt=OuterRef("number")
    )
    return (
        PlanVersion.objects.filter(
            status=VersionStatus.FINAL,
            plan__client__in=clients_of(therapist),
            review_on__lte=on or timezone.localdate(),
        )
        .exclude(Exists(newer))
        .select_related("plan__client")
        .order_by("review_on", "pk")
    )
