"""Outcomes routes (mounted at /outcomes/). Each needs a rule in the access matrix."""

from django.urls import path

from rapport.outcomes import service_views, views

urlpatterns = [
    path("", views.practice_outcomes, name="practice_outcomes"),
    path("service/", service_views.service_page, name="outcomes_service"),
    path("summary.pdf", service_views.summary_download, name="outcomes_summary_pdf"),
    path("research/export.csv", service_views.research_csv, name="outcomes_research_csv"),
    path(
        "research/dictionary.md",
        service_views.research_dictionary,
        name="outcomes_research_dictionary",
    ),
    path("my-clients/", views.caseload_outcomes, name="caseload_outcomes"),
]
