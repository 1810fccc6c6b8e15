"""The browser code in Spanish: a person who reads Spanish and chose 12-hour times sees the
scripts' words (from Django's JavaScript catalog) and live times in Spanish, the same as the
server writes them."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Locator, Page, expect

from tests.browser.conftest import MakeVisitor
from tests.browser.people import pair_in_browsers
from tests.browser.server import DemoServer
from tests.browser.test_messaging import composer, open_conversation, write

pytestmark = pytest.mark.browser

SPANISH = """
from rapport.accounts.models import User
print(User.objects.filter(email={email!r}).update(language="es", clock="12"))
"""
# "sáb 5 Dic, 4:07 p. m.": Spanish day, the month as the server writes it, a 12-hour time.
SPANISH_TWELVE_HOUR = re.compile(
    r"^(lun|mar|mié|jue|vie|sáb|dom) \d{1,2} [A-Z][a-zé]{2}, \d{1,2}:\d\d [ap]\. m\.$"
)


def message(page: Page, text: str) -> Locator:
    """A message on the page, found without the (translated) name of its list."""
    return page.locator("#messages li.msg").filter(has_text=text)


def test_live_times_and_script_words_are_spanish(visitor: MakeVisitor, server: DemoServer) -> None:
    pair, client, therapist = pair_in_browsers(visitor, server)
    assert server.shell(SPANISH.format(email=pair.client)).strip().endswith("1")
    client.goto("/")
    me = client.page
    expect(me.locator("html")).to_have_attribute("lang", "es")
    expect(me.locator("html")).to_have_attribute("data-hour-cycle", "h12")
    open_conversation(client, pair.therapist_name)
    path = client.path

    # A status the script writes: "Enviado", not "Sent".
    write(me, "Hola, ¿podemos hablar el jueves?")
    mine = message(me, "Hola, ¿podemos hablar el jueves?")
    expect(mine.locator(".status")).to_have_text("Enviado")

    # A message arriving live: its time is drawn by the script, in Spanish, 12-hour.
    open_conversation(therapist, pair.client_name)
    composer(therapist.page).fill("Claro, el viernes a las 10.")
    therapist.page.get_by_role("button", name="Send", exact=True).click()
    expect(message(therapist.page, "Claro, el viernes a las 10.").locator(".status")).to_have_text(
        "Read"  # the therapist reads English: each person's page is in their own language
    )
    live = message(me, "Claro, el viernes a las 10.").locator("time")
    expect(live).to_have_text(SPANISH_TWELVE_HOUR)
    drawn = live.inner_text()

    # The server writes the same time the same way (the page as sent, before any script).
    html = client.context.request.get(client.url(path)).text()
    assert drawn in re.findall(r"<time [^>]*>([^<]+)</time>", html)
