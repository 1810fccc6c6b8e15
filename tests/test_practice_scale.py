"""``bench/practice_scale.py`` at a fortieth of the practice: it seeds, serves with ``rapport serve
--workers 2``, loads it, and reports every figure (whether or not this machine meets the budget,
which ``make bench`` judges)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

REPO = Path(__file__).resolve().parents[1]
PAGES = ["home", "week", "client record", "inbox", "conversation (500 msgs)"]


def test_the_practice_scale_benchmark_reports_its_figures(tmp_path: Path) -> None:
    env = dict(os.environ, SCALE="0.025", LOAD_SECONDS="1", REPETITIONS="2")
    env["RAPPORT_DATA_DIR"] = str(tmp_path)
    env.pop("REDIS_URL", None)  # the bench would flush it
    if env.get("DATABASE_URL"):  # a database of its own, apart from a bench running beside
        parts = urlsplit(env["DATABASE_URL"])
        env["DATABASE_URL"] = urlunsplit(parts._replace(path=parts.path + "_test"))
    result = subprocess.run(
        [sys.executable, str(REPO / "bench" / "practice_scale.py")],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    output = result.stdout
    assert result.returncode in {0, 1}, output + result.stderr  # 1: over budget, still reported
    assert "50 therapists, 50 clients, 2,500 appointments, 25,000 messages" in output, output
    assert re.search(r"seeded in \d+ s", output)
    for page in PAGES:  # queries, size, median, p95, max
        assert re.search(rf"^{re.escape(page)} +\d+ +\d+ +[\d.]+ ms", output, re.M), output
        assert re.search(rf"^  {re.escape(page)} +\d+ +[\d.]+ +[\d.]+ ms", output, re.M), output
    runs = re.findall(
        r"^(/healthz \(baseline\)|5 pages, 20 therapists) +(\d+) .* (\d+) +[\d.]+-", output, re.M
    )
    assert [name for name, _count, _failed in runs] == [
        "/healthz (baseline)",
        "5 pages, 20 therapists",
        "/healthz (baseline)",
    ], output
    assert all(int(count) > 0 and failed == "0" for _name, count, failed in runs), output
    assert "FAILED REQUESTS" not in output and "SERVER ERRORS" not in output, output
