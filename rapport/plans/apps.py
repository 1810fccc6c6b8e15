from django.apps import AppConfig


class PlansConfig(AppConfig):
    """Treatment plans: problems, measurable goals, interventions, signed versions."""

    name = "rapport.plans"
    label = "plans"
    verbose_name = "Treatment plans"
