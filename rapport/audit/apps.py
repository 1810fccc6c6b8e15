from django.apps import AppConfig


class AuditConfig(AppConfig):
    name = "rapport.audit"
    label = "audit"

    def ready(self) -> None:
        from rapport.audit import signals  # noqa: F401  (connects security-event receivers)
