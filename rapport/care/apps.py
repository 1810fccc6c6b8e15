from django.apps import AppConfig


class CareConfig(AppConfig):
    name = "rapport.care"
    label = "care"

    def ready(self) -> None:
        # Inside ready(): the services import models, which load only once apps are ready.
        from rapport.accounts.signals import invitation_accepted
        from rapport.care.services import care_for_invited_client

        invitation_accepted.connect(care_for_invited_client, dispatch_uid="care.invited_client")
