from django.apps import AppConfig
from django.db.models.signals import post_migrate


class CoreConfig(AppConfig):
    """The web shell and cross-cutting platform pieces: encrypted fields, headers, commands,
    health and metrics."""

    name = "rapport.core"
    label = "core"

    def ready(self) -> None:
        from rapport.core import health  # noqa: F401  (registers the ground floor's /readyz checks)
        from rapport.core.canary import write_key_canary  # models are loaded only now

        post_migrate.connect(write_key_canary, sender=self)
