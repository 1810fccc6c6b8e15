from django.apps import AppConfig
from django.db.models.signals import post_save


class OutcomesConfig(AppConfig):
    """Practice outcomes: per-episode facts kept current, and the aggregate pages built on them."""

    name = "rapport.outcomes"
    label = "outcomes"
    verbose_name = "Outcomes"

    def ready(self) -> None:
        # Inside ready(): the receivers import models, which load only once apps are ready.
        from rapport.outcomes import signals
        from rapport.visits.signals import visit_ended

        for sender, receiver in (
            ("measures.Response", signals.response_saved),
            ("care.CareRelationship", signals.care_saved),
            ("diagnoses.Diagnosis", signals.diagnosis_saved),
            ("accounts.Practice", signals.practice_saved),
        ):
            post_save.connect(receiver, sender=sender, dispatch_uid=f"outcomes.{sender}")
        visit_ended.connect(signals.visit_ended, dispatch_uid="outcomes.visit_ended")
