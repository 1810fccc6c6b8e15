"""The treatment plan's part of a client's record (contract in ``rapport.core.record``): an
entry per finalised version and per signature, and FHIR ``CarePlan`` and ``Goal`` resources, in
a fixed number of queries (versions with their goal counts and signatures; for exports also
goals, interventions, scores and instrument names).

Drafts are not part of the record until finalised. Every finalised version is exported: the
latest as an ``active`` CarePlan, each earlier one ``revoked`` (replaced by the next, which
points back at it with ``replaces``), its goals ``cancelled``; a goal's ``achievementStatus``
comes from the progress computed from the client's scores (``rapport.plans.progress``).
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from django.db.models import Count, F
from django.urls import reverse
from django.utils.translation import gettext as _

from rapport.accounts.models import User
from rapport.core.record import WHOLE, RecordEntry, Window, fhir_id, fhir_reference
from rapport.plans.models import Comparison, Goal, Intervention, PlanSignature, PlanVersion
from rapport.plans.models import VersionStatus as V
from rapport.plans.progress import GoalProgress, Status, progress_of_goal, scores_by_instrument

KINDS = {"plan"}
ACHIEVEMENT = "http://terminology.hl7.org/CodeSystem/goal-achievement"
ACHIEVED = {
    Status.MET: "achieved",
    Status.NOT_MET: "not-achieved",
    Status.IN_PROGRESS: "in-progress",
}
COMPARATOR = {
    Comparison.BELOW: "<",
    Comparison.AT_OR_BELOW: "<=",
    Comparison.ABOVE: ">",
    Comparison.AT_OR_ABOVE: ">=",
}


class _Plan:
    """The client's finalised versions (each with its ``goal_count``) and their signatures, and
    with ``with_parts`` their goals, interventions and goal progress, read once."""

    def __init__(self, client: User, *, with_parts: bool = True, window: Window = WHOLE) -> None:
        versions = (
            PlanVersion.objects.filter(plan__client=client, status=V.FINAL)
            .select_related("created_by")
            .annotate(goal_count=Count("goals"))
        )
        self.versions = sorted(window.narrow(versions, "finalised_at"), key=lambda v: v.number)
        signatures = (
            PlanSignature.objects.filter(version__plan__client=client, version__status=V.FINAL)
            .annotate(version_number=F("version__number"))
            .order_by("signed_at", "pk")
        )
        self.signatures = list(window.narrow(signatures, "signed_at"))
        self.goals: dict[int, list[Goal]] = defaultdict(list)
        self.interventions: dict[int, list[Intervention]] = defaultdict(list)
        self.progress: dict[int, GoalProgress] = {}
        if not with_parts:  # the timeline shows each version's summary, not its goals
            return
        ids = [v.pk for v in self.versions]
        for goal in Goal.objects.filter(version__in=ids).order_by("position", "pk"):
            self.goals[goal.version_id].append(goal)
        for item in Intervention.objects.filter(version__in=ids).order_by("position", "pk"):
            self.interventions[item.version_id].append(item)
        keys = [g.instrument_key for gs in self.goals.values() for g in gs if g.has_measure]
        scores, names = scores_by_instrument(client, keys) if ids and keys else ({}, {})
        self.progress = {
            goal.pk: progress_of_goal(goal, v.starts_on, scores, names=names)
            for v in self.versions
            for goal in self.goals[v.pk]
        }


def entries(
    client: User, *, viewer: User, export: bool = False, window: Window = WHOLE
) -> list[RecordEntry]:
    plan = _Plan(client, with_parts=export, window=window)
    result = []
    for v in plan.versions:
        assert v.finalised_at is not None  # noqa: S101 -- a finalised version has its time
        url = "" if viewer.pk == client.pk else reverse("plan_version", args=[client.pk, v.number])
        details: list[tuple[str, str]] = []
        if export:  # the timeline shows the version's summary line; exports every detail
            details = [
                (_("Starts"), v.starts_on.isoformat()),
                (_("Review date"), v.review_on.isoformat()),
                (_("Usual modality"), str(v.get_modality_display())),
                (_("How often"), v.frequency or "—"),
            ]
            if v.summary:
                details.append((_("Summary for the client"), v.summary))
        for goal in plan.goals[v.pk] if export else []:  # the timeline shows the summary only
            progress = plan.progress[goal.pk]
            words = f"{goal.problem} → {goal.description}"
            if goal.target_on:
                words += " · " + _("target date %(when)s") % {"when": goal.target_on.isoformat()}
            if progress.target:
                words += f" · {progress.target}: {progress.words}"
            details.append((_("Goal"), words))
        for item in plan.interventions[v.pk] if export else []:
            words = ", ".join(x for x in (item.what, item.who, item.frequency) if x)
            details.append((_("Intervention"), f"{words} ({item.get_modality_display()})"))
        result.append(
            RecordEntry(
                kind="plan",
                at=v.finalised_at,
                title=_("Treatment plan, version %(n)s") % {"n": v.number},
                summary=_("%(goals)s goals · review date %(when)s")
                % {"goals": v.goal_count, "when": v.review_on.isoformat()},  # type: ignore[attr-defined]
                url=url,
                status=_("finalised"),
                details=tuple(details),
            )
        )
    for s in plan.signatures:
        n = s.version_number  # type: ignore[attr-defined]
        result.append(
            RecordEntry(
                kind="plan",
                at=s.signed_at,
                title=_("Treatment plan signed by the client (version %(n)s)") % {"n": n},
                summary=_("Typed name: %(name)s") % {"name": s.typed_name},
                status=_("signed"),
            )
        )
    return result


def _goal(goal: Goal, progress: GoalProgress, *, current: bool, client: User) -> dict[str, Any]:
    resource: dict[str, Any] = {
        "resourceType": "Goal",
        "id": fhir_id("goal", goal.pk),
        "lifecycleStatus": "active" if current else "cancelled",
        "description": {"text": goal.description},
        "subject": {"reference": fhir_reference("patient", client.pk)},
        "note": [{"text": goal.problem}],
    }
    if progress.status in ACHIEVED:
        code = ACHIEVED[progress.status]
        resource["achievementStatus"] = {"coding": [{"system": ACHIEVEMENT, "code": code}]}
    target: dict[str, Any] = {}
    if goal.has_measure and goal.threshold is not None:
        target["measure"] = {"text": progress.instrument or goal.instrument_key}
        target["detailQuantity"] = {
            "value": goal.threshold,
            "comparator": COMPARATOR[Comparison(goal.comparison)],
            "unit": "{score}",
            "system": "http://unitsofmeasure.org",
            "code": "{score}",
        }
    if goal.target_on:
        target["dueDate"] = goal.target_on.isoformat()
    if target:
        resource["target"] = [target]
    return resource


def _care_plan(
    v: PlanVersion, plan: _Plan, previous: PlanVersion | None, client: User
) -> dict[str, Any]:
    current = v is plan.versions[-1]
    resource: dict[str, Any] = {
        "resourceType": "CarePlan",
        "id": fhir_id("careplan", v.pk),
        "status": "active" if current else "revoked",
        "intent": "plan",
        "title": _("Treatment plan, version %(n)s") % {"n": v.number},
        "subject": {"reference": fhir_reference("patient", client.pk)},
        "period": {"start": v.starts_on.isoformat()},
        "author": {"display": v.created_by.full_name},
        "goal": [{"reference": fhir_reference("goal", g.pk)} for g in plan.goals[v.pk]],
        "note": [{"text": _("Review date %(when)s") % {"when": v.review_on.isoformat()}}],
    }
    if v.finalised_at:
        resource["created"] = v.finalised_at.isoformat()
    if v.summary:
        resource["description"] = v.summary
    if previous is not None:
        resource["replaces"] = [{"reference": fhir_reference("careplan", previous.pk)}]
    activities = []
    for item in plan.interventions[v.pk]:
        detail: dict[str, Any] = {
            "status": "in-progress" if current else "stopped",
            "description": item.what,
        }
        if item.frequency:
            detail["scheduledString"] = item.frequency
        if item.goal_id:
            detail["goal"] = [{"reference": fhir_reference("goal", item.goal_id)}]
        activities.append({"detail": detail})
    if activities:
        resource["activity"] = activities
    return resource


def fhir_resources(client: User, *, viewer: User, export: bool = True) -> list[dict[str, Any]]:
    plan = _Plan(client)
    resources = []
    previous = None
    for v in plan.versions:
        resources.append(_care_plan(v, plan, previous, client))
        current = v is plan.versions[-1]
        resources.extend(
            _goal(g, plan.progress[g.pk], current=current, client=client) for g in plan.goals[v.pk]
        )
        previous = v
    return resources
