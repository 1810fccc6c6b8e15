from django.apps import AppConfig


class SignupConfig(AppConfig):
    """A new client's way in: sign-up, minors, intake and screen, the practice's intake queue."""

    name = "rapport.signup"
    label = "signup"
    verbose_name = "Sign-up"
