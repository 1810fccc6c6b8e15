from typing import Any

from django.apps import AppConfig


class SignupConfig(AppConfig):
    """A new client's way in: sign-up, minors, intake and screen, the practice's intake queue."""

    name = "rapport.signup"
    label = "signup"
    verbose_name = "Sign-up"

    def ready(self) -> None:
        from allauth.account.signals import email_confirmed

        email_confirmed.connect(_email_confirmed, dispatch_uid="signup.email_confirmed")


def _email_confirmed(sender: Any, request: Any, email_address: Any, **kwargs: Any) -> None:
    # Imported when the signal fires: services reach models, which are not ready at import.
    from rapport.signup.services import on_email_confirmed

    on_email_confirmed(email_address.user)
