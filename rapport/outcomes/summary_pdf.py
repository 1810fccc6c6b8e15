"""The one-page summary a practice can share: the headline outcome rates beside the national
figures, and the headline figures of the service page, as a PDF (WeasyPrint, like the
superbill). Aggregates only, suppressed as on the pages; no client is named. Each download is
audited with the scope it covered."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import weasyprint
from django.db import transaction
from django.http import HttpRequest
from django.template.loader import render_to_string
from django.utils import timezone

from rapport.accounts.models import Practice, User
from rapport.audit.services import Action, record
from rapport.outcomes.access import OutcomesScope
from rapport.outcomes.report import RATES, Rate, Report, outcomes_report
from rapport.outcomes.service_quality import ServiceQuality, service_quality

PRINT_CSS = str(Path(__file__).parent / "static" / "outcomes" / "summary_print.css")


@dataclass(frozen=True)
class Headline:
    """One outcome rate of the practice, beside the national figure where there is one."""

    label: str
    rate: Rate
    benchmark: str


def headlines(report: Report) -> list[Headline]:
    national = {b.rate: b.figure for b in report.benchmarks}
    return [
        Headline(str(label), report.overall.rates[key], national.get(key, ""))
        for key, label in RATES
        if key in report.overall.rates
    ]


@dataclass(frozen=True)
class SummaryFile:
    content: bytes
    filename: str


def summary_html(
    scope: OutcomesScope, figures: ServiceQuality, report: Report, practice: Practice
) -> str:
    return render_to_string(
        "outcomes/summary_pdf.html",
        {
            "scope": scope,
            "figures": figures,
            "report": report,
            "headlines": headlines(report),
            "practice": practice,
            "made_at": timezone.now(),
        },
    )


def render_summary(
    scope: OutcomesScope, *, actor: User, request: HttpRequest | None = None
) -> SummaryFile:
    """The summary as a PDF for ``scope`` (already permission-checked), its download audited."""
    practice = Practice.get()
    figures = service_quality(scope, practice)
    report = outcomes_report(scope, now=timezone.now())
    content = weasyprint.HTML(string=summary_html(scope, figures, report, practice)).write_pdf(
        stylesheets=[weasyprint.CSS(filename=PRINT_CSS)]
    )
    if content is None:  # write_pdf returns None only when given a target to write to
        raise RuntimeError("WeasyPrint made no PDF")
    with transaction.atomic():
        record(
            Action.OUTCOMES_SUMMARY_DOWNLOADED,
            actor=actor,
            request=request,
            whole_practice=scope.whole_practice,
        )
    return SummaryFile(content, f"outcomes-summary-{timezone.now():%Y%m%d}.pdf")
