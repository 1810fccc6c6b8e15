"""The record timeline and the record exports (FHIR Bundle and PDF)."""

from __future__ import annotations

from allauth.account.decorators import reauthentication_required
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_http_methods

from rapport.accounts.models import User
from rapport.records import services
from rapport.records.access import access_record
from rapport.records.forms import TimelineFilterForm
from rapport.records.timeline import KINDS, record_entries

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
    form = TimelineFilterForm(request.GET if request.GET.keys() - {"page"} else None)
    status = 200
    entries = []
    if form.is_bound and not form.is_valid():
        status = 400
    else:
        data = form.cleaned_data if form.is_bound else {}
        entries = record_entries(
            client,
            viewer=user,
            kinds=set(data.get("kind") or []),
            since=data.get("since"),
            until=data.get("until"),
        )
    page = Paginator(entries, PAGE_SIZE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request,
        "records/timeline.html",
        {
            "client": client,
            "via": how,
            "form": form,
            "page": page,
            "kinds": KINDS,
            "query": query.urlencode(),
        },
        status=status,
    )


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
