from django.apps import AppConfig


class IntakeConfig(AppConfig):
    """Intake forms: practice-defined, sent to clients, drafted, submitted once."""

    name = "rapport.intake"
    label = "intake"
    verbose_name = "Intake"
