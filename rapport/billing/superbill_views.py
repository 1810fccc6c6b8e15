"""Superbill pages: the client's own list (their portal) and the download, for the client, their
therapists and the billing office. Views parse and render; ``access`` decides who,
``superbill`` builds, renders and audits."""

from __future__ import annotations

import calendar
from datetime import date

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_http_methods

from rapport.accounts.models import User
from rapport.billing import access, superbill
from rapport.billing.forms import SuperbillForm
from rapport.billing.services import BillingError


def _months(client: User) -> list[tuple[date, date]]:
    """(first day, last day) of each month with a billed service, newest first."""
    return [
        (first, first.replace(day=calendar.monthrange(first.year, first.month)[1]))
        for first in superbill.superbill_months(client)
    ]


def _page(request: HttpRequest, user: User, client: User, via: str) -> HttpResponse:
    asked = bool(request.GET.keys() & {"start", "end", "invoice"})
    form = SuperbillForm(request.GET if asked else None)
    missing: list[superbill.Missing] = []
    if asked and form.is_valid():
        data = form.cleaned_data
        invoice = access.superbill_invoice(client, data["invoice"]) if data.get("invoice") else None
        try:
            bill = superbill.build_superbill(
                client, start=data["start"], end=data["end"], invoice=invoice
            )
        except superbill.DetailsMissing as exc:
            missing = exc.missing
            form.add_error(None, exc)
        except BillingError as exc:
            form.add_error(None, exc)
        else:
            made = superbill.render_pdf(bill, actor=user, via=via, request=request)
            response = HttpResponse(made.content, content_type=made.content_type)
            response["Content-Disposition"] = f'attachment; filename="{made.filename}"'
            return response
    here = (
        reverse("my_superbills")
        if request.resolver_match and request.resolver_match.url_name == "my_superbills"
        else reverse("client_superbill", args=[client.pk])
    )
    return render(
        request,
        "billing/superbill.html",
        {
            "here": here,
            "client": client,
            "via": via,
            "form": form,
            "months": _months(client),
            "missing": missing,
            "office": access.is_billing_office(user),
        },
        status=400 if asked else 200,
    )


@login_required
@require_http_methods(["GET"])
def client_superbill(request: HttpRequest, client_id: int) -> HttpResponse:
    """A client's superbills: the months to download and a form for any period; with
    ``start`` and ``end`` (or ``invoice``) the PDF itself."""
    user: User = request.user  # type: ignore[assignment]
    client, via = access.access_superbill(user, client_id, request=request)
    return _page(request, user, client, via)


@login_required
@require_http_methods(["GET"])
def my_superbills(request: HttpRequest) -> HttpResponse:
    """The signed-in client's own superbills (their portal)."""
    user: User = request.user  # type: ignore[assignment]
    if not (user.is_active and user.is_client):
        raise PermissionDenied("only clients have superbills of their own")
    return _page(request, user, user, access.SuperbillReach.SELF)
