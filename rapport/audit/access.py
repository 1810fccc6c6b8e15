"""Who may read the audit trail: a practice admin all of it; a client the events about their own
record that someone else caused ("Who saw my record"). Everyone else is refused."""

from __future__ import annotations

from datetime import datetime, time, timedelta

from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.utils import timezone

from rapport.accounts.models import User
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
    """What others did with ``user``'s own record, newest first; PermissionDenied unless
    ``user`` is an active client."""
    if not (user.is_active and user.is_client):
        raise PermissionDenied("only clients have a record to ask about")
    return (
        AuditEvent.objects.filter(client=user, action__in=CLIENT_VISIBLE_ACTIONS)
        .exclude(actor=user)
        .select_related("actor")
        .order_by("-sequence")
    )
