from django.apps import AppConfig


class CoreConfig(AppConfig):
    """The web shell and cross-cutting platform pieces: encrypted fields, headers, commands."""

    name = "rapport.core"
    label = "core"
