"""Treatment plans routes (mounted at the site root). Each needs a rule in the access matrix."""

from django.urls import path

from rapport.plans import views

urlpatterns = [
    path("clients/<int:client_id>/plan/", views.client_plan, name="client_plan"),
    path("clients/<int:client_id>/plan/start/", views.plan_start, name="plan_start"),
    path("clients/<int:client_id>/plan/draft/", views.plan_draft, name="plan_draft"),
    path("clients/<int:client_id>/plan/finalise/", views.plan_finalise, name="plan_finalise"),
    path(
        "clients/<int:client_id>/plan/versions/<int:number>/",
        views.plan_version,
        name="plan_version",
    ),
    path("plan/", views.my_plan, name="my_plan"),
]
