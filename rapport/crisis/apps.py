from django.apps import AppConfig


class CrisisConfig(AppConfig):
    """Crisis help that fits the client: the practice's crisis lines and emergency numbers per
    country, and which of them a client sees."""

    name = "rapport.crisis"
    label = "crisis"
    verbose_name = "Crisis help"
