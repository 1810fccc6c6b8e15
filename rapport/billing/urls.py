"""Billing routes (mounted at the site root). Each needs a rule in the access matrix."""

from django.urls import URLPattern, path

from rapport.billing import superbill_views, views

urlpatterns: list[URLPattern] = [
    path("billing/", views.billing_home, name="billing_home"),
    path("billing/lines/<int:line_id>/", views.billing_line, name="billing_line"),
    path("billing/lines/<int:line_id>/void/", views.void_billing_line, name="void_billing_line"),
    path(
        "billing/lines/<int:line_id>/correct/",
        views.correct_billing_line,
        name="correct_billing_line",
    ),
    path("visits/<uuid:visit_id>/billing/", views.visit_billing, name="visit_billing"),
    path("clients/<int:client_id>/billing/", views.client_billing, name="client_billing"),
    path(
        "clients/<int:client_id>/billing/missed/<int:appointment_id>/",
        views.charge_missed,
        name="charge_missed",
    ),
    path("clients/<int:client_id>/billing/fees/", views.client_fees, name="client_fees"),
    path(
        "clients/<int:client_id>/billing/fees/<int:fee_id>/remove/",
        views.remove_client_fee,
        name="remove_client_fee",
    ),
    path(
        "clients/<int:client_id>/superbill/",
        superbill_views.client_superbill,
        name="client_superbill",
    ),
    path("my/superbills/", superbill_views.my_superbills, name="my_superbills"),
    path("practice/billing/", views.billing_settings, name="billing_settings"),
    path("practice/billing/fees/", views.fee_schedule, name="fee_schedule"),
    path("practice/billing/fees/<int:service_id>/", views.edit_service, name="edit_service"),
    path(
        "practice/billing/session-types/<int:session_type_id>/",
        views.session_type_kind,
        name="session_type_kind",
    ),
    path(
        "practice/billing/providers/<int:therapist_id>/",
        views.provider_details,
        name="provider_details",
    ),
]
