"""Safety alerts: raised in the transaction that stores the answers, with the therapist's email
and the escalation deadline queued in it too; acknowledged with the action taken; escalated to
the practice admins when nobody acknowledged them in time. Live events go out after commit only.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import F, Q, QuerySet
from django.http import HttpRequest
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from rapport.accounts.models import Practice, Role, User
from rapport.audit.services import Action, record
from rapport.care.access import clients_of
from rapport.core import realtime
from rapport.measures import tasks
from rapport.measures.access import may_act_on
from rapport.measures.errors import MeasureError
from rapport.measures.models import AlertKind, Response, SafetyAlert
from rapport.safety.models import SafetyPlanVersion
from rapport.safety.services import record_review

log = logging.getLogger(__name__)


ACTION_TAKEN_MAX = 2000


def escalation_deadline(alert: SafetyAlert, practice: Practice | None = None) -> datetime:
    minutes = (practice or Practice.get()).alert_escalation_minutes
    return alert.opened_at + timedelta(minutes=minutes)


def raise_alert(response: Response, therapist: User, kind: str) -> SafetyAlert:
    """Open an alert, in the caller's transaction, with its email and (for risk) escalation."""
    alert = SafetyAlert.objects.create(
        kind=kind, response=response, client=response.client, therapist=therapist
    )
    record(
        Action.ALERT_RAISED,
        actor=response.submitted_by,
        obj=alert,
        client=response.client,
        response=response.pk,
        therapist=therapist.pk,
    )
    return _announce(alert, therapist, kind)


def raise_alert_for(
    *,
    client: User,
    therapist: User,
    kind: str,
    actor: User,
    source: str,
    label: str,
    url: str,
) -> SafetyAlert:
    """Open an alert raised outside measures (``source``, e.g. "intake"), described by a label
    and the page that shows it, so measures never imports the app above it. Same email,
    escalation and live event as an alert from a response, in the caller's transaction."""
    alert = SafetyAlert.objects.create(
        kind=kind,
        client=client,
        therapist=therapist,
        source=source,
        source_label=label[:200],
        source_url=url[:300],
    )
    record(
        Action.ALERT_RAISED,
        actor=actor,
        obj=alert,
        client=client,
        source=source,
        therapist=therapist.pk,
    )
    return _announce(alert, therapist, kind)


def _announce(alert: SafetyAlert, therapist: User, kind: str) -> SafetyAlert:
    tasks.send_alert_email.enqueue(alert.pk)
    if kind == AlertKind.RISK_ITEM:
        tasks.escalate_alert.using(run_after=escalation_deadline(alert)).enqueue(alert.pk)
    realtime.publish_to_user(therapist.pk, _alert_event(alert))
    return alert


def alert_title(alert: SafetyAlert) -> str:
    if alert.kind == AlertKind.FEEDBACK_DROP:
        return _("Drop in session feedback")
    return _("Risk answer")


def _alert_event(alert: SafetyAlert) -> dict[str, Any]:
    """What the therapist's open pages show of a new alert, at once (``alert.safety``)."""
    return {
        "type": "alert.safety",
        "alert": alert.pk,
        "kind": alert.kind,
        "title": alert_title(alert),
        "client_name": alert.client.full_name,
        "url": reverse("alert_detail", kwargs={"alert_id": alert.pk}),
    }


