"""The error pages need nothing that can be down: no database, no context processors.

The last test runs a real server against a PostgreSQL address where nothing listens (no
PostgreSQL is needed for it): every page answers the branded 503 page, and the log holds the
failure once, not once per request.
"""

from __future__ import annotations

import http.client
import subprocess
import time
from pathlib import Path

import pytest
from django.db import OperationalError
from django.test import RequestFactory

from rapport.core.views import server_error
from tests.browser.server import HOST, PYTHON, REPO, free_port, server_env

REQUESTS_DURING_OUTAGE = 40


# No ``db`` fixture: pytest-django refuses any query these views would make.


def test_the_500_page_renders_without_the_database() -> None:
    request = RequestFactory().get("/somewhere/")
    try:
        raise ValueError("a bug")
    except ValueError:
        response = server_error(request)
    page = response.content.decode()
    assert response.status_code == 500
    assert "Something went wrong on our side" in page
    assert "Rapport" in page  # the practice's name, from the settings
    assert "/static/rapport/rapport.css" in page
    assert not response.has_header("Retry-After")


def test_an_unreachable_database_gets_the_503_page_with_retry_after() -> None:
    request = RequestFactory().get("/somewhere/")
    try:
        raise OperationalError("connection refused")
    except OperationalError:
        response = server_error(request)
    assert response.status_code == 503
    assert response["Retry-After"] == "30"
    assert "briefly unavailable" in response.content.decode()


def _get(port: int, path: str) -> tuple[int, http.client.HTTPMessage, str]:
    conn = http.client.HTTPConnection(HOST, port, timeout=10)
    try:
        conn.request("GET", path)
        answer = conn.getresponse()
        return answer.status, answer.headers, answer.read().decode()
    finally:
        conn.close()


def _wait_for(port: int, server: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if server.poll() is not None:
            pytest.fail(f"uvicorn exited with {server.returncode}:\n{log.read_text()[-3000:]}")
        try:
            _get(port, "/static/rapport/rapport.css")
            return
        except OSError:
            time.sleep(0.2)
    pytest.fail(f"the server did not start:\n{log.read_text()[-3000:]}")


def test_a_server_whose_database_is_unreachable_shows_the_branded_page(tmp_path: Path) -> None:
    nowhere = f"postgres://postgres@{HOST}:{free_port()}/rapport_unreachable"
    env = server_env(tmp_path, database_url=nowhere)
    env["RAPPORT_PRACTICE_NAME"] = "Riverside Counselling"
    port = free_port()
    log = tmp_path / "server.log"
    with log.open("wb") as out:
        server = subprocess.Popen(
            [
                *(PYTHON, "-m", "uvicorn", "rapport.asgi:application", "--host", HOST),
                *("--port", str(port), "--lifespan", "off", "--log-level", "warning"),
            ],
            cwd=REPO,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        _wait_for(port, server, log)
        for path in ["/accounts/login/", "/accounts/signup/", "/no-such-page/"]:
            status, headers, page = _get(port, path)
            assert status == 503, (path, status, page[:300])
            assert headers["Retry-After"] == "30", path
            assert headers["Content-Type"].startswith("text/html"), path
            assert "Riverside Counselling is briefly unavailable" in page, path
            assert "Internal Server Error" not in page, path
        for _ in range(REQUESTS_DURING_OUTAGE):
            assert _get(port, "/accounts/login/")[0] == 503
    finally:
        server.terminate()
        server.wait(timeout=10)
    text = log.read_text(errors="replace")
    # The failure is written out once (a traceback of ~60 lines); its repeats are counted.
    tracebacks = text.count("Traceback (most recent call last)")
    assert 1 <= tracebacks <= 3, f"{tracebacks} tracebacks for {REQUESTS_DURING_OUTAGE} requests"
    assert len(text) < 40_000, f"{len(text)} bytes of log:\n{text[-3000:]}"
