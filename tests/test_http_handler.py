"""HTTP through the real ASGI application (``rapport.asgi``): one hop to a web thread per request,
kept database connections, pages and forms answered as before, and a view's live events reaching
the sockets of the same process."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlencode

import pytest
from asgiref.sync import async_to_sync
from channels.testing import HttpCommunicator, WebsocketCommunicator
from django.conf import settings
from django.core import signals
from django.db import connection
from django.test import override_settings

from rapport.accounts.models import User
from rapport.care.models import CareRelationship
from rapport.core import http
from rapport.messaging.access import conversation_for
from rapport.messaging.models import Participant
from tests.conftest import PASSWORD, make_user, signed_in
from tests.sockets import run_async, socket_headers


@pytest.fixture
def one_web_thread() -> Iterator[None]:
    """A pool of one web thread (so consecutive requests meet the same thread), closed after."""
    http.close_pool()
    with override_settings(RAPPORT_WEB_THREADS=1):
        yield
        http.close_pool()


async def asgi_request(
    method: str, path: str, *, body: bytes = b"", headers: list[tuple[bytes, bytes]] | None = None
) -> dict[str, Any]:
    """One HTTP request through ``rapport.asgi``, until the application returns (the response
    closed): its status, headers (also as ``header_map``) and body."""
    from rapport.asgi import application

    all_headers = [(b"host", b"127.0.0.1"), *(headers or [])]
    communicator = HttpCommunicator(application, method, path, body=body, headers=all_headers)
    communicator.scope["client"] = ("127.0.0.1", 50000)  # as uvicorn gives it
    await communicator.send_input({"type": "http.request", "body": body})
    response: dict[str, Any] = await communicator.receive_output(timeout=30)
    assert response["type"] == "http.response.start"
    response["body"] = b""
    while True:  # the last part of a streamed response may have no body (ASGI allows it)
        part = await communicator.receive_output(timeout=30)
        response["body"] += part.get("body", b"")
        if not part.get("more_body"):
            break
    await communicator.wait(timeout=30)
    response["header_map"] = {k.decode().lower(): v.decode() for k, v in response["headers"]}
    return response


def request(
    method: str, path: str, *, body: bytes = b"", headers: list[tuple[bytes, bytes]] | None = None
) -> dict[str, Any]:
    return async_to_sync(asgi_request)(method, path, body=body, headers=headers)


@pytest.mark.django_db(transaction=True)
def test_requests_run_on_a_web_thread_that_keeps_its_connection(one_web_thread: None) -> None:
    seen: list[tuple[str, Any]] = []  # (thread, the connection itself: ids may be reused)

    def after_request(**_kwargs: Any) -> None:
        # After Django's own close_old_connections (connected first): the connection survived.
        assert connection.connection is not None
        seen.append((threading.current_thread().name, connection.connection))

    # /readyz reads the database (its status does not matter here: no worker beats in this test).
    signals.request_finished.connect(after_request)
    try:
        for _ in range(3):
            assert request("GET", "/readyz")["status"] in (200, 503)
    finally:
        signals.request_finished.disconnect(after_request)
    assert len(seen) == 3
    assert all(name.startswith("rapport-web") for name, _ in seen), seen
    assert len({(name, id(kept)) for name, kept in seen}) == 1, f"not kept: {seen}"


@pytest.mark.django_db(transaction=True)
def test_a_connection_left_in_a_transaction_is_not_reused(one_web_thread: None) -> None:
    """close_old_connections still runs at the start and end of each request, as under WSGI."""
    opened: list[Any] = []  # the connections themselves: an id() may be reused after a close

    def break_it(**_kwargs: Any) -> None:
        opened.append(connection.connection)
        connection.set_autocommit(False)  # as if a view had left a transaction open

    signals.request_finished.connect(break_it)
    try:
        assert request("GET", "/readyz")["status"] in (200, 503)
    finally:
        signals.request_finished.disconnect(break_it)

    def after_request(**_kwargs: Any) -> None:
        opened.append(connection.connection)

    signals.request_finished.connect(after_request)
    try:
        assert request("GET", "/readyz")["status"] in (200, 503)
    finally:
        signals.request_finished.disconnect(after_request)
    assert connection.get_autocommit()  # this thread's own connection, untouched
    assert opened[0] is not opened[1]


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


@pytest.mark.django_db(transaction=True)
def test_a_page_publishes_to_the_sockets_of_its_own_process(
    client_a: User, therapist_x: User
) -> None:
    """A view's live events go out on the server's event loop, where the sockets and the
    in-process channel layer live: the therapist opening the conversation page sends the read
    receipt to the client's open socket. Opening it again, with nothing new, sends nothing."""
    relationship = CareRelationship.objects.get(client=client_a, therapist=therapist_x)
    chat = conversation_for(relationship)
    therapist_browser, client_browser = signed_in(therapist_x), signed_in(client_a)
    cookie = (
        f"{settings.SESSION_COOKIE_NAME}="
        f"{therapist_browser.cookies[settings.SESSION_COOKIE_NAME].value}"
    ).encode()
    page = f"/messages/{chat.uid}/"

    async def body() -> None:
        from rapport.asgi import application

        socket = WebsocketCommunicator(
            application, "/ws/messages/", headers=socket_headers(client_browser)
        )
        assert (await socket.connect(timeout=5))[0]
        assert (await socket.receive_json_from(timeout=5))["type"] == "welcome"
        await socket.send_json_to(
            {"type": "send", "conversation": str(chat.uid), "id": str(uuid.uuid4()), "text": "hi"}
        )
        assert (await socket.receive_json_from(timeout=5))["type"] == "ack"
        opened = await asgi_request("GET", page, headers=[(b"cookie", cookie)])
        assert opened["status"] == 200
        receipt = await socket.receive_json_from(timeout=5)
        assert (receipt["type"], receipt["by"], receipt["seq"]) == ("read", "therapist", 1)
        again = await asgi_request("GET", page, headers=[(b"cookie", cookie)])
        assert again["status"] == 200
        assert await socket.receive_nothing(timeout=0.3)
        await socket.disconnect()

    run_async(body)
    assert Participant.objects.get(user=therapist_x).last_read_seq == 1


