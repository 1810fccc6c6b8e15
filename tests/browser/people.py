"""Who takes part in a browser test: a therapist and a client of their own, made in the server's
database for each test (so tests share only the server), and their ways in.

A test that is not about signing in starts signed in: ``Pair.let_in`` gives a browser a session
made on the server without the sign-in form (``tests/sessions.py``), the therapist's
authenticator app already set up. Signing in and the first TOTP enrolment are journeys of their
own (``test_client.py``, ``test_therapist.py``, ``test_passkey.py``, ``test_admin.py``).
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from typing import Any

from playwright.sync_api import Page

from tests.browser.browsing import DEMO_PASSWORD, SMALL_SCREEN, Visitor
from tests.browser.conftest import MakeVisitor
from tests.browser.server import DemoServer

# Runs in ``rapport manage shell`` on the server: the two people, their care relationship, the
# therapist's authenticator app, and a signed-in session for each.
NEW_PAIR_CODE = """
import json
from allauth.account.models import EmailAddress
from allauth.mfa.totp.internal.auth import TOTP, generate_totp_secret
from rapport.accounts.models import Role, User
from rapport.care.services import start_care
from tests.sessions import session_cookie
admin = User.objects.get(email="admin@demo.rapport.test")
made = []
for email, name, role in [({therapist!r}, {therapist_name!r}, Role.THERAPIST),
                          ({client!r}, {client_name!r}, Role.CLIENT)]:
    user = User.objects.create_user(
        email, {password!r}, full_name=name, role=role, time_zone="Europe/London"
    )
    EmailAddress.objects.create(user=user, email=email, verified=True, primary=True)
    made.append(user)
therapist, client = made
start_care(therapist, client, actor=admin)
TOTP.activate(therapist, generate_totp_secret())
print(json.dumps({{
    "client_id": client.pk,
    "sessions": {{user.email: session_cookie(user) for user in made}},
}}))
"""


@dataclass(frozen=True)
class Pair:
    """A therapist and a client of their own, so no other test's visit is in the way."""

    therapist: str
    therapist_name: str
    client: str
    client_name: str
    client_id: int
    sessions: dict[str, str]  # a signed-in session's Cookie header, by email

    def let_in(self, visitor: Visitor, email: str) -> Page:
        """``visitor`` is ``email``, signed in already: their home page opens."""
        name, value = self.sessions[email].split("=", 1)
        visitor.context.add_cookies([{"name": name, "value": value, "url": visitor.base_url}])
        return visitor.goto("/")


def new_pair(server: DemoServer) -> Pair:
    tag = uuid.uuid4().hex[:8]
    therapist, client = f"t-{tag}@pair.test", f"c-{tag}@pair.test"
    therapist_name, client_name = f"Dr Ash {tag}", f"Kim {tag}"
    code = NEW_PAIR_CODE.format(
        therapist=therapist,
        therapist_name=therapist_name,
        client=client,
        client_name=client_name,
        password=DEMO_PASSWORD,
    )
    made = json.loads(server.shell(code).strip().splitlines()[-1])
    return Pair(
        therapist, therapist_name, client, client_name, int(made["client_id"]), made["sessions"]
    )


def pair_in_browsers(
    visitor: MakeVisitor, server: DemoServer, **client_options: Any
) -> tuple[Pair, Visitor, Visitor]:
    """A fresh pair, signed in: the client on a 360 px phone, the therapist at a desk."""
    pair = new_pair(server)
    client = visitor("client on a phone", viewport=SMALL_SCREEN, **client_options)
    pair.let_in(client, pair.client)
    therapist = visitor("therapist")
    pair.let_in(therapist, pair.therapist)
    return pair, client, therapist


# Moves every authentication record of one session an hour into the past, as if the person had
# signed in long ago: allauth's "sudo mode" (ACCOUNT_REAUTHENTICATION_TIMEOUT) is then over.
AGE_SESSION = """
from importlib import import_module
from django.conf import settings
store = import_module(settings.SESSION_ENGINE).SessionStore(session_key={key})
records = store["account_authentication_methods"]
for record in records:
    record["at"] -= 3600
store["account_authentication_methods"] = records
store.save()
print(len(records))
"""


def end_sudo_mode(server: DemoServer, person: Visitor) -> None:
    """``person``'s browser signed in long ago: sensitive changes ask for the password again."""
    (key,) = [c["value"] for c in person.context.cookies() if c["name"] == "rapport_session"]
    assert int(server.shell(AGE_SESSION.format(key=json.dumps(key)))) > 0
