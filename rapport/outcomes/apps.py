from django.apps import AppConfig


class OutcomesConfig(AppConfig):
    """Practice outcomes: per-episode facts kept current, and the aggregate pages built on them."""

    name = "rapport.outcomes"
    label = "outcomes"
    verbose_name = "Outcomes"
