"""Session room routes (mounted at the site root). Each needs a rule in the access matrix."""

from django.urls import path

from rapport.visits import views

urlpatterns = [
    path(
        "appointments/<int:appointment_id>/join/", views.appointment_join, name="appointment_join"
    ),
    path("clients/<int:client_id>/visit/", views.visit_start, name="visit_start"),
    path("visits/open/", views.visits_open, name="visits_open"),
    path("visits/<uuid:visit_id>/", views.visit_room, name="visit_room"),
    path("visits/<uuid:visit_id>/check/", views.visit_check, name="visit_check"),
    path("visits/<uuid:visit_id>/check-in/", views.visit_checkin, name="visit_checkin"),
    path("visits/<uuid:visit_id>/end/", views.visit_end, name="visit_end"),
    path("visits/<uuid:visit_id>/timeline/", views.visit_timeline, name="visit_timeline"),
]
