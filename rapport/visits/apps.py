from django.apps import AppConfig


class VisitsConfig(AppConfig):
    name = "rapport.visits"
    label = "visits"
    verbose_name = "Live sessions"
