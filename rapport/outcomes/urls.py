"""Outcomes routes (mounted at /outcomes/). Each needs a rule in the access matrix."""

from django.urls import path

from rapport.outcomes import views

urlpatterns = [
    path("", views.practice_outcomes, name="practice_outcomes"),
]
