from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class BillingConfig(AppConfig):
    """Billing: the fee schedule, provider billing details and the billing lines of sessions."""

    name = "rapport.billing"
    label = "billing"
    verbose_name = _("Billing")

    def ready(self) -> None:
        # Inside ready(): the services import models, which load once apps are ready.
        from rapport.billing import services
        from rapport.visits.signals import visit_ended

        # Each ended session gets its proposed billing line (after the end committed).
        visit_ended.connect(services.visit_ended, dispatch_uid="billing.visit_ended")
