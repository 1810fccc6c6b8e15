from django.apps import AppConfig


class BillingConfig(AppConfig):
    """Billing: the fee schedule, provider billing details and the billing lines of sessions."""

    name = "rapport.billing"
    label = "billing"
    verbose_name = "Billing"
