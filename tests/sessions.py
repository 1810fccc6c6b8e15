"""A signed-in session made without the sign-in form, for tests that are not about signing in.

The session holds what the real form leaves in it: Django's sign-in (which also starts Rapport's
session clocks and writes the audit event) and allauth's records of the password step and, for
someone with an authenticator app, the second factor, both just now, so MFA checks and sudo-mode
screens pass as after a real sign-in (allauth 65 keeps these records in the session:
``record_authentication``). Used by the test client (``signed_in`` in ``tests/conftest.py``) and
by the browser tests' server process (``tests/browser/people.py``). Tests of signing in, MFA,
lockout, session lifetimes and the access matrix use the form.
"""

from __future__ import annotations

from importlib import import_module

from allauth.account.internal.flows.login import record_authentication
from allauth.mfa.models import Authenticator
from django.conf import settings
from django.contrib.auth import login
from django.contrib.sessions.backends.base import SessionBase
from django.http import HttpRequest

from rapport.accounts.models import User

# The backend allauth signs people in with through the form.
SIGN_IN_BACKEND = "rapport.accounts.backends.AuthenticationBackend"


def signed_in_session(user: User) -> SessionBase:
    """A new saved session in which ``user`` has just signed in (and passed MFA if enrolled)."""
    request = HttpRequest()
    request.session = import_module(settings.SESSION_ENGINE).SessionStore()
    login(request, user, backend=SIGN_IN_BACKEND)
    record_authentication(request, user, method="password", email=user.email)
    totp = Authenticator.objects.filter(user=user, type=Authenticator.Type.TOTP).first()
    if totp is not None:
        record_authentication(request, user, method="mfa", type="totp", id=totp.pk)
    request.session.save()
    return request.session


def session_cookie(user: User) -> str:
    """The ``Cookie`` header of a new signed-in session for ``user``."""
    return f"{settings.SESSION_COOKIE_NAME}={signed_in_session(user).session_key}"
