from django.apps import AppConfig


class SafetyConfig(AppConfig):
    """The client's safety plan (Stanley-Brown): versions, reviews, the offline copy."""

    name = "rapport.safety"
    label = "safety"
    verbose_name = "Safety plans"
