"""Records routes (mounted at the site root). Each needs a rule in the access matrix."""

from django.urls import URLPattern, path

from rapport.records import retention_views, views

urlpatterns: list[URLPattern] = [
    path("my-record/", views.my_record, name="my_record"),
    path(
        "clients/<int:client_id>/record/timeline/",
        views.record_timeline,
        name="record_timeline",
    ),
    path(
        "clients/<int:client_id>/record/export.json",
        views.record_export_fhir,
        name="record_export_fhir",
    ),
    path(
        "clients/<int:client_id>/record/export.pdf",
        views.record_export_pdf,
        name="record_export_pdf",
    ),
    path("practice/retention/", retention_views.retention, name="retention"),
    path(
        "practice/retention/clients/<int:client_id>/",
        retention_views.erasure_report,
        name="erasure_report",
    ),
    path(
        "practice/retention/erasures/<int:erasure_id>/approve/",
        retention_views.erasure_approve,
        name="erasure_approve",
    ),
    path(
        "practice/retention/erasures/<int:erasure_id>/cancel/",
        retention_views.erasure_cancel,
        name="erasure_cancel",
    ),
    path(
        "practice/retention/erasures/<int:erasure_id>/erase/",
        retention_views.erasure_erase,
        name="erasure_erase",
    ),
]
