"""Safety plan routes (mounted at the site root). Each needs a rule in the access matrix."""

from django.urls import path

from rapport.safety import views

urlpatterns = [
    path(
        "clients/<int:client_id>/safety-plan/", views.client_safety_plan, name="client_safety_plan"
    ),
    path(
        "clients/<int:client_id>/safety-plan/edit/",
        views.safety_plan_edit,
        name="safety_plan_edit",
    ),
    path(
        "clients/<int:client_id>/safety-plan/reviewed/",
        views.safety_plan_reviewed,
        name="safety_plan_reviewed",
    ),
    path(
        "clients/<int:client_id>/safety-plan/versions/<int:number>/",
        views.safety_plan_version,
        name="safety_plan_version",
    ),
    path("safety-plan/", views.my_safety_plan, name="my_safety_plan"),
    path("safety-plan/sw.js", views.safety_plan_worker, name="safety_plan_worker"),
]
