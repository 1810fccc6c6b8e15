from __future__ import annotations

from typing import Any

from django.apps import AppConfig
from django.db.models.signals import post_migrate, post_save


class MeasuresConfig(AppConfig):
    """Measurement-based care: instruments, assignments, responses, safety alerts, progress."""

    name = "rapport.measures"
    label = "measures"
    verbose_name = "Measures"

    def ready(self) -> None:
        # Inside ready(): models (which these modules import) can only load once apps are ready.
        from rapport.measures import assignments, feedback
        from rapport.visits.signals import visit_ended

        # After every migrate (and every flush of a test database), like Django's own
        # content types: the built-in instruments are always in the Instrument table.
        post_migrate.connect(load_builtin_instruments, sender=self)
        post_save.connect(
            assignments.appointment_saved,
            sender="scheduling.Appointment",
            dispatch_uid="measures.appointment_saved",
        )
        visit_ended.connect(feedback.visit_ended, dispatch_uid="measures.visit_ended")


def load_builtin_instruments(
    app_config: AppConfig, using: str = "default", plan: Any = None, **kwargs: Any
) -> None:
    from django.db import connections

    # Imported when the signal fires: apps.py loads before the models are ready.
    from rapport.measures.instruments import sync_builtin_instruments

    if "measures_instrument" not in connections[using].introspection.table_names():
        return  # migrated backwards past the measures tables
    sync_builtin_instruments(using=using)
