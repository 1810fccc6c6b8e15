"""A participant in a browser test: one Playwright page whose every page load is audited.

Every navigation goes through :class:`Visitor` (``goto``, ``follow``); each resulting page is run
through axe-core and the test fails on any violation. Navigations that bypass the helper are
caught too: the visitor records each main-frame navigation and :meth:`Visitor.finish` fails if one
was never audited. Content-Security-Policy violations and uncaught page errors fail as well.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from playwright.sync_api import (
    BrowserContext,
    ConsoleMessage,
    Error,
    Frame,
    Locator,
    Page,
    ViewportSize,
)
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

from tests.helpers import totp_code

REPO = Path(__file__).resolve().parents[2]
AXE_JS = REPO / "node_modules" / "axe-core" / "axe.min.js"
# axe is served to the page from its own origin at this path (intercepted by the test, never
# reaching the server) so the page's strict CSP (script-src 'self' + nonce) allows it: an inline
# <script> (what add_script_tag(path=...) writes) is rightly refused by that policy.
AXE_PATH = "/__axe__/axe.min.js"

DEMO_PASSWORD = "rapport-demo-password"
SMALL_SCREEN: ViewportSize = {"width": 360, "height": 740}

AXE_RUN = """async () => {
  const results = await axe.run(document, {resultTypes: ["violations"]});
  return results.violations.map((v) => ({
    id: v.id, impact: v.impact, help: v.help, helpUrl: v.helpUrl,
    nodes: v.nodes.map((n) => ({target: n.target, html: n.html, summary: n.failureSummary})),
  }));
}"""


class AccessibilityError(AssertionError):
    """axe-core found violations on a page."""


def format_violations(url: str, violations: list[dict[str, Any]]) -> str:
    lines = [f"axe-core: {len(violations)} violation(s) on {url}"]
    for v in violations:
        lines.append(f"  [{v['impact']}] {v['id']}: {v['help']} ({v['helpUrl']})")
        for node in v["nodes"]:
            lines.append(f"    at {json.dumps(node['target'])}")
            lines.append(f"       {node['html'][:200]}")
            for summary_line in (node["summary"] or "").splitlines():
                lines.append(f"       | {summary_line}")
    return "\n".join(lines)


def install_axe_route(context: BrowserContext) -> None:
    source = AXE_JS.read_bytes()
    context.route(
        f"**{AXE_PATH}",
        lambda route: route.fulfill(
            status=200, body=source, headers={"content-type": "text/javascript"}
        ),
    )


def fresh_totp(secret: str, margin: float = 5.0) -> str:
    """A TOTP code that stays valid for at least ``margin`` seconds (tolerance is zero)."""
    remaining = 30 - time.time() % 30
    if remaining < margin:
        time.sleep(remaining + 0.2)
    return totp_code(secret)


class Visitor:
    """One participant: a page in its own browser context, audited on every page load."""

    def __init__(self, name: str, context: BrowserContext, base_url: str) -> None:
        self.name = name
        self.context = context
        self.base_url = base_url.rstrip("/")
        self.page: Page = context.new_page()
        self.audited: list[str] = []
        self.unaudited: list[str] = []  # navigations that happened before the previous was audited
        self.pending: str | None = None
        self.csp_violations: list[str] = []
        self.console: list[str] = []
        self.page_errors: list[str] = []
        self.page.on("framenavigated", self._navigated)
        self.page.on("console", self._console)
        self.page.on("pageerror", lambda exc: self.page_errors.append(str(exc)))

    # --- bookkeeping ---------------------------------------------------------------------------
    def _navigated(self, frame: Frame) -> None:
        if frame.parent_frame is not None:
            return
        if urlsplit(frame.url).fragment and self.pending is None and self.audited:
            previous = self.audited[-1].split("#")[0]
            if frame.url.split("#")[0] == previous:
                return  # same-document jump (skip link): nothing new to audit
        if self.pending is not None and urlsplit(self.pending).path != urlsplit(frame.url).path:
            # Not a script tidying the address of the page still loading (history.replaceState).
            self.unaudited.append(self.pending)
        self.pending = frame.url

    def _console(self, message: ConsoleMessage) -> None:
        self.console.append(f"{message.type}: {message.text}")
        if "Content Security Policy" in message.text:
            self.csp_violations.append(f"{self.page.url}: {message.text}")

    def finish(self) -> None:
        """Fail if a page escaped the audit, broke the CSP, or threw."""
        problems = []
        missed = [*self.unaudited, *([self.pending] if self.pending else [])]
        if missed:
            problems.append(f"pages loaded but never audited: {missed}")
        if self.csp_violations:
            problems.append("CSP violations:\n  " + "\n  ".join(self.csp_violations))
        if self.page_errors:
            problems.append("uncaught page errors:\n  " + "\n  ".join(self.page_errors))
        if problems:
            raise AssertionError(f"{self.name}: " + "\n".join(problems))

    # --- navigation ----------------------------------------------------------------------------
    def url(self, path: str) -> str:
        return path if path.startswith("http") else self.base_url + path

    @property
    def path(self) -> str:
        parts = urlsplit(self.page.url)
        return parts.path + (f"?{parts.query}" if parts.query else "")

    def goto(self, path: str, *, status: int = 200) -> Page:
        response = self.page.goto(self.url(path))
        assert response is not None, path
        assert response.status == status, f"{path}: HTTP {response.status}, wanted {status}"
        self.audit()
        return self.page

    def follow(self, action: Callable[[], None]) -> Page:
        """Run ``action`` (a click or submit that loads a page), wait for the load, audit it."""
        try:
            with self.page.expect_navigation():
                action()
        except PlaywrightTimeoutError as exc:
            alerts = self.page.get_by_role("alert").all_inner_texts()
            raise AssertionError(
                f"{self.name}: no page load after the action on {self.page.url}\n"
                f"  alerts on the page: {alerts}\n  console: {self.console[-10:]}"
            ) from exc
        self.audit()
        return self.page

    def click(self, locator: Locator) -> Page:
        return self.follow(locator.click)

    def audit(self) -> None:
        self.page.wait_for_load_state("load")
        url = self.page.url
        if self.page.evaluate("typeof window.axe") == "undefined":
            try:
                self.page.add_script_tag(url=self.base_url + AXE_PATH)
            except Error as exc:  # pragma: no cover - only when the page refuses axe
                raise AccessibilityError(f"could not load axe-core on {url}: {exc}") from exc
        violations: list[dict[str, Any]] = self.page.evaluate(AXE_RUN)
        self.audited.append(url)
        self.pending = None
        if violations:
            raise AccessibilityError(format_violations(f"{self.name} {url}", violations))

    # --- checks --------------------------------------------------------------------------------
    def assert_fits(self, width: int = SMALL_SCREEN["width"]) -> None:
        scroll_width: int = self.page.evaluate("document.documentElement.scrollWidth")
        assert scroll_width <= width, (
            f"{self.page.url} scrolls sideways at {width}px: scrollWidth is {scroll_width}"
        )

    # --- Rapport flows -------------------------------------------------------------------------
    def sign_in(self, email: str, password: str = DEMO_PASSWORD) -> Page:
        if not self.path.startswith("/accounts/login/"):
            self.goto("/accounts/login/")
        page = self.page
        page.get_by_label("Email address").fill(email)
        page.get_by_label("Password", exact=True).fill(password)
        return self.click(page.get_by_role("button", name="Sign in", exact=True))

    def sign_out(self) -> Page:
        return self.click(self.page.get_by_role("button", name="Sign out"))

    def enrol_totp(self) -> str:
        """On the authenticator-app activation page: read the secret, activate, return it."""
        page = self.page
        assert self.path.startswith("/accounts/2fa/totp/activate/"), self.page.url
        secret = page.get_by_label("Authenticator secret").input_value().replace(" ", "")
        assert secret, "no TOTP secret shown"
        page.get_by_label("Authenticator code").fill(fresh_totp(secret))
        self.click(page.get_by_role("button", name="Activate"))
        return secret

    def answer_totp(self, secret: str) -> Page:
        """On the two-factor challenge: enter the current code."""
        page = self.page
        assert self.path.startswith("/accounts/2fa/authenticate/"), self.page.url
        page.get_by_label("Authenticator code").fill(fresh_totp(secret))
        return self.click(page.get_by_role("button", name="Sign in", exact=True))
