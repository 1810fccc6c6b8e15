from django.apps import AppConfig


class HomeworkConfig(AppConfig):
    """Homework between sessions: exercises from a library or free tasks, assigned by the
    therapist, filled in by the client, commented by the therapist."""

    name = "rapport.homework"
    label = "homework"
    verbose_name = "Homework"
