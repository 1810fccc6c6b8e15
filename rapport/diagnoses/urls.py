"""Diagnoses routes (mounted at the site root). Each needs a rule in the access matrix."""

from django.urls import path

from rapport.diagnoses import views

urlpatterns = [
    path("clients/<int:client_id>/diagnoses/", views.client_diagnoses, name="client_diagnoses"),
    path(
        "clients/<int:client_id>/diagnoses/<int:diagnosis_id>/change/",
        views.change_diagnosis,
        name="change_diagnosis",
    ),
    path("diagnoses/codes/", views.code_search, name="diagnosis_code_search"),
    path("practice/diagnosis-codes/", views.frequent_codes, name="diagnosis_frequent_codes"),
]
