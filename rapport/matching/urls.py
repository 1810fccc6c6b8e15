"""Matching routes (mounted at the site root). Each needs a rule in the access matrix."""

from django.urls import path

from rapport.matching import views

urlpatterns = [
    path(
        "therapists/<int:therapist_id>/profile/",
        views.therapist_profile,
        name="therapist_profile",
    ),
    path(
        "therapists/<int:therapist_id>/profile/edit/",
        views.edit_profile,
        name="edit_therapist_profile",
    ),
    path("therapists/<int:therapist_id>/photo/", views.therapist_photo, name="therapist_photo"),
    path("my-therapist/", views.my_request, name="my_care_request"),
    path("my-therapist/change/", views.ask_rematch, name="ask_rematch"),
    path("care-offers/", views.offers, name="care_offers"),
    path("care-offers/<int:offer_id>/", views.offer_detail, name="care_offer"),
    path("care-offers/<int:offer_id>/decline/", views.decline_offer, name="decline_care_offer"),
    path("practice/care-requests/", views.care_requests, name="care_requests"),
    path(
        "practice/care-requests/<int:request_id>/",
        views.care_request_detail,
        name="care_request",
    ),
    path(
        "practice/rematch/<int:rematch_id>/handled/",
        views.handle_rematch,
        name="handle_rematch",
    ),
]
