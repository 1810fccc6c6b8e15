"""Page-weight budgets: the signed-in client home page must stay under 30 kB compressed, the
session room (HTML, CSS and its JavaScript modules) under 100 kB.

Starts a demo server (the same helper as the browser tests), signs in as the demo client over
plain HTTP, fetches the home page's HTML and every stylesheet, script and module preload it
references, gzips each one (level 6, roughly what a reverse proxy sends) and adds them up. The
room is measured the same way for a client of its own, checked in to an open visit. The
anonymous sign-in page is measured in the same run as a baseline. Exits 1 when a page is over
its budget.

    .venv/bin/python bench/page_weight.py            # or: make bench
"""

from __future__ import annotations

import gzip
import http.cookiejar
import os
import sys
import tempfile
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path

if __package__ in {None, ""}:  # run as a script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.browser.people import new_pair
from tests.browser.server import DemoServer, demo_server

BUDGET_BYTES = 30_000  # 30 kB, compressed
ROOM_BUDGET_BYTES = 100_000  # the session room, with everything its modules import
GZIP_LEVEL = 6
CLIENT_EMAIL = "client@demo.rapport.test"
DEMO_PASSWORD = "rapport-demo-password"  # noqa: S105 (the published demo login)


class _Assets(HTMLParser):
    """Collects the stylesheets and scripts a page references, and the sign-in CSRF token."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []
        self.csrf_token = ""

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = {name: value or "" for name, value in attrs}
        rel = found.get("rel", "").split()
        if tag == "link" and {"stylesheet", "modulepreload"} & set(rel) and found.get("href"):
            self.urls.append(found["href"])
        elif tag == "script" and found.get("src"):
            self.urls.append(found["src"])
        elif tag == "input" and found.get("name") == "csrfmiddlewaretoken":
            self.csrf_token = found.get("value", "")


@dataclass
class Resource:
    url: str
    kind: str
    raw_bytes: int
    gzip_bytes: int


@dataclass
class PageWeight:
    name: str
    path: str
    resources: list[Resource] = field(default_factory=list)

    def total(self, kind: str | None = None) -> int:
        return sum(r.gzip_bytes for r in self.resources if kind is None or r.kind == kind)

    @property
    def raw_total(self) -> int:
        return sum(r.raw_bytes for r in self.resources)


class Browser:
    """A tiny cookie-keeping HTTP client (stdlib only)."""

    def __init__(self, base_url: str) -> None:
        if not base_url.startswith(("http://", "https://")):
            raise ValueError(f"not an http(s) URL: {base_url}")
        self.base_url = base_url.rstrip("/")
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar())
        )

    def fetch(self, path: str, data: dict[str, str] | None = None) -> tuple[str, bytes]:
        url = urllib.parse.urljoin(self.base_url + "/", path)
        if not url.startswith(self.base_url + "/"):
            raise ValueError(f"refusing to fetch {url}: not on {self.base_url}")
        body = urllib.parse.urlencode(data).encode() if data is not None else None
        # The URL was checked above: it is always on the demo server's http:// base URL.
        request = urllib.request.Request(  # noqa: S310
            url, data=body, headers={"Accept-Encoding": "identity"}
        )
        with self.opener.open(request, timeout=30) as response:
            final_url: str = response.geturl()
            return final_url, response.read()

    def sign_in(self, email: str, password: str) -> None:
        _, html = self.fetch("/accounts/login/")
        parser = _Assets()
        parser.feed(html.decode("utf-8"))
        if not parser.csrf_token:
            raise RuntimeError("no CSRF token on the sign-in page")
        final_url, _ = self.fetch(
            "/accounts/login/",
            {"login": email, "password": password, "csrfmiddlewaretoken": parser.csrf_token},
        )
        if urllib.parse.urlsplit(final_url).path != "/":
            raise RuntimeError(f"sign-in as {email} ended on {final_url}, not the home page")


def gzipped_size(content: bytes) -> int:
    return len(gzip.compress(content, compresslevel=GZIP_LEVEL, mtime=0))


def measure(browser: Browser, name: str, path: str) -> PageWeight:
    final_url, html = browser.fetch(path)
    if urllib.parse.urlsplit(final_url).path != urllib.parse.urlsplit(path).path:
        raise RuntimeError(f"{path} redirected to {final_url}")
    weight = PageWeight(name, path, [Resource(path, "html", len(html), gzipped_size(html))])
    parser = _Assets()
    parser.feed(html.decode("utf-8"))
    for url in dict.fromkeys(parser.urls):  # each asset once, in page order
        _, content = browser.fetch(url)
        kind = "css" if url.split("?")[0].endswith(".css") else "js"
        weight.resources.append(Resource(url, kind, len(content), gzipped_size(content)))
    return weight


def measure_pages(base_url: str) -> tuple[PageWeight, PageWeight]:
    """(baseline: the anonymous sign-in page, the signed-in client home page)."""
    anonymous = Browser(base_url)
    baseline = measure(anonymous, "sign-in page (anonymous, baseline)", "/accounts/login/")
    client = Browser(base_url)
    client.sign_in(CLIENT_EMAIL, DEMO_PASSWORD)
    home = measure(client, "client home (signed in)", "/")
    return baseline, home


def measure_room(server: DemoServer) -> PageWeight:
    """The session room as a client sees it: a client of its own, checked in to an open visit."""
    pair = new_pair(server)
    visit = server.shell(
        "from rapport.accounts.models import User\n"
        "from rapport.visits.services import check_in, start_unscheduled\n"
        f"therapist = User.objects.get(email={pair.therapist!r})\n"
        f"client = User.objects.get(email={pair.client!r})\n"
        "visit = start_unscheduled(therapist, client)\n"
        "check_in(visit, client, location='At home', callback_phone='+44 117 496 0123',"
        " emergency_contact='Lee Park, +44 117 496 0999')\n"
        "print(visit.uid)\n"
    ).strip()
    client = Browser(server.url)
    client.sign_in(pair.client, DEMO_PASSWORD)
    return measure(client, "session room (client)", f"/visits/{visit}/")


def report(pages: tuple[PageWeight, ...], budget: int = BUDGET_BYTES) -> str:
    def kb(n: int) -> str:
        return f"{n / 1000:.1f} kB"

    header = f"{'page':<36} {'files':>5} {'html':>9} {'css':>9} {'js':>9} {'total':>9} {'raw':>9}"
    lines = [
        f"Page weight, gzip level {GZIP_LEVEL} per file; budget {kb(budget)} "
        f"(session room: {kb(ROOM_BUDGET_BYTES)})",
        header,
        "-" * len(header),
    ]
    for page in pages:
        lines.append(
            f"{page.name:<36} {len(page.resources):>5} {kb(page.total('html')):>9} "
            f"{kb(page.total('css')):>9} {kb(page.total('js')):>9} {kb(page.total()):>9} "
            f"{kb(page.raw_total):>9}"
        )
    lines.append("")
    for page in pages:
        lines.append(f"{page.name}:")
        for resource in page.resources:
            raw, gzipped = kb(resource.raw_bytes), kb(resource.gzip_bytes)
            lines.append(f"  {resource.url:<44} {raw:>9} raw {gzipped:>9} gzip")
    return "\n".join(lines)


def main() -> int:
    # The server's data folder goes inside $RAPPORT_DATA_DIR when set, and its PostgreSQL
    # database (when $DATABASE_URL is set) is <name>_bench, apart from the browser tests' one.
    parent = os.environ.get("RAPPORT_DATA_DIR") or None
    if parent:
        Path(parent).mkdir(parents=True, exist_ok=True)
    with (
        tempfile.TemporaryDirectory(prefix="rapport-page-weight-", dir=parent) as data_dir,
        demo_server(Path(data_dir), database_suffix="_bench") as server,
    ):
        baseline, home = measure_pages(server.url)
        room = measure_room(server)
    print(report((baseline, home, room)))
    failed = False
    for page, budget in ((home, BUDGET_BYTES), (room, ROOM_BUDGET_BYTES)):
        total = page.total()
        if total > budget:
            failed = True
            print(
                f"\nOVER BUDGET: the {page.name} is {total} bytes compressed "
                f"(budget {budget}, {total - budget} over)"
            )
        else:
            print(
                f"\nOK: the {page.name} is {total} bytes compressed, "
                f"{budget - total} under the {budget}-byte budget "
                f"(sign-in baseline: {baseline.total()} bytes)"
            )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
