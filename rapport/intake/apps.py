"""Intake forms: practice-defined, sent to clients, drafted, submitted once."""

from __future__ import annotations

from typing import Any

from django.apps import AppConfig
from django.db.models.signals import post_migrate, post_save


class IntakeConfig(AppConfig):
    """Intake forms: practice-defined, sent to clients, drafted, submitted once."""

    name = "rapport.intake"
    label = "intake"
    verbose_name = "Intake"

    def ready(self) -> None:
        # Inside ready(): the receivers import models, which load only once apps are ready.
        from rapport.intake import sending

        # The built-in forms are always in the table, like the built-in instruments.
        post_migrate.connect(load_builtin_forms, sender=self)
        post_save.connect(
            sending.care_saved, sender="care.CareRelationship", dispatch_uid="intake.care_saved"
        )
        post_save.connect(
            sending.appointment_saved,
            sender="scheduling.Appointment",
            dispatch_uid="intake.appointment_saved",
        )


def load_builtin_forms(
    app_config: AppConfig, using: str = "default", plan: Any = None, **kwargs: Any
) -> None:
    from django.db import connections

    # Imported when the signal fires: apps.py loads before the models are ready.
    from rapport.intake.catalogue import sync_builtin_forms

    if "intake_intakeform" not in connections[using].introspection.table_names():
        return
    sync_builtin_forms(using=using)
