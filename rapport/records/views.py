"""The record timeline and the record exports (FHIR Bundle and PDF)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from allauth.account.decorators import reauthentication_required
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_http_methods

from rapport.accounts.models import User
from rapport.records import services
from rapport.records.access import access_record
from rapport.records.forms import TimelineFilterForm
from rapport.records.timeline import KIND_WORDS, KINDS, TimelinePage, timeline_page

PAGE_SIZE = 50


@login_required
@require_http_methods(["GET"])
def my_record(request: HttpRequest) -> HttpResponse:
    user: User = request.user  # type: ignore[assignment]
    if not user.is_client:
        raise PermissionDenied("only clients have a record of their own")
    return record_timeline(request, user.pk)


@login_required
@require_http_methods(["GET"])
def record_timeline(request: HttpRequest, client_id: int) -> HttpResponse:
    user: User = request.user  # type: ignore[assignment]
    client, how = access_record(user, client_id, request=request, purpose="record_timeline")
    form = TimelineFilterForm(request.GET if request.GET.keys() - {"before"} else None)
    before = _moment(request.GET.get("before"))
    status = 200
    page = TimelinePage([], None)
    if (form.is_bound and not form.is_valid()) or before is False:
        status = 400
    else:
        data = form.cleaned_data if form.is_bound else {}
        page = timeline_page(
            client,
            viewer=user,
            size=PAGE_SIZE,
            before=before or None,
            kinds=set(data.get("kind") or []),
            since=data.get("since"),
            until=data.get("until"),
        )
    query = request.GET.copy()
    query.pop("before", None)
    older = ""
    if page.older is not None:
        query["before"] = page.older.isoformat()
        older = "?" + query.urlencode()
        query.pop("before")
    return render(
        request,
        "records/timeline.html",
        {
            "client": client,
            "via": how,
            "form": form,
            "entries": page.entries,
            "rows": [(entry, KIND_WORDS.get(entry.kind, entry.kind)) for entry in page.entries],
            "kinds": KINDS,
            "bad_cursor": before is False,
            "newest": "?" + query.urlencode() if "before" in request.GET else "",
            "older": older,
        },
        status=status,
    )


def _moment(text: str | None) -> datetime | Literal[False] | None:
    """The page cursor ``before`` (an ISO 8601 instant), ``None`` when absent, ``False`` when it
    is not one (the page says so)."""
    if text is None:
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return False
    return moment if timezone.is_aware(moment) else False


def _download(export: services.Export) -> HttpResponse:
    response = HttpResponse(export.content, content_type=export.content_type)
    response["Content-Disposition"] = f'attachment; filename="{export.filename}"'
    return response


@login_required
@reauthentication_required  # type: ignore[untyped-decorator,unused-ignore]
@require_http_methods(["GET"])
def record_export_fhir(request: HttpRequest, client_id: int) -> HttpResponse:
    user: User = request.user  # type: ignore[assignment]
    client, how = access_record(user, client_id, request=request, purpose="record_export")
    return _download(services.export_fhir(user, client, how, request=request))


@login_required
@reauthentication_required  # type: ignore[untyped-decorator,unused-ignore]
@require_http_methods(["GET"])
def record_export_pdf(request: HttpRequest, client_id: int) -> HttpResponse:
    user: User = request.user  # type: ignore[assignment]
    client, how = access_record(user, client_id, request=request, purpose="record_export")
    return _download(services.export_pdf(user, client, how, request=request))
