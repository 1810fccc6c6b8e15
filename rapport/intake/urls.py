"""Intake routes (mounted at the site root). Each needs a rule in the access matrix."""

from django.urls import path

from rapport.intake import manage_views, views

urlpatterns = [
    path("intake/<int:intake_id>/", views.intake_fill, name="intake_fill"),
    path("intake/sent/<int:submission_id>/", views.intake_detail, name="intake_detail"),
    path(
        "intake/sent/<int:submission_id>/correct/",
        views.intake_correct,
        name="intake_correct",
    ),
    path("clients/<int:client_id>/intake/", manage_views.client_intakes, name="client_intakes"),
    path("practice/intake-forms/", manage_views.intake_forms, name="intake_forms"),
]
