"""Personas and shared fixtures.

client_a and client_b are clients; therapist_x treats client_a; therapist_y treats client_b;
admin runs the practice. Therapists and the admin have TOTP enrolled, as MFA requires.
(pytest-django sets Django up before this module is imported, so models import at the top.)
"""

from __future__ import annotations

import functools
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from allauth.account.models import EmailAddress
from allauth.mfa.totp.internal.auth import TOTP, generate_totp_secret
from channels.layers import channel_layers
from django.conf import settings
from django.contrib.auth.hashers import make_password
from django.core.cache import cache
from django.test import Client

from rapport.accounts.models import User
from rapport.care.models import CareRelationship, ClientProfile
from tests.helpers import totp_code
from tests.mail import Inbox, smtp_server
from tests.sessions import signed_in_session

PASSWORD = "correct horse battery staple"
# What each person's authenticator app holds, by email. Kept apart from the server's encrypted
# copy, so a code typed from it checks that the server still holds the right secret.
AUTHENTICATOR_APPS: dict[str, str] = {}
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}
# Every live event published in a test must be plain JSON (rapport.core.realtime), in this
# process and in the servers the browser tests start (they inherit the environment).
os.environ["RAPPORT_CHECK_EVENTS"] = "true"


@pytest.fixture(scope="session", autouse=True)
def _check_published_events() -> None:
    from django.conf import settings

    settings.RAPPORT_CHECK_EVENTS = True


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    outcome = yield
    report = outcome.get_result()  # type: ignore[attr-defined]
    # In CI a skipped test is a test that did not run: make it fail loudly instead.
    if IN_CI and report.skipped and not hasattr(report, "wasxfail"):
        report.outcome = "failed"
        report.longrepr = f"skipped in CI (not allowed): {report.longrepr}"


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Browser tests run last (pytest-django has already put the database tests first): the
    run's one Playwright keeps an event loop going in the main thread, where other tests call
    ``asyncio.run``."""
    items.sort(key=lambda item: item.get_closest_marker("browser") is not None)


@pytest.fixture(autouse=True)
def _clean_cache(request: pytest.FixtureRequest) -> Iterator[None]:
    """Each test that uses the test database starts and ends with an empty cache (lockouts, rate
    limits and used TOTP codes live there). Tests that only drive servers of their own (browser,
    restart and scale-out tests) have no cache here, and get no test database for it."""
    database = next((f for f in ("transactional_db", "db") if f in request.fixturenames), None)
    if database is None and "django_db" not in request.keywords:
        yield
        return
    if database is not None:
        request.getfixturevalue(database)  # the cache may be a table in it
    cache.clear()
    yield
    cache.clear()


@pytest.fixture(autouse=True)
def _own_audit_anchor(settings: Any, tmp_path: Path) -> None:
    """Each test's audit checkpoints in a file of its own: the test database starts afresh, and
    a checkpoint of an earlier test's trail would not match it."""
    settings.RAPPORT_AUDIT_ANCHOR = tmp_path / "audit-anchor"


@pytest.fixture(autouse=True)
def _fresh_channel_layer() -> Iterator[None]:
    """A new channel layer per test: each async test body runs in its own event loop, and a Redis
    layer keeps per-loop state (a receive still blocked in the last test's loop holds its lock)."""
    channel_layers.backends.clear()
    yield
    channel_layers.backends.clear()


@pytest.fixture(scope="session", autouse=True)
def _close_socket_database_threads(django_db_setup: Any) -> Iterator[None]:
    """Socket consumers and web threads keep database connections open in their own threads;
    close them before pytest-django drops the test database (PostgreSQL refuses while anyone is
    connected)."""
    yield
    from rapport.core import db, http

    db.close_pool()
    http.close_pool()


@pytest.fixture
def smtp() -> Iterator[Inbox]:
    """A real SMTP server (aiosmtpd) as the practice's mailer; what it received is in the inbox."""
    with smtp_server() as inbox:
        yield inbox


@functools.cache
def password_hash() -> str:
    """``PASSWORD`` hashed once per run with the practice's own hasher (Argon2).

    Argon2 is slow on purpose, and most tests make five personas: they share this one real hash
    instead of paying for five more. Tests of hashing itself set passwords through the product.
    """
    return make_password(PASSWORD)


def make_user(email: str, role: str, name: str, *, mfa: bool | None = None) -> User:
    """A person who can sign in with ``PASSWORD``; with an authenticator app when their role
    requires one (or when ``mfa`` says so)."""
    user = User.objects.create(email=email, password=password_hash(), full_name=name, role=role)
    EmailAddress.objects.create(user=user, email=email, verified=True, primary=True)
    if mfa if mfa is not None else user.requires_mfa:
        secret = generate_totp_secret()
        TOTP.activate(user, secret)
        AUTHENTICATOR_APPS[email] = secret
    return user


def totp_secret(user: User) -> str:
    """The secret in ``user``'s authenticator app (not read back from the server)."""
    return AUTHENTICATOR_APPS[user.email]


@pytest.fixture
def client_a(db: None) -> User:
    return make_user("client.a@example.test", "client", "Alice Client")


@pytest.fixture
def client_b(db: None) -> User:
    return make_user("client.b@example.test", "client", "Bob Client")


@pytest.fixture
def therapist_x(db: None, client_a: User) -> User:
    therapist = make_user("therapist.x@example.test", "therapist", "Xena Therapist")
    CareRelationship.objects.create(therapist=therapist, client=client_a)
    ClientProfile.objects.get_or_create(client=client_a)
    return therapist


@pytest.fixture
def therapist_y(db: None, client_b: User) -> User:
    therapist = make_user("therapist.y@example.test", "therapist", "Yuri Therapist")
    CareRelationship.objects.create(therapist=therapist, client=client_b)
    return therapist


@pytest.fixture
def admin(db: None) -> User:
    return make_user("admin@example.test", "admin", "Ada Admin")


@pytest.fixture
def personas(
    client_a: User, client_b: User, therapist_x: User, therapist_y: User, admin: User
) -> dict[str, User | None]:
    return {
        "anonymous": None,
        "client_a": client_a,
        "client_b": client_b,
        "therapist_x": therapist_x,
        "therapist_y": therapist_y,
        "admin": admin,
    }


def signed_in(user: User) -> Client:
    """A test client with ``user`` signed in (and past MFA, and in sudo mode), without the form:
    see ``tests/sessions.py``. Tests of signing in use :func:`signed_in_through_the_form`."""
    client = Client()
    client.cookies[settings.SESSION_COOKIE_NAME] = str(signed_in_session(user).session_key)
    return client


def signed_in_through_the_form(user: User) -> Client:
    """A test client with ``user`` signed in through the real sign-in form (and TOTP step)."""
    client = Client()
    response = client.post("/accounts/login/", {"login": user.email, "password": PASSWORD})
    assert response.status_code == 302, response.content[:500]
    if response["Location"].startswith("/accounts/2fa/authenticate"):
        response = client.post(
            "/accounts/2fa/authenticate/", {"code": totp_code(totp_secret(user))}
        )
        assert response.status_code == 302, response.content[:500]
    return client