@pytest.mark.django_db(transaction=True)
def test_a_streamed_export_reads_the_database_on_its_web_thread(one_web_thread: None) -> None:
    """The audit CSV is a generator that queries as it goes: it runs on the web thread, on that
    thread's kept connection, and arrives whole (no warning about consuming it elsewhere)."""
    admin = make_user("asgi.admin@example.test", "admin", "Ada Asgi")
    browser = signed_in(admin)  # in sudo mode, as the export requires
    cookie = f"{settings.SESSION_COOKIE_NAME}={browser.cookies[settings.SESSION_COOKIE_NAME].value}"
    threads: list[str] = []

    def on_query(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        if "audit_auditevent" in sql and "ORDER BY" in sql:
            threads.append(threading.current_thread().name)
        return execute(sql, params, many, context)

    from django.db import connections

    def watch(**_kwargs: Any) -> None:
        connections["default"].execute_wrappers.append(on_query)

    signals.request_started.connect(watch)
    try:
        exported = request(
            "GET", "/practice/audit/export.csv", headers=[(b"cookie", cookie.encode())]
        )
    finally:
        signals.request_started.disconnect(watch)
    assert exported["status"] == 200, exported["body"][:300]
    assert exported["header_map"]["content-type"].startswith("text/csv")
    lines = exported["body"].decode().splitlines()
    assert lines[0].startswith("sequence,occurred_at,actor,action")
    assert any("audit.trail_exported" in line for line in lines[1:])  # its own event
    assert threads and all(name.startswith("rapport-web") for name in threads), threads
