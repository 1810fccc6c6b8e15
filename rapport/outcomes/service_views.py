"""The service page (attendance, technology, feedback by modality), its one-page PDF summary, and
the research export with its data dictionary. Thin: access, one domain call, render; each read
of client data is audited with the scope it covered."""

from __future__ import annotations

from allauth.account.decorators import reauthentication_required
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from rapport.accounts.decorators import role_required
from rapport.accounts.models import Practice, Role, User
from rapport.audit.services import Action, record
from rapport.outcomes import research_export, summary_pdf
from rapport.outcomes.access import outcomes_scope, research_export_allowed
from rapport.outcomes.service_charts import Bar, bar_chart
from rapport.outcomes.service_quality import MeanRow, ServiceQuality, Table, service_quality


@role_required(Role.THERAPIST, Role.ADMIN)
@require_http_methods(["GET"])
def service_page(request: HttpRequest) -> HttpResponse:
    user: User = request.user  # type: ignore[assignment]
    scope = outcomes_scope(user)
    figures = service_quality(scope, Practice.get())
    with transaction.atomic():
        record(Action.SERVICE_QUALITY_VIEWED, request=request, whole_practice=scope.whole_practice)
    return render(
        request,
        "outcomes/service.html",
        {"scope": scope, "figures": figures, "charts": charts(figures)},
    )


def _column_bars(table: Table, column: int) -> list[Bar]:
    return [
        Bar(row.label, row.cells[column].percent, row.cells[column].low, row.cells[column].high)
        for row in table.rows
    ]


def _mean_bars(rows: list[MeanRow]) -> list[Bar]:
    return [Bar(row.label, row.mean, row.low, row.high) for row in rows]


def charts(figures: ServiceQuality) -> dict[str, object]:
    """The page's charts; each has a table beside it with the same numbers."""
    return {
        "attendance": bar_chart(
            "chart-attendance",
            _("Completed sessions by modality"),
            _column_bars(figures.attendance, 0),
        ),
        "no_show": bar_chart(
            "chart-no-show",
            _("No-shows by modality"),
            _column_bars(figures.attendance, 2),
        ),
        "step_down": bar_chart(
            "chart-step-down",
            _("Sessions with a step down, by modality"),
            _column_bars(figures.technical_by_modality, 0),
        ),
        "network": bar_chart(
            "chart-network",
            _("Sessions with a step down, by the client's network"),
            _column_bars(figures.technical_by_network, 0),
        ),
        "feedback": bar_chart(
            "chart-feedback",
            _("Mean session feedback by modality (0 to 100)"),
            _mean_bars(figures.feedback_by_modality),
        ),
        "feedback_outcome": bar_chart(
            "chart-feedback-outcome",
            _("Mean session feedback by outcome (0 to 100)"),
            _mean_bars(figures.feedback_by_outcome),
        ),
    }


@role_required(Role.THERAPIST, Role.ADMIN)
@require_http_methods(["GET"])
def summary_download(request: HttpRequest) -> HttpResponse:
    user: User = request.user  # type: ignore[assignment]
    scope = outcomes_scope(user)
    made = summary_pdf.render_summary(scope, actor=user, request=request)
    return _download(made.content, made.filename, "application/pdf")


@role_required(Role.ADMIN)
@reauthentication_required  # type: ignore[untyped-decorator,unused-ignore]
@require_http_methods(["GET"])
def research_csv(request: HttpRequest) -> HttpResponse:
    user: User = request.user  # type: ignore[assignment]
    research_export_allowed(user)
    made = research_export.export_csv(user, request=request)
    return _download(made.content, made.filename, made.content_type)


@role_required(Role.ADMIN)
@require_http_methods(["GET"])
def research_dictionary(request: HttpRequest) -> HttpResponse:
    """The data dictionary: what each column holds (no client data, so no audit event)."""
    user: User = request.user  # type: ignore[assignment]
    research_export_allowed(user)
    text = research_export.dictionary_markdown()
    return _download(
        text.encode("utf-8"), "rapport-research-dictionary.md", "text/markdown; charset=utf-8"
    )


def _download(content: bytes, filename: str, content_type: str) -> HttpResponse:
    response = HttpResponse(content, content_type=content_type)
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response
