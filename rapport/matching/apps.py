from django.apps import AppConfig


class MatchingConfig(AppConfig):
    """Therapist profiles, a client's request for a therapist, explained matching, the waitlist."""

    name = "rapport.matching"
    label = "matching"
    verbose_name = "Matching"
