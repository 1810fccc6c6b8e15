"""Measures routes (mounted at the site root). Each needs a rule in the access matrix."""

from django.urls import path

from rapport.measures import fhir_views, views

urlpatterns = [
    # Client: what to fill in, the form, the result, their own progress.
    path("measures/", views.my_measures, name="my_measures"),
    path("measures/tasks/<int:task_id>/", views.measure_task, name="measure_task"),
    path("measures/responses/<int:response_id>/", views.measure_result, name="measure_result"),
    path("measures/progress/", views.my_progress, name="my_progress"),
    # Therapist: assigning measures and the clinical progress view of one client.
    path("clients/<int:client_id>/measures/", views.client_measures, name="client_measures"),
    path(
        "clients/<int:client_id>/measures/<int:assignment_id>/end/",
        views.end_assignment,
        name="end_assignment",
    ),
    path("clients/<int:client_id>/progress/", views.client_progress, name="client_progress"),
    # The client's responses and scores as a FHIR R4 Bundle (the client or their therapist).
    path(
        "clients/<int:client_id>/measures/fhir.json",
        fhir_views.measures_fhir_export,
        name="measures_fhir_export",
    ),
    # Safety alerts: the therapist's, and the practice admin's escalated ones.
    path("alerts/", views.alerts, name="alerts"),
    path("alerts/<int:alert_id>/", views.alert_detail, name="alert_detail"),
    path("practice/alerts/", views.escalated_alerts, name="escalated_alerts"),
    # Practice admin: instruments and their licences.
    path("practice/instruments/", views.instruments, name="instruments"),
    path(
        "practice/instruments/<int:instrument_id>/",
        views.instrument_detail,
        name="instrument_detail",
    ),
]
