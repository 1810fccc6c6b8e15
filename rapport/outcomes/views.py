"""Outcomes pages: thin views over ``rapport.outcomes.access`` and the report builder. Every
view is audited with the scope it showed; no client is named except on a therapist's own
drill-down, and there only their clients in active care."""

from __future__ import annotations

from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_http_methods

from rapport.accounts.decorators import role_required
from rapport.accounts.models import Role, User
from rapport.audit.services import Action, record
from rapport.outcomes.access import outcomes_caseload, outcomes_scope
from rapport.outcomes.charts import rate_chart
from rapport.outcomes.report import COMPARED, RATES, caseload_clients, outcomes_report


@role_required(Role.THERAPIST, Role.ADMIN)
@require_http_methods(["GET"])
def practice_outcomes(request: HttpRequest) -> HttpResponse:
    user: User = request.user  # type: ignore[assignment]
    scope = outcomes_scope(user)
    report = outcomes_report(scope, now=timezone.now())
    with transaction.atomic():
        record(
            Action.OUTCOMES_VIEWED,
            request=request,
            whole_practice=scope.whole_practice,
            by_therapist=scope.by_therapist,
        )
    labels = dict(RATES)
    benchmarks = {b.rate: b for b in report.benchmarks}
    sections = []
    for breakdown in report.breakdowns:
        charts = [
            rate_chart(
                f"chart-{breakdown.key}-{rate}",
                f"{labels[rate]}: {breakdown.title}",
                rate,
                breakdown.groups,
                threshold=report.threshold,
                national=float(benchmarks[rate].percent),
                national_label=f"{benchmarks[rate].label}: {benchmarks[rate].figure} "
                f"({benchmarks[rate].source})",
            )
            for rate in COMPARED
        ]
        sections.append((breakdown, charts))
    return render(
        request,
        "outcomes/outcomes.html",
        {"report": report, "sections": sections, "rates": RATES},
    )


@role_required(Role.THERAPIST)
@require_http_methods(["GET"])
def caseload_outcomes(request: HttpRequest) -> HttpResponse:
    therapist = outcomes_caseload(request.user)  # type: ignore[arg-type]
    caseload = caseload_clients(therapist, now=timezone.now())
    with transaction.atomic():
        record(
            Action.OUTCOMES_CASELOAD_VIEWED,
            request=request,
            clients=sorted({e.client_id for e in caseload.episodes}),
        )
    return render(request, "outcomes/caseload.html", {"caseload": caseload})
