from django.apps import AppConfig


class VisitsConfig(AppConfig):
    name = "rapport.visits"
    label = "visits"
    verbose_name = "Live sessions"

    def ready(self) -> None:
        # Inside ready(): the receiver's module imports models.
        from rapport.crisis.signals import country_stated
        from rapport.visits.services import stated_country

        country_stated.connect(stated_country, dispatch_uid="visits.stated_country")
