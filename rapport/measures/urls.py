"""Measures routes (mounted at the site root). Each needs a rule in the access matrix."""

from django.urls import path

from rapport.measures import (
    alert_views,
    assignment_views,
    fhir_views,
    instrument_views,
    progress_views,
    questionnaire_views,
)

urlpatterns = [
    # Client: what to fill in, the form, the result, their own progress.
    path("measures/", questionnaire_views.my_measures, name="my_measures"),
    path("measures/tasks/<int:task_id>/", questionnaire_views.measure_task, name="measure_task"),
    path(
        "measures/responses/<int:response_id>/",
        questionnaire_views.measure_result,
        name="measure_result",
    ),
    path("measures/progress/", progress_views.my_progress, name="my_progress"),
    # Therapist: assigning measures and the clinical progress view of one client.
    path(
        "clients/<int:client_id>/measures/",
        assignment_views.client_measures,
        name="client_measures",
    ),
    path(
        "clients/<int:client_id>/measures/<int:assignment_id>/end/",
        assignment_views.end_assignment,
        name="end_assignment",
    ),
    path(
        "clients/<int:client_id>/progress/", progress_views.client_progress, name="client_progress"
    ),
    # The client's responses and scores as a FHIR R4 Bundle (the client or their therapist).
    path(
        "clients/<int:client_id>/measures/fhir.json",
        fhir_views.measures_fhir_export,
        name="measures_fhir_export",
    ),
    # Safety alerts: the therapist's, and the practice admin's escalated ones.
    path("alerts/", alert_views.alerts, name="alerts"),
    path("alerts/<int:alert_id>/", alert_views.alert_detail, name="alert_detail"),
    path("practice/alerts/", alert_views.escalated_alerts, name="escalated_alerts"),
    # Practice admin: instruments and their licences.
    path("practice/instruments/", instrument_views.instruments, name="instruments"),
    path(
        "practice/instruments/<int:instrument_id>/",
        instrument_views.instrument_detail,
        name="instrument_detail",
    ),
]
