from django.apps import AppConfig


class SchedulingConfig(AppConfig):
    """Availability, appointments, telehealth consent, reminders and calendar feeds."""

    name = "rapport.scheduling"
    label = "scheduling"
