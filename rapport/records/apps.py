from django.apps import AppConfig


class RecordsConfig(AppConfig):
    """The client record as a whole: one timeline, and the record to take away."""

    name = "rapport.records"
    label = "records"
    verbose_name = "Records"
