"""The admins' retention page: records kept past the practice's policy, erasures asked for,
the dry-run report of what an erasure would remove, and the steps of an erasure."""

from __future__ import annotations

import logging

from allauth.account.decorators import reauthentication_required
from django.contrib import messages
from django.db import IntegrityError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from rapport.accounts.decorators import role_required
from rapport.accounts.models import Jurisdiction, Practice, Role, User
from rapport.records import erasure, erasure_requests
from rapport.records.access import access_client_for_erasure, access_erasure
from rapport.records.erasure_requests import ErasureError
from rapport.records.forms import ErasureRequestForm
from rapport.records.models import Erasure
from rapport.records.retention import last_contacts, overdue_records, years_after

logger = logging.getLogger(__name__)


@role_required(Role.ADMIN)
@require_http_methods(["GET"])
def retention(request: HttpRequest) -> HttpResponse:
    practice = Practice.get()
    erasures = Erasure.objects.select_related(
        "client", "requested_by", "approved_by", "cancelled_by"
    )[:200]
    return render(
        request,
        "records/retention.html",
        {
            "practice": practice,
            "jurisdiction": Jurisdiction(practice.retention_jurisdiction).label,
            "years": practice.retention_period_years,
            "overdue": overdue_records(practice),
            "open": [e for e in erasures if e.is_open],
            "closed": [e for e in erasures if not e.is_open],
            "single_admin": erasure_requests.active_admins() < 2,
        },
    )


@role_required(Role.ADMIN)
@reauthentication_required  # type: ignore[untyped-decorator,unused-ignore]
@require_http_methods(["GET", "POST"])
def erasure_report(request: HttpRequest, client_id: int) -> HttpResponse:
    admin: User = request.user  # type: ignore[assignment]
    client = access_client_for_erasure(admin, client_id, request=request)
    form = ErasureRequestForm(request.POST or None, expected_email=client.email)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                item = erasure_requests.request_erasure(
                    admin, client, form.cleaned_data["reason"], request=request
                )
            except ErasureError as exc:
                form.add_error(None, str(exc))
            else:
                if item.status == Erasure.Status.ON_HOLD:
                    messages.success(
                        request,
                        _("Erasure on hold for seven days; the client is being told by email."),
                    )
                else:
                    messages.success(request, _("Erasure asked for: a second admin must approve."))
                return redirect("retention")
        status = 400
    practice = Practice.get()
    last = last_contacts([client]).get(client.pk)
    years = practice.retention_period_years
    plan = erasure.gather(client)
    return render(
        request,
        "records/erasure_report.html",
        {
            "client": client,
            "form": form,
            "last_contact": last,
            "keep_until": years_after(last, years) if last and years else None,
            "counts": [
                (erasure.kind_in_words(kind), count) for kind, count in plan.counts().items()
            ],
            "files": plan.files,
            "audit_events": plan.audit_events,
            "past": Erasure.objects.filter(client=client).order_by("-requested_at"),
        },
        status=status,
    )


def _step(request: HttpRequest, erasure_id: int, action: str) -> HttpResponse:
    admin: User = request.user  # type: ignore[assignment]
    item = access_erasure(admin, erasure_id)
    steps = {
        "approve": erasure_requests.approve,
        "cancel": erasure_requests.cancel,
        "erase": erasure_requests.erase_after_hold,
    }
    try:
        steps[action](admin, item.pk, request=request)
    except ErasureError as exc:
        messages.error(request, str(exc))
        return redirect("retention")
    except IntegrityError:
        # A row the erasure did not reach still points at one it deleted: the database refused
        # the commit, and nothing was changed (docs/security.md, "Retention and erasure").
        logger.exception("erasure %s refused by the database", item.pk)
        messages.error(request, _("The erasure could not be completed; nothing was changed."))
        return redirect("retention")
    done = {
        "approve": _("Approved: the record has been erased."),
        "cancel": _("Erasure cancelled."),
        "erase": _("The record has been erased."),
    }
    messages.success(request, done[action])
    return redirect("retention")


@role_required(Role.ADMIN)
@reauthentication_required  # type: ignore[untyped-decorator,unused-ignore]
@require_POST
def erasure_approve(request: HttpRequest, erasure_id: int) -> HttpResponse:
    return _step(request, erasure_id, "approve")


@role_required(Role.ADMIN)
@reauthentication_required  # type: ignore[untyped-decorator,unused-ignore]
@require_POST
def erasure_cancel(request: HttpRequest, erasure_id: int) -> HttpResponse:
    return _step(request, erasure_id, "cancel")


@role_required(Role.ADMIN)
@reauthentication_required  # type: ignore[untyped-decorator,unused-ignore]
@require_POST
def erasure_erase(request: HttpRequest, erasure_id: int) -> HttpResponse:
    return _step(request, erasure_id, "erase")