def acknowledge(
    alert: SafetyAlert,
    user: User,
    action_taken: str,
    *,
    safety_plan_reviewed: SafetyPlanVersion | None = None,
    request: HttpRequest | None = None,
) -> SafetyAlert:
    """Close an alert with the action taken (required; stored encrypted; the act audited).

    ``safety_plan_reviewed``: the version of the client's safety plan the therapist reviewed,
    recorded with the acknowledgement (``rapport.safety``)."""
    text = action_taken.strip()
    if not text:
        raise MeasureError(_("Write down the action you took."), code="required")
    if len(text) > ACTION_TAKEN_MAX:
        raise MeasureError(
            _("Keep the action taken under %(max)d characters.") % {"max": ACTION_TAKEN_MAX},
            code="too_long",
        )
    now = timezone.now()
    with transaction.atomic():
        locked = (
            SafetyAlert.objects.select_for_update(of=("self",))
            .select_related("client")
            .get(pk=alert.pk)
        )
        if not may_act_on(user, locked):
            raise PermissionDenied("not allowed to acknowledge this alert")
        if locked.acknowledged_at is not None:
            raise MeasureError(_("This alert has already been acknowledged."), code="done")
        locked.acknowledged_at, locked.acknowledged_by, locked.action_taken = now, user, text
        locked.save(update_fields=["acknowledged_at", "acknowledged_by", "action_taken"])
        record(
            Action.ALERT_ACKNOWLEDGED,
            actor=user,
            request=request,
            obj=locked,
            client=locked.client,
            minutes_open=int((now - locked.opened_at).total_seconds() // 60),
            after_escalation=locked.escalated_at is not None,
        )
        if safety_plan_reviewed is not None:
            if safety_plan_reviewed.plan.client_id != locked.client_id:
                raise PermissionDenied("that safety plan is another client's")
            record_review(user, safety_plan_reviewed, alert_id=locked.pk, request=request)
        recipients = {locked.therapist_id, user.pk}
        if locked.escalated_at is not None:
            recipients.update(_admins().values_list("pk", flat=True))
        for user_id in sorted(recipients):
            realtime.publish_to_user(user_id, {"type": "alert.acknowledged", "alert": locked.pk})
    alert.acknowledged_at, alert.acknowledged_by, alert.action_taken = now, user, text
    return alert


def _admins() -> QuerySet[User]:
    return User.objects.filter(role=Role.ADMIN, is_active=True)


def _therapists() -> QuerySet[User]:
    return User.objects.filter(role=Role.THERAPIST, is_active=True)


def escalate(alert_id: int, now: datetime | None = None) -> bool:
    """Hand an unacknowledged risk alert to every active practice admin. True if it escalated.

    With no active admin it goes to every active therapist of the practice instead, with a
    warning, and the admins' home page says so once there is one again. Runs in the task worker
    at the deadline. Does nothing for an acknowledged or already escalated alert, so running it
    twice (a restarted worker) is harmless.
    """
    now = now or timezone.now()
    with transaction.atomic():
        alert = (
            SafetyAlert.objects.select_for_update(of=("self",))
            .select_related("client", "therapist")
            .filter(pk=alert_id)
            .first()
        )
        if alert is None or alert.kind != AlertKind.RISK_ITEM:
            return False
        if alert.acknowledged_at is not None or alert.escalated_at is not None:
            return False
        practice = Practice.get()
        deadline = escalation_deadline(alert, practice)
        if now < deadline:
            # The practice gave therapists longer after this alert was raised: come back then.
            tasks.escalate_alert.using(run_after=deadline).enqueue(alert.pk)
            return False
        admins = list(_admins())
        therapists = [] if admins else list(_therapists())
        alert.escalated_at = now
        alert.escalated_to_therapists = not admins
        alert.save(update_fields=["escalated_at", "escalated_to_therapists"])
        record(
            Action.ALERT_ESCALATED,
            obj=alert,
            client=alert.client,
            actor_label="rapport",
            therapist=alert.therapist_id,
            minutes=practice.alert_escalation_minutes,
            admins=[admin.pk for admin in admins],
            therapists=[therapist.pk for therapist in therapists],
        )
        if not admins:
            log.error(
                "safety alert %s escalated with no active admin: sent to %d therapist(s)",
                alert.pk,
                len(therapists),
            )
        event: dict[str, Any] = {
            "type": "alert.escalated",
            "alert": alert.pk,
            "therapist_name": alert.therapist.full_name,
            "url": reverse("escalated_alerts"),
        }
        if not admins:
            event.update(no_admin=True, url=reverse("alerts"))
        for person in admins or therapists:
            tasks.send_escalation_email.enqueue(alert.pk, person.pk)
            realtime.publish_to_user(person.pk, event)
    return True


def escalate_overdue(now: datetime | None = None) -> int:
    """Escalate every open risk alert past its deadline (a sweep behind the queued tasks)."""
    now = now or timezone.now()
    minutes = Practice.get().alert_escalation_minutes
    overdue = SafetyAlert.objects.filter(
        acknowledged_at=None,
        escalated_at=None,
        opened_at__lte=now - timedelta(minutes=minutes),
    ).only("pk", "kind")
    # The kind is encrypted: risk alerts are picked out here, not in SQL.
    risk = [alert.pk for alert in overdue if alert.kind == AlertKind.RISK_ITEM]
    return sum(escalate(alert_id, now) for alert_id in risk)


def open_alerts(therapist: User) -> QuerySet[SafetyAlert]:
    """The therapist's open alerts about clients they still treat (a former client's alert is
    the practice admins' to follow up once it escalates)."""
    return (
        SafetyAlert.objects.filter(
            therapist=therapist, acknowledged_at=None, client__in=clients_of(therapist)
        )
        .select_related("client", "response__instrument")
        .order_by("opened_at", "pk")
    )


def acknowledged_alerts(therapist: User, *, limit: int = 50) -> QuerySet[SafetyAlert]:
    """The therapist's most recently closed alerts about clients they still treat (what was
    done is left undecrypted)."""
    return (
        SafetyAlert.objects.filter(
            therapist=therapist, acknowledged_at__isnull=False, client__in=clients_of(therapist)
        )
        .select_related("client", "acknowledged_by")
        .defer("action_taken")
        .order_by("-acknowledged_at")[:limit]
    )


def client_open_alerts(client: User) -> list[SafetyAlert]:
    """A client's alerts still open, whoever they went to: their kind and times only."""
    return list(
        SafetyAlert.objects.filter(client=client, acknowledged_at__isnull=True).only(
            "pk", "kind", "opened_at", "escalated_at", "client_id"
        )
    )


def escalations_without_admin(now: datetime | None = None) -> QuerySet[SafetyAlert]:
    """Escalations that went to the therapists for want of an admin: open, or of the last 30
    days. The admins' home page warns about them."""
    since = (now or timezone.now()) - timedelta(days=30)
    return SafetyAlert.objects.filter(escalated_to_therapists=True).filter(
        Q(acknowledged_at=None) | Q(escalated_at__gte=since)
    )


def escalated_alerts() -> QuerySet[SafetyAlert]:
    """What the practice admins see: every alert that escalated, open ones first."""
    return (
        SafetyAlert.objects.exclude(escalated_at=None)
        .select_related("therapist", "client", "acknowledged_by")
        .order_by(F("acknowledged_at").desc(nulls_first=True), "-escalated_at")
    )
