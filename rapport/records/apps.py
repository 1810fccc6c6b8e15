from django.apps import AppConfig


class RecordsConfig(AppConfig):
    """The client record as a whole: one timeline, the record to take away, and its retention
    and erasure."""

    name = "rapport.records"
    label = "records"
    verbose_name = "Records"
