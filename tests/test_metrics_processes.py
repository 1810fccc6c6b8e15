"""``/metrics`` of a real ``rapport serve --workers 2``: whichever process answers a scrape, it
reports the requests of both (prometheus_client's multiprocess mode, ``rapport.core.metrics``)."""

from __future__ import annotations

import http.client
import signal
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.parser import text_string_to_metric_families

from tests.mail import free_port
from tests.test_cli import RAPPORT, _env, _ok, _rapport

TOKEN = "t" * 40
COUNT = "rapport_http_request_duration_seconds_count"


def _get(url: str, token: str = "") -> tuple[int, str]:
    request = urllib.request.Request(url)  # noqa: S310 (http to the test server)
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 (our server)
            return response.status, response.read().decode()
    except urllib.error.HTTPError as refused:
        return refused.code, ""


def _healthz_count(text: str) -> float:
    return sum(
        sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == COUNT and sample.labels.get("route") == "healthz"
    )


def _processes_that_answered(folder: Path) -> int:
    """How many processes' own files hold /healthz requests."""
    answered = 0
    for path in folder.glob("histogram_*.db"):
        merged = MultiProcessCollector.merge([str(path)])  # type: ignore[no-untyped-call]
        samples = [s for m in merged for s in m.samples]
        answered += any(s.name == COUNT and s.labels.get("route") == "healthz" for s in samples)
    return answered


def test_every_process_reports_the_requests_of_all(tmp_path: Path) -> None:
    key = _ok(_rapport(_env(tmp_path), "keys", "generate")).stdout.strip()
    env = _env(
        tmp_path,
        RAPPORT_ENV="production",
        RAPPORT_SECRET_KEY="s" * 64,
        RAPPORT_ENCRYPTION_KEYS=key,
        RAPPORT_HTTPS="false",
        RAPPORT_METRICS_TOKEN=TOKEN,
    )
    _ok(_rapport(env, "manage", "migrate", "--no-input", "-v0"))
    folder = tmp_path / "metrics"
    folder.mkdir()
    (folder / "counter_1.db").write_bytes(b"left by an earlier run")
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with (tmp_path / "server.log").open("w") as log:
        server = subprocess.Popen(
            [RAPPORT, "serve", "--workers", "2", "--port", str(port)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=log,
        )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if _get(f"{base}/healthz")[0] == 200:
                    break
            except OSError:
                pass
            assert server.poll() is None, (tmp_path / "server.log").read_text()
            assert time.monotonic() < deadline, (tmp_path / "server.log").read_text()
            time.sleep(0.2)
        assert not (folder / "counter_1.db").exists()  # a restart starts from empty files
        assert _get(f"{base}/metrics")[0] == 403
        requests = 1  # the probe that answered above
        # The parent hands each connection to the process holding the fewest open ones, so
        # connections held open together land on both processes. (One request after another,
        # each closed before the next, may all go to the first: a tie goes to it.)
        held: list[http.client.HTTPConnection] = []
        deadline = time.monotonic() + 60
        try:
            while _processes_that_answered(folder) < 2:
                assert time.monotonic() < deadline, (tmp_path / "server.log").read_text()
                connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
                held.append(connection)
                connection.request("GET", "/healthz")
                with connection.getresponse() as response:
                    assert response.status == 200
                    response.read()
                requests += 1
                time.sleep(0.05)  # the process writes its metrics after the response
        finally:
            for connection in held:
                connection.close()
        print(f"both processes answered after {requests} requests")
        for _ in range(10):  # scrapes land on either process: each sees every request
            status, text = _get(f"{base}/metrics", TOKEN)
            assert status == 200
            assert _healthz_count(text) == requests
        assert {oct(p.stat().st_mode & 0o777) for p in folder.iterdir()} == {"0o600"}
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
