from django.apps import AppConfig


class PlansConfig(AppConfig):
    """Treatment plans: problems, measurable goals, interventions, signed versions."""

    name = "rapport.plans"
    label = "plans"
    verbose_name = "Treatment plans"

    def ready(self) -> None:
        # Inside ready(): the receiver's module imports models.
        from rapport.measures.signals import progress_sections
        from rapport.plans.sections import goal_section

        progress_sections.connect(goal_section, dispatch_uid="plans.goal_section")
