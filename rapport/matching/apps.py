from django.apps import AppConfig
from django.db.models.signals import post_delete, post_save


class MatchingConfig(AppConfig):
    """Therapist profiles, a client's request for a therapist, explained matching, the waitlist."""

    name = "rapport.matching"
    label = "matching"
    verbose_name = "Matching"

    def ready(self) -> None:
        # The app registry is ready: the models matching reads, and its services, load now.
        from rapport.matching.services import schedule_changed
        from rapport.scheduling.models import AvailabilityChange, SessionType, WeeklyWindow

        # Working hours and session types decide who fits: a change matches the waitlist again.
        for model in (WeeklyWindow, AvailabilityChange, SessionType):
            post_save.connect(schedule_changed, sender=model, dispatch_uid=f"matching-{model}")
            post_delete.connect(
                schedule_changed, sender=model, dispatch_uid=f"matching-del-{model}"
            )
