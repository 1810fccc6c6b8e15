from django.apps import AppConfig


class NotesConfig(AppConfig):
    """Progress and psychotherapy notes: templates, drafts, sign and lock, addenda."""

    name = "rapport.notes"
    label = "notes"
    verbose_name = "Notes"
