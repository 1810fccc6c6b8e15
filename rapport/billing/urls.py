"""Billing routes (mounted at the site root). Each needs a rule in the access matrix."""

from django.urls import URLPattern, path

from rapport.billing import ledger_views, superbill_views, views

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
    # The ledger: invoices, payments, write-offs, statements (rapport.billing.ledger_views).
    path("clients/<int:client_id>/ledger/", ledger_views.client_ledger, name="client_ledger"),
    path(
        "clients/<int:client_id>/ledger/invoice/",
        ledger_views.issue_invoice,
        name="issue_invoice",
    ),
    path(
        "clients/<int:client_id>/ledger/payment/",
        ledger_views.record_payment,
        name="record_payment",
    ),
    path(
        "clients/<int:client_id>/ledger/refund/",
        ledger_views.record_refund,
        name="record_refund",
    ),
    path(
        "clients/<int:client_id>/ledger/statement/",
        ledger_views.client_statement,
        name="client_statement",
    ),
    path("invoices/<int:invoice_id>/", ledger_views.invoice, name="invoice"),
    path("invoices/<int:invoice_id>/void/", ledger_views.void_invoice, name="void_invoice"),
    path("invoices/<int:invoice_id>/write-off/", ledger_views.write_off, name="write_off"),
    path("practice/billing/overview/", ledger_views.billing_overview, name="billing_overview"),
    path(
        "practice/billing/export/lines.csv",
        ledger_views.export_billing,
        {"what": "lines"},
        name="export_billing_lines",
    ),
    path(
        "practice/billing/export/payments.csv",
        ledger_views.export_billing,
        {"what": "payments"},
        name="export_payments",
    ),
    path("my/billing/", ledger_views.my_billing, name="my_billing"),
    path("my/billing/statement/", ledger_views.my_statement, name="my_statement"),
    path("my/billing/invoices/<int:invoice_id>/", ledger_views.my_invoice, name="my_invoice"),
]
