"""Records routes (mounted at the site root). Each needs a rule in the access matrix."""

from django.urls import URLPattern, path

from rapport.records import views

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
]
