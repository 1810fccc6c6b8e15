"""The audit trail for admins, and "who saw my record" for clients."""

from __future__ import annotations

import csv
from collections.abc import Iterator

from allauth.account.decorators import reauthentication_required
from django.core.paginator import Page, Paginator
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_http_methods

from rapport.accounts.decorators import role_required
from rapport.accounts.models import Role
from rapport.audit.access import (
    access_record_views,
    access_trail,
    mark_care_started_by_an_admin,
)
from rapport.audit.forms import TrailFilterForm
from rapport.audit.labels import action_label
from rapport.audit.models import AuditEvent
from rapport.audit.reads import VISIT_GAP, AccessRow, grouped_by_visit, one_row_each
from rapport.audit.services import Action, record


@role_required(Role.ADMIN)
@require_http_methods(["GET"])
def audit_trail(request: HttpRequest) -> HttpResponse:
    form = TrailFilterForm(request.GET or None)
    events = access_trail(request.user, form)  # type: ignore[arg-type]
    # Recorded before the page is counted: a page counted first would be read after this event
    # and lose its oldest row.
    record(Action.AUDIT_VIEWED, request=request)
    page = Paginator(events, 50).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request,
        "audit/trail.html",
        {"form": form, "page": page, "query": query.urlencode()},
    )


def object_type_of(event: AuditEvent) -> str:
    # Events recorded before object types were read through lazy objects hold the wrapper's name
    # for the signed-in person's account.
    return "User" if event.object_type == "SimpleLazyObject" else event.object_type


class _Echo:
    def write(self, value: str) -> str:
        return value


@role_required(Role.ADMIN)
@reauthentication_required  # type: ignore[untyped-decorator,unused-ignore]
@require_http_methods(["GET"])
def audit_export(request: HttpRequest) -> HttpResponse | StreamingHttpResponse:
    form = TrailFilterForm(request.GET or None)
    events = access_trail(request.user, form)  # type: ignore[arg-type]
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
        "what",
        "object_type",
        "object_id",
        "client_id",
        "ip_address",
        "user_agent",
        "hash",
        "redacted_at",
        "redaction_seal",
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
                    action_label(event.action),
                    object_type_of(event),
                    event.object_id,
                    event.client_id or "",
                    event.ip_address or "",
                    event.user_agent,
                    event.hash,
                    event.redacted_at.isoformat() if event.redacted_at else "",
                    event.redaction_seal,
                ]
            )

    response = StreamingHttpResponse(rows(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = 'attachment; filename="rapport-audit.csv"'
    return response


@role_required(Role.CLIENT)
@require_http_methods(["GET"])
def my_record_access(request: HttpRequest) -> HttpResponse:
    events = access_record_views(request.user)  # type: ignore[arg-type]
    full = request.GET.get("full") == "1"
    page: Page[AuditEvent] | Page[AccessRow]
    if full:
        page = Paginator(events, 50).get_page(request.GET.get("page"))
        rows = one_row_each(page)
    else:
        page = Paginator(grouped_by_visit(events), 50).get_page(request.GET.get("page"))
        rows = list(page)
    # Reads under care an admin started lately are marked (one query for the page).
    events_shown = [event for row in rows for event in row.events]
    mark_care_started_by_an_admin(request.user, events_shown)  # type: ignore[arg-type]
    for row in rows:
        row.care_started_by_admin_at = next(
            (e.care_started_by_admin_at for e in row.events if e.care_started_by_admin_at),  # type: ignore[attr-defined]
            None,
        )
    return render(
        request,
        "audit/my_record_access.html",
        {
            "page": page,
            "rows": rows,
            "full": full,
            "query": "full=1" if full else "",
            "visit_minutes": int(VISIT_GAP.total_seconds() // 60),
        },
    )
