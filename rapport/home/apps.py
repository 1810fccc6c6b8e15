from django.apps import AppConfig


class HomeConfig(AppConfig):
    """The top layer: pages, sockets and commands that bring the domain apps together (role home
    pages, the caseload, the client record's front page, practice settings, the events socket,
    the demo practice, key rotation)."""

    name = "rapport.home"
    label = "home"
