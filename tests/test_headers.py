"""Security headers on every response, and HTTPS-only behaviour when HTTPS is on."""

from __future__ import annotations

from typing import Any

from django.test import Client, override_settings

from rapport.accounts.models import User
from tests.conftest import signed_in


def test_strict_headers_on_public_and_private_pages(client_a: User) -> None:
    for browser, path in [(Client(), "/accounts/login/"), (signed_in(client_a), "/")]:
        response = browser.get(path)
        assert response.status_code == 200
        csp = response["Content-Security-Policy"]
        assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
        assert "frame-ancestors 'none'" in csp
        assert "object-src 'none'" in csp
        assert "default-src 'self'" in csp
        assert response["X-Frame-Options"] == "DENY"
        assert response["Referrer-Policy"] == "same-origin"
        assert response["X-Content-Type-Options"] == "nosniff"
        assert "camera=()" in response["Permissions-Policy"]
        assert "microphone=()" in response["Permissions-Policy"]
        assert "<script>" not in response.content.decode(), "no inline script"
        assert " style=" not in response.content.decode(), "no inline style"


def test_pages_with_scripts_carry_a_fresh_nonce(therapist_x: User) -> None:
    from rapport.accounts.services import invite

    _invitation, token = invite(
        therapist_x, email="nonce@example.test", full_name="Nonce", role="client"
    )
    nonces = set()
    for _ in range(2):
        response = Client().get(f"/invite/{token}/")
        csp = response["Content-Security-Policy"]
        nonce = csp.split("'nonce-", 1)[1].split("'", 1)[0]
        assert f'nonce="{nonce}"' in response.content.decode()
        nonces.add(nonce)
    assert len(nonces) == 2, "a nonce is never reused"


def test_signed_in_pages_are_not_cached(client_a: User) -> None:
    response = signed_in(client_a).get("/")
    assert "no-store" in response["Cache-Control"]


@override_settings(
    SECURE_HSTS_SECONDS=31536000,
    SECURE_HSTS_INCLUDE_SUBDOMAINS=True,
    SECURE_SSL_REDIRECT=True,
    SESSION_COOKIE_SECURE=True,
    CSRF_COOKIE_SECURE=True,
)
def test_https_mode_sends_hsts_redirects_and_secures_cookies(client_a: User) -> None:
    plain = Client().get("/accounts/login/")
    assert plain.status_code == 301
    assert plain["Location"].startswith("https://")

    secure = Client()
    response = secure.get("/accounts/login/", secure=True)
    assert response["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains"
    response = secure.post(
        "/accounts/login/",
        {"login": client_a.email, "password": "correct horse battery staple"},
        secure=True,
    )
    assert response.status_code == 302
    session_cookie = next(c for c in secure.cookies.values() if "session" in c.key)
    assert session_cookie["secure"] is True
    assert session_cookie["httponly"] is True
    assert session_cookie["samesite"] == "Lax"


@override_settings(SECURE_SSL_REDIRECT=True)
def test_health_check_answers_plain_http_for_local_probes(db: Any) -> None:
    response = Client().get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_url_secrets_never_reach_access_logs() -> None:
    import logging

    from rapport.lib.redact import RedactSecrets

    record = logging.LogRecord(
        "uvicorn.access",
        logging.INFO,
        __file__,
        1,
        '%s - "%s %s HTTP/%s" %d',
        ("127.0.0.1:5000", "GET", "/invite/AbC-123_xyz/?x=1", "1.1", 200),
        None,
    )
    assert RedactSecrets().filter(record)
    assert "AbC-123_xyz" not in record.getMessage()
    assert "/invite/[redacted]/?x=1" in record.getMessage()
    plain = logging.LogRecord(
        "x", logging.INFO, __file__, 1, "GET /accounts/confirm-email/k3y/", None, None
    )
    RedactSecrets().filter(plain)
    assert plain.getMessage() == "GET /accounts/confirm-email/[redacted]/"
