"""Who may read the audit trail: a practice admin all of it; a client the events about their own
record that someone else caused ("Who saw my record"). Everyone else is refused."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, time, timedelta

from django.core.exceptions import PermissionDenied
from django.db.models import Q, QuerySet
from django.utils import timezone

from rapport.accounts.models import Role, User
from rapport.audit.forms import TrailFilterForm
from rapport.audit.models import AuditEvent
from rapport.audit.services import Action

# Actions a client sees about their own record: who looked, who changed, who broke the glass.
CLIENT_VISIBLE_ACTIONS = [
    Action.CLIENT_RECORD_VIEWED,
    Action.CLIENT_RECORD_CHANGED,
    Action.EMERGENCY_ACCESS,
    Action.CARE_STARTED,
    Action.CARE_ENDED,
    Action.AUDIT_EXPORTED,
    Action.RECORD_EXPORTED,
    # Billing is part of the record a client may ask about: who looked, who downloaded.
    Action.BILLING_VIEWED,
    Action.SUPERBILL_DOWNLOADED,
]


def access_trail(user: User, form: TrailFilterForm | None = None) -> QuerySet[AuditEvent]:
    """The trail, newest first, narrowed by a bound filter ``form`` (none if it is invalid),
    for an active practice admin; PermissionDenied for anyone else."""
    if not (user.is_active and user.is_practice_admin):
        raise PermissionDenied("the audit trail is for practice admins")
    events = AuditEvent.objects.select_related("actor", "client").order_by("-sequence")
    if form is None or not form.is_bound:
        return events
    if not form.is_valid():
        return events.none()
    data = form.cleaned_data
    if data["client"]:
        events = events.filter(client=data["client"])
    if data["actor"]:
        events = events.filter(actor=data["actor"])
    if data["action"]:
        events = events.filter(action__startswith=data["action"])
    zone = timezone.get_current_timezone()
    if data["since"]:
        events = events.filter(occurred_at__gte=datetime.combine(data["since"], time(), zone))
    if data["until"]:
        end = datetime.combine(data["until"], time(), zone) + timedelta(days=1)
        events = events.filter(occurred_at__lt=end)
    return events


def access_record_views(user: User) -> QuerySet[AuditEvent]:
    """What others did with ``user``'s own record, and every download of the whole record
    (theirs included), newest first; PermissionDenied unless ``user`` is an active client."""
    if not (user.is_active and user.is_client):
        raise PermissionDenied("only clients have a record to ask about")
    return (
        AuditEvent.objects.filter(client=user, action__in=CLIENT_VISIBLE_ACTIONS)
        .exclude(Q(actor=user) & ~Q(action=Action.RECORD_EXPORTED))
        .select_related("actor")
        .order_by("-sequence")
    )


# Reads by a therapist whose care with the client an admin started are marked for this long.
ADMIN_STARTED_CARE_DAYS = 7


def mark_care_started_by_an_admin(client: User, events: Sequence[AuditEvent]) -> None:
    """Set ``care_started_by_admin_at`` on each of ``events`` (one page of "Who saw my record")
    done by a therapist whose care with ``client`` an admin started in the 7 days before it, so
    the client can tell such care from care they arranged with their therapist (None otherwise).
    One query, whatever the page holds."""
    for event in events:
        event.care_started_by_admin_at = None  # type: ignore[attr-defined]
    if not events:
        return
    window = timedelta(days=ADMIN_STARTED_CARE_DAYS)
    starts = list(
        AuditEvent.objects.filter(
            client=client,
            action=Action.CARE_STARTED,
            actor__role=Role.ADMIN,
            occurred_at__gte=min(e.occurred_at for e in events) - window,
            occurred_at__lte=max(e.occurred_at for e in events),
        ).order_by("sequence")
    )
    for event in events:
        for start in starts:
            if (
                start.detail.get("therapist") == event.actor_id
                and start.occurred_at <= event.occurred_at < start.occurred_at + window
            ):
                event.care_started_by_admin_at = start.occurred_at  # type: ignore[attr-defined]
