from django.apps import AppConfig


class AuditConfig(AppConfig):
    name = "rapport.audit"
    label = "audit"

    def ready(self) -> None:
        from rapport.audit import health, signals  # noqa: F401  (registers: receivers, /readyz)
