"""HTTP through the real ASGI application (``rapport.asgi``): one hop to a web thread per request,
kept database connections, and the same answers as Django's own handler gives."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlencode

import pytest
from asgiref.sync import async_to_sync
from channels.testing import HttpCommunicator
from django.conf import settings
from django.core import signals
from django.db import connection
from django.test import override_settings

from rapport.core import http
from tests.conftest import PASSWORD, make_user, signed_in


@pytest.fixture
def one_web_thread() -> Iterator[None]:
    """A pool of one web thread (so consecutive requests meet the same thread), closed after."""
    http.close_pool()
    with override_settings(RAPPORT_WEB_THREADS=1):
        yield
        http.close_pool()


def request(
    method: str, path: str, *, body: bytes = b"", headers: list[tuple[bytes, bytes]] | None = None
) -> dict[str, Any]:
    from rapport.asgi import application

    all_headers = [(b"host", b"127.0.0.1"), *(headers or [])]

    async def exchange() -> dict[str, Any]:
        communicator = HttpCommunicator(application, method, path, body=body, headers=all_headers)
        communicator.scope["client"] = ("127.0.0.1", 50000)  # as uvicorn gives it
        answer: dict[str, Any] = await communicator.get_response(timeout=30)
        await communicator.wait(timeout=30)  # until the application returns: response closed
        return answer

    response = async_to_sync(exchange)()
    response["header_map"] = {k.decode().lower(): v.decode() for k, v in response["headers"]}
    return response


@pytest.mark.django_db(transaction=True)
def test_requests_run_on_a_web_thread_that_keeps_its_connection(one_web_thread: None) -> None:
    seen: list[tuple[str, int]] = []

    def after_request(**_kwargs: Any) -> None:
        # After Django's own close_old_connections (connected first): the connection survived.
        assert connection.connection is not None
        seen.append((threading.current_thread().name, id(connection.connection)))

    signals.request_finished.connect(after_request)
    try:
        for _ in range(3):
            assert request("GET", "/healthz")["status"] == 200
    finally:
        signals.request_finished.disconnect(after_request)
    assert len(seen) == 3
    assert all(name.startswith("rapport-web") for name, _ in seen), seen
    assert len(set(seen)) == 1, f"a new thread or connection per request: {seen}"


@pytest.mark.django_db(transaction=True)
def test_a_connection_left_in_a_transaction_is_not_reused(one_web_thread: None) -> None:
    """close_old_connections still runs at the start and end of each request, as under WSGI."""
    opened: list[int] = []

    def break_it(**_kwargs: Any) -> None:
        opened.append(id(connection.connection))
        connection.set_autocommit(False)  # as if a view had left a transaction open

    signals.request_finished.connect(break_it)
    try:
        assert request("GET", "/healthz")["status"] == 200
    finally:
        signals.request_finished.disconnect(break_it)

    def after_request(**_kwargs: Any) -> None:
        opened.append(id(connection.connection))

    signals.request_finished.connect(after_request)
    try:
        assert request("GET", "/healthz")["status"] == 200
    finally:
        signals.request_finished.disconnect(after_request)
    assert connection.get_autocommit()  # this thread's own connection, untouched
    assert opened[0] != opened[1]


@pytest.mark.django_db(transaction=True)
def test_signed_in_pages_forms_and_errors_through_the_asgi_application() -> None:
    therapist = make_user("asgi.therapist@example.test", "therapist", "Tam Asgi")
    browser = signed_in(therapist)
    cookie = f"{settings.SESSION_COOKIE_NAME}={browser.cookies[settings.SESSION_COOKIE_NAME].value}"
    home = request("GET", "/", headers=[(b"cookie", cookie.encode())])
    assert home["status"] == 200
    assert b"Sign out" in home["body"]  # signed in
    assert home["body"].rstrip().endswith(b"</html>")
    assert home["header_map"]["content-language"] == "en"

    # A form post: the body is read on the event loop, the view sees it on its thread.
    login = request("GET", "/accounts/login/")
    assert login["status"] == 200
    token_cookie = settings.CSRF_COOKIE_NAME.encode() + b"="
    csrf = next(
        value.split(b";")[0].split(b"=", 1)[1].decode()
        for key, value in login["headers"]
        if key.lower() == b"set-cookie" and value.startswith(token_cookie)
    )
    client = make_user("asgi.client@example.test", "client", "Cal Asgi")
    form = urlencode({"login": client.email, "password": PASSWORD, "csrfmiddlewaretoken": csrf})
    posted = request(
        "POST",
        "/accounts/login/",
        body=form.encode(),
        headers=[
            (b"content-type", b"application/x-www-form-urlencoded"),
            (b"content-length", str(len(form)).encode()),
            (b"cookie", f"{settings.CSRF_COOKIE_NAME}={csrf}".encode()),
        ],
    )
    assert posted["status"] == 302, posted["body"][:300]
    assert posted["header_map"]["location"] == "/"

    missing = request("GET", "/no-such-page/", headers=[(b"cookie", cookie.encode())])
    assert missing["status"] == 404
    assert b"<html" in missing["body"].lower()  # the branded page, as through the test client
