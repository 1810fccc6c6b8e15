"""Open pages across a server restart: they reconnect by themselves while their session lasts,
and go to the sign-in page when it ran out meanwhile, instead of knocking on a closed door for
ever (the server refuses a socket of an expired session at the handshake, which the browser only
sees as a failed connection).

Both tabs belong to one client on two devices, each with a session of its own, made without the
sign-in form (``DemoServer.session_cookies``); the conversation page has two sockets (messages
and events), both through ``rapport/core/static/rapport/socket.js``.
"""

from __future__ import annotations

import json
import re
from urllib.parse import parse_qs, urlsplit

import pytest
from playwright.sync_api import expect

from tests.browser.browsing import Visitor
from tests.browser.conftest import MakeVisitor
from tests.browser.people import new_pair
from tests.browser.server import DemoServer

pytestmark = pytest.mark.browser

# Moves one session's last request past the idle timeout, as if its tab had sat unused for that
# long while its sockets stayed open: the next request (or handshake) finds it expired.
IDLE_SESSION = """
from importlib import import_module
from django.conf import settings
from rapport.lib.sessions import SEEN
store = import_module(settings.SESSION_ENGINE).SessionStore(session_key={key})
store[SEEN] -= settings.SESSION_IDLE_TIMEOUT + 60
store.save()
print(store[SEEN])
"""


def signed_in_device(make: MakeVisitor, server: DemoServer, name: str, email: str) -> Visitor:
    """A browser of its own with a fresh signed-in session for ``email``."""
    person = make(name)
    cookie = server.session_cookies(email)[email]
    cookie_name, value = cookie.split("=", 1)
    person.context.add_cookies([{"name": cookie_name, "value": value, "url": person.base_url}])
    return person


def session_key(person: Visitor) -> str:
    (key,) = [c["value"] for c in person.context.cookies() if c["name"] == "rapport_session"]
    return key


def test_after_a_restart_pages_reconnect_or_ask_to_sign_in_again(
    visitor: MakeVisitor, server: DemoServer
) -> None:
    pair = new_pair(server)
    phone = signed_in_device(visitor, server, "client's phone", pair.client)
    laptop = signed_in_device(visitor, server, "client's laptop", pair.client)
    for device in (phone, laptop):
        device.goto("/messages/")
        device.click(device.page.get_by_role("link", name=pair.therapist_name, exact=True))
    conversation = laptop.path
    assert re.fullmatch(r"/messages/[0-9a-f-]{36}/", conversation), conversation
    assert phone.path == conversation
    for device in (phone, laptop):
        expect(device.page.locator("#connection")).to_have_text("")

    # The phone's session runs out while the page stays open; then the server restarts, which
    # drops every socket.
    server.shell(IDLE_SESSION.format(key=json.dumps(session_key(phone))))
    server.stop()
    for device in (phone, laptop):
        expect(device.page.locator("#connection")).to_have_text("Connection lost. Reconnecting…")
    server.start()

    # The laptop's session is alive: its page reconnects and sends again.
    expect(laptop.page.locator("#connection")).to_have_text("", timeout=20_000)
    box = laptop.page.locator("#text")
    box.fill("Still here after the restart")
    box.press("Control+Enter")
    sent = laptop.page.locator("#messages li.msg").filter(has_text="Still here after the restart")
    expect(sent.locator(".status")).to_have_text("Sent")

    # The phone's handshakes are refused: it asks once whether it is still signed in, hears
    # that it is not, and goes to the sign-in page, which brings the person back afterwards.
    # (The page's two sockets may both start that navigation; the second aborts the first, so the
    # address is polled rather than one navigation awaited.)
    expect(phone.page).to_have_url(re.compile(r"/accounts/login/\?"), timeout=20_000)
    phone.audit()
    assert parse_qs(urlsplit(phone.page.url).query) == {"next": [conversation]}, phone.page.url
    expect(
        phone.page.get_by_text("You were signed out after a period of inactivity.")
    ).to_be_visible()
    phone.sign_in(pair.client)
    assert phone.path == conversation, phone.path
    expect(phone.page.locator("#messages li.msg")).to_have_text(
        [re.compile("Still here after the restart")]
    )
    expired = server.shell(
        "from rapport.audit.models import AuditEvent\n"
        "print(AuditEvent.objects.filter(\n"
        f"    action='auth.session_expired', actor__email={pair.client!r}).count())\n"
    )
    assert expired.strip() == "1", expired
