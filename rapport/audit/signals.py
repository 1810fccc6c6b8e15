"""Security events from Django and allauth, written to the audit trail."""

from __future__ import annotations

import time
from typing import Any

from allauth.account.signals import (
    email_added,
    email_changed,
    email_confirmed,
    email_removed,
    password_changed,
    password_reset,
)
from allauth.mfa.models import Authenticator
from allauth.mfa.signals import (
    authentication_failed,
    authenticator_added,
    authenticator_removed,
    authenticator_reset,
)
from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.dispatch import receiver
from django.http import HttpRequest

from rapport.accounts.models import User
from rapport.audit.services import Action, record
from rapport.core import realtime
from rapport.lib.sessions import SEEN, STARTED


@receiver(user_logged_in)
def on_sign_in(sender: Any, request: HttpRequest | None, user: Any, **kwargs: Any) -> None:
    if request is not None and hasattr(request, "session"):
        request.session[STARTED] = request.session[SEEN] = time.time()
    record(Action.SIGN_IN, actor=user, request=request, obj=user)


@receiver(user_logged_out)
def on_sign_out(sender: Any, request: HttpRequest | None, user: Any, **kwargs: Any) -> None:
    if user is not None:
        record(Action.SIGN_OUT, actor=user, request=request, obj=user)
        # Signing out ends this browser's live connections (its other tabs), not other devices'.
        session_key = getattr(getattr(request, "session", None), "session_key", None)
        if session_key:
            realtime.close_sockets(realtime.session_group(session_key))


@receiver(user_login_failed)
def on_sign_in_failed(
    sender: Any, credentials: dict[str, Any], request: HttpRequest | None = None, **kwargs: Any
) -> None:
    # The attempted address is kept (not the password); the actor is the account if it exists.
    attempted = str(credentials.get("email") or credentials.get("username") or "")[:254]
    account = User.objects.filter(email__iexact=attempted).first() if attempted else None
    record(
        Action.SIGN_IN_FAILED,
        actor=account,
        request=request,
        actor_label=attempted or "unknown",
    )


@receiver(password_changed)
def on_password_changed(sender: Any, request: HttpRequest, user: Any, **kwargs: Any) -> None:
    record(Action.PASSWORD_CHANGED, actor=user, request=request, obj=user)


@receiver(password_reset)
def on_password_reset(sender: Any, request: HttpRequest, user: Any, **kwargs: Any) -> None:
    record(Action.PASSWORD_RESET, actor=user, request=request, obj=user)


@receiver(email_confirmed)
def on_email_confirmed(
    sender: Any, request: HttpRequest, email_address: Any, **kwargs: Any
) -> None:
    record(Action.EMAIL_CONFIRMED, actor=email_address.user, request=request)


@receiver(email_added)
def on_email_added(
    sender: Any, request: HttpRequest, user: Any, email_address: Any, **kwargs: Any
) -> None:
    # The address is kept: after a takeover it is what the practice needs to know.
    record(Action.EMAIL_ADDED, actor=user, request=request, obj=user, email=email_address.email)


@receiver(email_changed)
def on_primary_email_changed(
    sender: Any,
    request: HttpRequest,
    user: Any,
    from_email_address: Any,
    to_email_address: Any,
    **kwargs: Any,
) -> None:
    previous = from_email_address.email if from_email_address is not None else ""
    record(
        Action.EMAIL_PRIMARY_CHANGED,
        actor=user,
        request=request,
        obj=user,
        email=to_email_address.email,
        previous=previous,
    )


@receiver(email_removed)
def on_email_removed(
    sender: Any, request: HttpRequest, user: Any, email_address: Any, **kwargs: Any
) -> None:
    record(Action.EMAIL_REMOVED, actor=user, request=request, obj=user, email=email_address.email)


@receiver(authenticator_added)
def on_mfa_added(
    sender: Any, request: HttpRequest, user: Any, authenticator: Any, **kw: Any
) -> None:
    # allauth announces recovery codes as "added" only when it makes them by itself alongside a
    # new app or passkey, which is recorded already: one action, one event. Codes made on
    # purpose arrive as authenticator_reset.
    if authenticator.type == Authenticator.Type.RECOVERY_CODES:
        return
    record(Action.MFA_ADDED, actor=user, request=request, kind=authenticator.type)


@receiver(authenticator_removed)
def on_mfa_removed(
    sender: Any, request: HttpRequest, user: Any, authenticator: Any, **kw: Any
) -> None:
    record(Action.MFA_REMOVED, actor=user, request=request, kind=authenticator.type)


@receiver(authenticator_reset)
def on_mfa_reset(
    sender: Any, request: HttpRequest, user: Any, authenticator: Any, **kw: Any
) -> None:
    record(Action.MFA_RECOVERY_RESET, actor=user, request=request, kind=authenticator.type)


@receiver(authentication_failed)
def on_mfa_failed(sender: Any, request: HttpRequest, user: Any, **kwargs: Any) -> None:
    # A wrong authenticator or recovery code; the code typed is never kept.
    again = bool(kwargs.get("reauthentication", False))
    record(Action.MFA_FAILED, actor=user, request=request, obj=user, reauthentication=again)
