"""Sign-in backends: Django's and allauth's, each reading the signed-in person together with
whether they have enrolled a second factor.

Every page for a therapist or admin asks that question (``RequireMFAMiddleware``), and so does
every socket handshake; read with the person, it costs no query of its own.
"""

from __future__ import annotations

from typing import Any

from allauth.account.auth_backends import AuthenticationBackend as AllauthBackend
from allauth.mfa.models import Authenticator
from django.contrib.auth.backends import ModelBackend as DjangoModelBackend
from django.db.models import Exists, OuterRef

from rapport.accounts.models import User


class ReadsSecondFactor:
    """``get_user`` annotated with ``has_authenticator`` (``User.second_factor_missing``)."""

    def get_user(self, user_id: Any) -> User | None:
        user = (
            User.objects.annotate(
                has_authenticator=Exists(Authenticator.objects.filter(user_id=OuterRef("pk")))
            )
            .filter(pk=user_id)
            .first()
        )
        if user is None or not self.user_can_authenticate(user):  # type: ignore[attr-defined]
            return None
        return user


class ModelBackend(ReadsSecondFactor, DjangoModelBackend):
    pass


class AuthenticationBackend(ReadsSecondFactor, AllauthBackend):  # type: ignore[misc]
    pass
