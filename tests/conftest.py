"""Personas and shared fixtures.

client_a and client_b are clients; therapist_x treats client_a; therapist_y treats nobody relevant;
admin runs the practice. Therapists and the admin have TOTP enrolled, as MFA requires.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest
from django.core.cache import cache
from django.test import Client

from tests.helpers import totp_code
from tests.mail import Inbox, smtp_server

PASSWORD = "correct horse battery staple"
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    outcome = yield
    report = outcome.get_result()  # type: ignore[attr-defined]
    # In CI a skipped test is a test that did not run: make it fail loudly instead.
    if IN_CI and report.skipped and not hasattr(report, "wasxfail"):
        report.outcome = "failed"
        report.longrepr = f"skipped in CI (not allowed): {report.longrepr}"


@pytest.fixture(autouse=True)
def _clean_cache(db: Any) -> Iterator[None]:
    cache.clear()
    yield
    cache.clear()


@pytest.fixture(autouse=True)
def _fresh_channel_layer() -> Iterator[None]:
    """A new channel layer per test: each async test body runs in its own event loop, and a Redis
    layer keeps per-loop state (a receive still blocked in the last test's loop holds its lock)."""
    from channels.layers import channel_layers

    channel_layers.backends.clear()
    yield
    channel_layers.backends.clear()


@pytest.fixture(scope="session", autouse=True)
def _close_socket_database_threads(django_db_setup: Any) -> Iterator[None]:
    """Socket consumers keep database connections open in their own threads; close them before
    pytest-django drops the test database (PostgreSQL refuses while anyone is connected)."""
    yield
    from rapport.core.db import close_pool

    close_pool()


@pytest.fixture
def smtp() -> Iterator[Inbox]:
    """A real SMTP server (aiosmtpd) as the practice's mailer; what it received is in the inbox."""
    with smtp_server() as inbox:
        yield inbox


def make_user(email: str, role: str, name: str, *, mfa: bool | None = None) -> Any:
    from allauth.account.models import EmailAddress
    from allauth.mfa.totp.internal.auth import TOTP, generate_totp_secret

    from rapport.accounts.models import User

    user = User.objects.create_user(email, PASSWORD, full_name=name, role=role)
    EmailAddress.objects.create(user=user, email=email, verified=True, primary=True)
    if mfa if mfa is not None else user.requires_mfa:
        secret = generate_totp_secret()
        TOTP.activate(user, secret)
        user.totp_secret = secret  # type: ignore[attr-defined]
    return user


@pytest.fixture
def client_a(db: Any) -> Any:
    return make_user("client.a@example.test", "client", "Alice Client")


@pytest.fixture
def client_b(db: Any) -> Any:
    return make_user("client.b@example.test", "client", "Bob Client")


@pytest.fixture
def therapist_x(db: Any, client_a: Any) -> Any:
    from rapport.care.models import CareRelationship, ClientProfile

    therapist = make_user("therapist.x@example.test", "therapist", "Xena Therapist")
    CareRelationship.objects.create(therapist=therapist, client=client_a)
    ClientProfile.objects.get_or_create(client=client_a)
    return therapist


@pytest.fixture
def therapist_y(db: Any, client_b: Any) -> Any:
    from rapport.care.models import CareRelationship

    therapist = make_user("therapist.y@example.test", "therapist", "Yuri Therapist")
    CareRelationship.objects.create(therapist=therapist, client=client_b)
    return therapist


@pytest.fixture
def admin(db: Any) -> Any:
    return make_user("admin@example.test", "admin", "Ada Admin")


@pytest.fixture
def personas(
    client_a: Any, client_b: Any, therapist_x: Any, therapist_y: Any, admin: Any
) -> dict[str, Any]:
    return {
        "anonymous": None,
        "client_a": client_a,
        "client_b": client_b,
        "therapist_x": therapist_x,
        "therapist_y": therapist_y,
        "admin": admin,
    }


def signed_in(user: Any, *, sudo: bool = True) -> Client:
    """A test client with ``user`` signed in through the real sign-in form (and TOTP step)."""
    client = Client()
    response = client.post("/accounts/login/", {"login": user.email, "password": PASSWORD})
    assert response.status_code == 302, response.content[:500]
    if response["Location"].startswith("/accounts/2fa/authenticate"):
        response = client.post("/accounts/2fa/authenticate/", {"code": totp_code(user.totp_secret)})
        assert response.status_code == 302, response.content[:500]
    return client


@pytest.fixture
def login() -> Any:
    return signed_in
