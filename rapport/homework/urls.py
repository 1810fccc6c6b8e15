"""Homework routes (mounted at the site root). Each needs a rule in the access matrix."""

from django.urls import path

from rapport.homework import views

urlpatterns = [
    path("clients/<int:client_id>/homework/", views.client_homework, name="client_homework"),
    path(
        "clients/<int:client_id>/homework/<int:assignment_id>/",
        views.homework_assignment,
        name="homework_assignment",
    ),
    path("homework/", views.my_homework, name="my_homework"),
    path("homework/<int:homework_id>/", views.homework_fill, name="homework_fill"),
    path("homework/<int:homework_id>/review/", views.homework_review, name="homework_review"),
]
