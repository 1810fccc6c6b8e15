"""The audit trail for admins, and "who saw my record" for clients."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from datetime import datetime, time, timedelta

from allauth.account.decorators import reauthentication_required
from django.core.paginator import Paginator
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_http_methods

from rapport.accounts.decorators import role_required
from rapport.accounts.models import Role, User
from rapport.audit.forms import TrailFilterForm
from rapport.audit.models import AuditEvent
from rapport.audit.services import Action, record

# Actions a client sees about their own record: who looked, who changed, who broke the glass.
CLIENT_VISIBLE_ACTIONS = [
    Action.CLIENT_RECORD_VIEWED,
    Action.CLIENT_RECORD_CHANGED,
    Action.EMERGENCY_ACCESS,
    Action.CARE_STARTED,
    Action.CARE_ENDED,
    Action.AUDIT_EXPORTED,
]


def _filtered(form: TrailFilterForm) -> QuerySet[AuditEvent]:
    events = AuditEvent.objects.select_related("actor", "client").order_by("-sequence")
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


@role_required(Role.ADMIN)
@require_http_methods(["GET"])
def audit_trail(request: HttpRequest) -> HttpResponse:
    form = TrailFilterForm(request.GET or None)
    events = (
        _filtered(form)
        if request.GET
        else AuditEvent.objects.select_related("actor", "client").order_by("-sequence")
    )
    page = Paginator(events, 50).get_page(request.GET.get("page"))
    record(Action.AUDIT_VIEWED, request=request)
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request,
        "audit/trail.html",
        {"form": form, "page": page, "query": query.urlencode()},
    )


class _Echo:
    def write(self, value: str) -> str:
        return value


@role_required(Role.ADMIN)
@reauthentication_required  # type: ignore[untyped-decorator,unused-ignore]
@require_http_methods(["GET"])
def audit_export(request: HttpRequest) -> HttpResponse | StreamingHttpResponse:
    form = TrailFilterForm(request.GET or None)
    events = _filtered(form) if request.GET else AuditEvent.objects.order_by("-sequence")
    if request.GET and not form.is_valid():
        return render(request, "audit/trail.html", {"form": form, "page": None}, status=400)
    client = form.cleaned_data.get("client") if form.is_bound else None
    record(Action.AUDIT_EXPORTED, request=request, client=client)
    writer = csv.writer(_Echo())
    header = [
        "sequence",
        "occurred_at",
        "actor",
        "action",
        "object_type",
        "object_id",
        "client_id",
        "ip_address",
        "user_agent",
        "hash",
    ]

    def rows() -> Iterator[str]:
        yield writer.writerow(header)
        for event in events.select_related("actor").iterator(chunk_size=1000):
            yield writer.writerow(
                [
                    event.sequence,
                    event.occurred_at.isoformat(),
                    event.actor_label,
                    event.action,
                    event.object_type,
                    event.object_id,
                    event.client_id or "",
                    event.ip_address or "",
                    event.user_agent,
                    event.hash,
                ]
            )

    response = StreamingHttpResponse(rows(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = 'attachment; filename="rapport-audit.csv"'
    return response


@role_required(Role.CLIENT)
@require_http_methods(["GET"])
def my_record_access(request: HttpRequest) -> HttpResponse:
    user: User = request.user  # type: ignore[assignment]
    events = (
        AuditEvent.objects.filter(client=user, action__in=CLIENT_VISIBLE_ACTIONS)
        .exclude(actor=user)
        .select_related("actor")
        .order_by("-sequence")
    )
    page = Paginator(events, 50).get_page(request.GET.get("page"))
    return render(request, "audit/my_record_access.html", {"page": page})
