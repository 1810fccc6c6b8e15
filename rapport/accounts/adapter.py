"""How django-allauth fits Rapport: who may sign up, and what a new account is."""

from __future__ import annotations

import time
import uuid
from typing import Any
from urllib.parse import quote

from allauth.account.adapter import DefaultAccountAdapter
from allauth.core import context as allauth_context
from allauth.mfa.adapter import DefaultMFAAdapter
from allauth.mfa.models import Authenticator
from django.conf import settings
from django.contrib.sites.shortcuts import get_current_site
from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import HttpRequest
from django.urls import reverse
from django.utils import translation

from rapport.accounts.models import Practice, Role, User
from rapport.audit.services import Action, record
from rapport.core import outbox
from rapport.core.encryption import key_ring
from rapport.lib.crypto import KeyRing


class AccountAdapter(DefaultAccountAdapter):  # type: ignore[misc]
    def is_open_for_signup(self, request: HttpRequest) -> bool:
        # Clients join by invitation unless the practice opens self-registration.
        return Practice.get().allow_client_self_registration

    def is_reauthentication_required(self, *, app: str, **kwargs: Any) -> bool:
        """Sudo mode: a sign-in (or re-authentication) within the last few minutes counts.

        allauth on its own only counts explicit re-authentication, which would ask a therapist
        for their password again seconds after signing in, on their way to enrol MFA.
        """
        from allauth.account import app_settings
        from allauth.account.internal.flows.login import get_authentication_records
        from allauth.core import context

        if not super().is_reauthentication_required(app=app, **kwargs):
            return False
        request = self.request or context.request
        if request is None or not request.user.is_authenticated:
            return True
        window = app_settings.REAUTHENTICATION_TIMEOUT
        records = get_authentication_records(request, request.user)
        latest = max((float(r.get("at", 0)) for r in records), default=0.0)
        return bool(time.time() - latest >= window)

    def send_mail(self, template_prefix: str, email: str, context: dict[str, Any]) -> None:
        """Recorded in the outbox and sent by the worker within a second or so: a slow or
        absent mail server never holds up the request (``rapport.core.outbox``)."""
        request = allauth_context.request
        context = {
            "request": request,
            "email": email,
            "current_site": get_current_site(request),
            # The practice's own name and address, never the host a request happened to use.
            "practice": Practice.get(),
            "site_url": settings.SITE_URL,
            **context,
        }
        # In the account holder's language, not the language of whoever's browser asked.
        account = User.objects.filter(email__iexact=email).only("language").first()
        language = account.language if account is not None else translation.get_language()
        with translation.override(language):
            message = self.render_mail(template_prefix, email, context)
        kind = template_prefix.rsplit("/", 1)[-1].replace("_", " ")
        outbox.record(message, key=f"account:{uuid.uuid4()}", kind=kind)

    def get_email_confirmation_url(self, request: HttpRequest, emailconfirmation: Any) -> str:
        path = reverse("account_confirm_email", args=[emailconfirmation.key])
        return f"{settings.SITE_URL}{path}"

    def get_reset_password_from_key_url(self, key: str) -> str:
        path = reverse("account_reset_password_from_key", kwargs={"uidb36": "UID", "key": "KEY"})
        return settings.SITE_URL + path.replace("UID-KEY", quote(key))

    def pre_authenticate(self, request: HttpRequest, **credentials: Any) -> None:
        try:
            super().pre_authenticate(request, **credentials)
        except ValidationError:
            # Too many failed passwords for this address: the refused attempt is audited too.
            attempted = str(credentials.get("email") or credentials.get("username") or "")[:254]
            account = User.objects.filter(email__iexact=attempted).first() if attempted else None
            label = attempted or "unknown"
            record(Action.LOCKED_OUT, actor=account, request=request, actor_label=label)
            raise

    def save_user(self, request: HttpRequest, user: Any, form: Any, commit: bool = True) -> Any:
        user = super().save_user(request, user, form, commit=False)
        user.role = Role.CLIENT
        user.full_name = form.cleaned_data.get("full_name", "") or user.email.split("@")[0]
        # The client sign-up form (rapport.signup) asks for these too.
        for field in ("time_zone", "language"):
            if form.cleaned_data.get(field):
                setattr(user, field, form.cleaned_data[field])
        if commit:
            user.save()
        return user


class MFAAdapter(DefaultMFAAdapter):  # type: ignore[misc]
    """Keeps authenticator secrets (TOTP seeds, recovery-code seeds) encrypted at rest."""

    CONTEXT = "mfa.authenticator"

    def encrypt(self, text: str) -> str:
        return key_ring().encrypt(text, self.CONTEXT)

    def decrypt(self, encrypted_text: str) -> str:
        return key_ring().decrypt(encrypted_text, self.CONTEXT)


def rotate_authenticator_secrets() -> int:
    """allauth keeps TOTP and recovery-code seeds in JSON, encrypted by our MFA adapter."""
    ring = key_ring()
    count = 0
    for authenticator in Authenticator.objects.iterator():
        data = dict(authenticator.data)
        touched = False
        for key in ("secret", "seed"):
            token = data.get(key)
            if isinstance(token, str) and KeyRing.key_id_of(token) not in (None, ring.current_id):
                plain = ring.decrypt(token, MFAAdapter.CONTEXT)
                data[key] = ring.encrypt(plain, MFAAdapter.CONTEXT)
                touched = True
        if touched:
            with transaction.atomic():
                Authenticator.objects.filter(pk=authenticator.pk).update(data=data)
            count += 1
    return count
