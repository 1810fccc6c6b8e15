"""Secure messaging between two Chromiums: a client on a phone and their therapist at a desk.

Each test makes its own therapist and client (``pair_in_browsers``), so tests share only the server.
What is asserted is what each person sees without reloading (messages, "is typing…", "Sent" and
"Read", the unread badges), and the rows behind it in the server's database.
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from playwright.sync_api import Dialog, Locator, Page, Route, WebSocketRoute, expect

from tests.browser.browsing import Visitor
from tests.browser.conftest import MakeVisitor
from tests.browser.people import pair_in_browsers
from tests.browser.server import DemoServer

pytestmark = pytest.mark.browser

CONVERSATION_PATH = re.compile(r"/messages/([0-9a-f-]{36})/")
# conversation.js sends an unacknowledged frame again after 8 s, checking every 2 s.
RESEND_WAIT_MS = 15_000


# --- People and pages ----------------------------------------------------------------------------


def open_conversation(person: Visitor, peer_name: str) -> str:
    """From the inbox, open the conversation with ``peer_name``; return its uuid."""
    if person.path != "/messages/":
        person.goto("/messages/")
    person.click(person.page.get_by_role("link", name=peer_name, exact=True))
    found = CONVERSATION_PATH.fullmatch(person.path)
    assert found, person.path
    return found.group(1)


def messages_link(page: Page) -> Locator:
    return page.get_by_role("navigation", name="Main").get_by_role(
        "link", name=re.compile(r"^Messages")
    )


def expect_badge(page: Page, unread: int) -> None:
    """The "Messages" link in the navigation, with its unread count when there is one."""
    name = f"Messages {unread} unread" if unread else "Messages"
    expect(messages_link(page)).to_have_accessible_name(name)


def inbox_row(page: Page, peer_name: str) -> Locator:
    return page.locator("#inbox > li").filter(
        has=page.get_by_role("link", name=peer_name, exact=True)
    )


def message_list(page: Page) -> Locator:
    return page.get_by_role("log", name="Messages").get_by_role("listitem")


def message(page: Page, text: str) -> Locator:
    return message_list(page).filter(has_text=text)


def texts(page: Page) -> list[str]:
    """The messages' texts on the page, top to bottom."""
    return page.locator("#messages li.msg .text").all_inner_texts()


def composer(page: Page) -> Locator:
    return page.locator("#text")


def write(page: Page, text: str) -> None:
    """Type into the message box key by key (so "is typing" goes out); send with Ctrl+Enter."""
    box = composer(page)
    box.focus()
    box.press_sequentially(text)
    box.press("Control+Enter")


# --- The database behind the pages ---------------------------------------------------------------

STATE_CODE = """
import json
from rapport.messaging.models import Conversation, Message, Participant
c = Conversation.objects.select_related("relationship").get(uid={uid!r})
print(json.dumps({{
    "last_seq": c.last_seq,
    "messages": [
        {{"seq": m.seq, "from": m.sender.email, "body": m.body, "id": str(m.client_uid),
          "edited": m.edited_at is not None, "retracted": m.retracted_at is not None,
          "attachment": m.attachment.name if m.attachment_id else None,
          "revisions": [r.kind for r in m.revisions.order_by("replaced_at")]}}
        for m in Message.objects.filter(conversation=c).select_related("sender", "attachment")
        .order_by("seq")
    ],
    "participants": {{
        p.user.email: {{"last_read_seq": p.last_read_seq, "unread": p.unread}}
        for p in Participant.objects.filter(conversation=c).select_related("user")
    }},
}}))
"""


def stored(server: DemoServer, conversation: str) -> dict[str, Any]:
    """The conversation's rows in the server's database."""
    output = server.shell(STATE_CODE.format(uid=conversation))
    state: dict[str, Any] = json.loads(output.strip().splitlines()[-1])
    return state


# --- Tests ---------------------------------------------------------------------------------------


def test_client_and_therapist_chat_live_with_receipts_and_badges(
    visitor: MakeVisitor, server: DemoServer
) -> None:
    pair, client, therapist = pair_in_browsers(visitor, server)
    them, me = therapist.page, client.page

    # The therapist waits on the inbox; the client opens the conversation on the phone.
    therapist.goto("/messages/")
    expect_badge(them, 0)
    conversation = open_conversation(client, pair.therapist_name)
    client.assert_fits()
    expect(me.get_by_text("No messages yet. Write the first one below.")).to_be_visible()

    # Keyboard: from the link above the conversation, Tab reaches the message box.
    me.get_by_role("link", name="All conversations").focus()
    for _ in range(6):
        me.keyboard.press("Tab")
        if me.evaluate("document.activeElement.id") == "text":
            break
    expect(me.get_by_label(f"Message to {pair.therapist_name}")).to_be_focused()
    me.keyboard.type("Hello, could we move Thursday?")
    me.keyboard.press("Control+Enter")
    expect(composer(me)).to_have_value("")
    mine = message(me, "Hello, could we move Thursday?")
    expect(mine.locator(".status")).to_have_text("Sent")

    # The therapist's inbox and badge count it without a reload.
    expect_badge(them, 1)
    expect(inbox_row(them, pair.client_name)).to_contain_text("1 unread")
    state = stored(server, conversation)
    assert [(m["seq"], m["from"], m["body"]) for m in state["messages"]] == [
        (1, pair.client, "Hello, could we move Thursday?")
    ]
    assert state["participants"][pair.therapist] == {"last_read_seq": 0, "unread": 1}

    # Opening the conversation reads it: the badge goes, the client's message says "Read".
    open_conversation(therapist, pair.client_name)
    expect(message(them, "Hello, could we move Thursday?")).to_contain_text(pair.client_name)
    expect_badge(them, 0)
    expect(mine.locator(".status")).to_have_text("Read")

    # The therapist answers: the client sees them typing, then the message, live.
    composer(them).focus()
    composer(them).press_sequentially("Of course")
    expect(me.locator("#typing")).to_have_text(f"{pair.therapist_name} is typing…")
    composer(them).press_sequentially(", Friday at 10 works.")
    them.get_by_role("button", name="Send", exact=True).click()
    expect(message(me, "Of course, Friday at 10 works.")).to_contain_text(pair.therapist_name)
    reply = message(them, "Of course, Friday at 10 works.")
    expect(reply.locator(".status")).to_have_text("Read")
    expect(me.locator("#typing")).to_have_text("")
    expect_badge(me, 0)

    # The client on another page: their badge counts the therapist's next message live.
    client.goto("/")
    write(them, "See you then.")
    expect(message(them, "See you then.").locator(".status")).to_have_text("Sent")
    expect_badge(me, 1)
    client.click(messages_link(me))
    expect(inbox_row(me, pair.therapist_name)).to_contain_text("1 unread")
    open_conversation(client, pair.therapist_name)
    expect(message(me, "See you then.")).to_be_visible()
    expect_badge(me, 0)
    expect(message(them, "See you then.").locator(".status")).to_have_text("Read")
    chat = ["Hello, could we move Thursday?", "Of course, Friday at 10 works.", "See you then."]
    assert texts(me) == texts(them) == chat

    state = stored(server, conversation)
    assert [(m["seq"], m["from"]) for m in state["messages"]] == [
        (1, pair.client),
        (2, pair.therapist),
        (3, pair.therapist),
    ]
    assert state["last_seq"] == 3
    assert state["participants"] == {
        pair.client: {"last_read_seq": 3, "unread": 0},
        pair.therapist: {"last_read_seq": 1, "unread": 0},
    }


# --- A network that fails on cue ------------------------------------------------------------------


class Wire:
    """The client's messages sockets, relayed through the test (``route_web_socket``).

    ``cut()`` drops every open socket as a failing network does (close code 1006) and refuses new
    ones until ``mend()``; the context is offline meanwhile, so the page's ``online`` event fires
    when the network is back. ``lose_next_ack()`` swallows the next acknowledgement on its way
    to the page, as a connection dying at the wrong moment does. ``sent`` holds every frame the
    page's socket delivered to the server.
    """

    def __init__(self, person: Visitor) -> None:
        self.context = person.context
        self.up = True
        self.losing_ack = False
        self.lost: list[str] = []
        self.sent: list[dict[str, Any]] = []
        self.open: list[tuple[WebSocketRoute, WebSocketRoute]] = []
        self.context.route_web_socket(re.compile(r"/ws/messages/$"), self._connect)

    def _connect(self, page_side: WebSocketRoute) -> None:
        if not self.up:
            page_side.close(code=1006, reason="network down")
            return
        server_side = page_side.connect_to_server()
        page_side.on_message(lambda frame: self._to_server(server_side, frame))
        server_side.on_message(lambda frame: self._to_page(page_side, frame))
        self.open.append((page_side, server_side))

    def _to_server(self, server_side: WebSocketRoute, frame: str | bytes) -> None:
        if isinstance(frame, str):
            self.sent.append(json.loads(frame))
        server_side.send(frame)

    def _to_page(self, page_side: WebSocketRoute, frame: str | bytes) -> None:
        if self.losing_ack and isinstance(frame, str) and json.loads(frame)["type"] == "ack":
            self.losing_ack = False
            self.lost.append(json.loads(frame)["id"])
            return
        page_side.send(frame)

    def cut(self) -> None:
        self.up = False
        self.context.set_offline(True)
        for page_side, server_side in self.open:
            server_side.close()
            page_side.close(code=1006, reason="network down")
        self.open.clear()

    def mend(self) -> None:
        self.up = True
        self.context.set_offline(False)

    def lose_next_ack(self) -> None:
        self.losing_ack = True

    def sends_of(self, text: str) -> list[dict[str, Any]]:
        return [f for f in self.sent if f.get("type") == "send" and f.get("text") == text]


def test_messages_written_offline_are_sent_once_in_order_when_back(
    visitor: MakeVisitor, server: DemoServer
) -> None:
    pair, client, therapist = pair_in_browsers(visitor, server)
    me, them = client.page, therapist.page
    wire = Wire(client)
    conversation = open_conversation(client, pair.therapist_name)
    open_conversation(therapist, pair.client_name)
    write(me, "Before the drop")
    expect(message(them, "Before the drop")).to_be_visible()

    # The network drops; three messages written meanwhile wait, marked "Sending…".
    wire.cut()
    connection = me.locator("#connection")
    expect(connection).to_have_attribute("role", "status")
    expect(connection).to_contain_text("Connection lost.")
    offline = ["One, written offline", "Two, written offline", "Three, written offline"]
    for text in offline:
        write(me, text)
        expect(message(me, text).locator(".status")).to_have_text("Sending…")
    expect(connection).to_have_text(
        "Connection lost. Your messages are kept here and will be sent when it is back."
    )
    assert texts(me) == ["Before the drop", *offline]
    assert texts(them) == ["Before the drop"]

    # Back online: each arrives once, in the order written, on both sides.
    wire.mend()
    for text in offline:
        expect(message(me, text).locator(".status")).to_have_text("Read")
    expect(connection).to_have_text("")
    assert texts(me) == texts(them) == ["Before the drop", *offline]

    # The server stored a message but its acknowledgement was lost: the page sends it again
    # when no acknowledgement came for a while, and the server keeps one copy.
    wire.lose_next_ack()
    write(me, "Did this arrive?")
    expect(message(them, "Did this arrive?")).to_be_visible()
    expect(message(me, "Did this arrive?").locator(".status")).to_have_text("Sending…")
    assert len(wire.lost) == 1
    expect(message(me, "Did this arrive?").locator(".status")).to_have_text(
        "Read", timeout=RESEND_WAIT_MS
    )
    assert len(wire.sends_of("Did this arrive?")) == 2, wire.sends_of("Did this arrive?")
    expect(message(them, "Did this arrive?")).to_have_count(1)
    everything = ["Before the drop", *offline, "Did this arrive?"]
    assert texts(me) == texts(them) == everything

    state = stored(server, conversation)
    assert [(m["seq"], m["body"]) for m in state["messages"]] == list(
        enumerate(everything, start=1)
    )
    assert state["messages"][-1]["id"] == wire.lost[0]
    assert state["participants"][pair.therapist] == {"last_read_seq": 5, "unread": 0}


def test_correct_and_retract_within_five_minutes(visitor: MakeVisitor, server: DemoServer) -> None:
    pair, client, therapist = pair_in_browsers(visitor, server)
    me, them = client.page, therapist.page
    conversation = open_conversation(client, pair.therapist_name)
    open_conversation(therapist, pair.client_name)
    write(me, "I feel anxios today")
    write(me, "Sorry, wrong person")
    expect(message(them, "Sorry, wrong person")).to_be_visible()
    client.goto(client.path)  # from here on the messages are the ones the server rendered
    expect(message(me, "Sorry, wrong person").get_by_role("button", name="Retract")).to_be_visible()
    client.audit()  # with the Correct and Retract buttons the script added

    # Correct: the text goes back into the box; the therapist sees the new text, "edited".
    first = message(me, "I feel anxios today")
    first.get_by_role("button", name="Correct").click()
    expect(composer(me)).to_have_value("I feel anxios today")
    expect(composer(me)).to_be_focused()
    composer(me).fill("I feel anxious today")
    me.get_by_role("button", name="Save correction").click()
    expect(me.get_by_role("button", name="Send", exact=True)).to_be_visible()
    mine = message(me, "I feel anxious today")
    expect(mine.locator(".edited")).to_have_text("edited")
    theirs = message(them, "I feel anxious today")
    expect(theirs.locator(".edited")).to_have_text("edited")
    expect(message(them, "anxios")).to_have_count(0)

    # Retract, after confirming: both see a tombstone instead of the text.
    dialogs: list[str] = []

    def accept(dialog: Dialog) -> None:
        dialogs.append(dialog.message)
        dialog.accept()

    me.once("dialog", accept)
    message(me, "Sorry, wrong person").get_by_role("button", name="Retract").click()
    expect(message(me, "You retracted this message.")).to_be_visible()
    expect(message(them, "This message was retracted.")).to_be_visible()
    expect(composer(me)).to_be_focused()  # not lost with the button that went away
    assert dialogs and dialogs[0].startswith("Retract this message?"), dialogs
    assert "wrong person" not in " ".join(texts(them))
    expect(message(me, "You retracted this message.").get_by_role("button")).to_have_count(0)

    state = stored(server, conversation)
    shape = [(m["body"], m["edited"], m["retracted"], m["revisions"]) for m in state["messages"]]
    assert shape == [
        ("I feel anxious today", True, False, ["edited"]),
        ("Sorry, wrong person", False, True, ["retracted"]),
    ]

    # A reload shows the same, from the server.
    therapist.goto(therapist.path)
    expect(message(them, "I feel anxious today").locator(".edited")).to_be_visible()
    expect(message(them, "This message was retracted.")).to_be_visible()


PDF = (
    b"%PDF-1.4\n1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj\n"
    b"2 0 obj << /Type /Pages /Kids [] /Count 0 >> endobj\n"
    b"trailer << /Root 1 0 R >>\n%%EOF\n"
)
ELF = b"\x7fELF\x02\x01\x01\x00" + bytes(56) + b"\x00" * 200


def test_attachment_uploads_with_progress_and_downloads_safely(
    visitor: MakeVisitor, server: DemoServer
) -> None:
    pair, client, therapist = pair_in_browsers(visitor, server)
    me, them = client.page, therapist.page
    conversation = open_conversation(client, pair.therapist_name)
    open_conversation(therapist, pair.client_name)

    # Hold the upload in flight so the progress bar can be seen.
    held: list[Route] = []

    def hold(route: Route) -> None:
        held.append(route)

    me.route("**/attachments/", hold)
    me.get_by_label("Attach a file (optional)").set_input_files(
        {"name": "sleep diary.pdf", "mimeType": "application/pdf", "buffer": PDF}
    )
    composer(me).fill("My sleep diary for this week")
    me.get_by_role("button", name="Send", exact=True).click()
    progress = me.get_by_role("progressbar", name="Upload progress")
    expect(progress).to_be_visible()
    assert len(held) == 1
    held[0].continue_()
    me.unroute("**/attachments/")
    expect(progress).to_be_hidden()
    link = message(them, "My sleep diary for this week").get_by_role("link", name="sleep diary.pdf")
    expect(link).to_be_visible()
    expect(message(me, "My sleep diary").get_by_role("link", name="sleep diary.pdf")).to_have_count(
        1
    )

    # The therapist downloads it: a file to save, never a page to render.
    with them.expect_download() as download:
        link.click()
    assert download.value.suggested_filename == "sleep diary.pdf"
    href = link.get_attribute("href")
    assert href
    response = therapist.context.request.get(therapist.url(href))
    assert response.status == 200
    assert response.headers["content-disposition"].startswith("attachment")
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.body() == PDF

    # A program renamed to look like a PDF is refused, with the reason on the page.
    me.get_by_label("Attach a file (optional)").set_input_files(
        {"name": "invoice.pdf", "mimeType": "application/pdf", "buffer": ELF}
    )
    composer(me).fill("Here is the invoice")
    me.get_by_role("button", name="Send", exact=True).click()
    expect(me.get_by_role("alert")).to_contain_text("Only PDF, images")
    expect(message(me, "Here is the invoice")).to_have_count(0)
    expect(composer(me)).to_have_value("Here is the invoice")

    state = stored(server, conversation)
    assert [(m["body"], m["attachment"]) for m in state["messages"]] == [
        ("My sleep diary for this week", "sleep diary.pdf")
    ]


OFFICE_HOURS_CODE = """
import zoneinfo
from datetime import time
from django.utils import timezone
from rapport.accounts.models import User
from rapport.messaging.models import OfficeHours
therapist = User.objects.get(email={email!r})
today = timezone.now().astimezone(zoneinfo.ZoneInfo(therapist.time_zone)).weekday()
OfficeHours.objects.filter(therapist=therapist).delete()
OfficeHours.objects.create(therapist=therapist, weekday=(today + 2) % 7, starts=time(9),
                           ends=time(10))
print((today + 2) % 7)
"""
WEEKDAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]


def test_outside_office_hours_the_client_sees_when_to_expect_a_reply(
    visitor: MakeVisitor, server: DemoServer
) -> None:
    pair, client, therapist = pair_in_browsers(visitor, server)
    me = client.page

    # The therapist sets the reply time on the settings page (keyboard and axe checked there).
    therapist.goto("/messages/")
    therapist.click(therapist.page.get_by_role("link", name="Email notifications and quiet hours"))
    assert therapist.path == "/settings/messages/"
    therapist.page.get_by_label("Clients may expect a reply within (hours)").fill("24")
    therapist.click(therapist.page.get_by_role("button", name="Save messaging settings"))
    expect(therapist.page.get_by_role("status")).to_contain_text("messaging settings are saved")
    day = WEEKDAYS[int(server.shell(OFFICE_HOURS_CODE.format(email=pair.therapist)).strip())]

    # Before writing, the client reads when the therapist reads messages, and where to turn now.
    open_conversation(client, pair.therapist_name)
    client.assert_fits()
    expectations = me.get_by_role("complementary", name="When to expect a reply")
    expect(expectations).to_contain_text(
        f"{pair.therapist_name} reads messages {day} 09:00–10:00."  # noqa: RUF001
    )
    expect(expectations).to_contain_text(f"{pair.therapist_name} usually replies within 24 hours.")
    expect(expectations).to_contain_text(
        f"{pair.therapist_name} is away now: expect an answer from {day}"
    )
    expect(expectations).to_contain_text("Messages are not for emergencies.")
    expect(expectations).to_contain_text("call your local emergency number")
    expect(expectations.get_by_text("Messages are not for emergencies.")).to_be_in_viewport()


def test_messaging_pages_pass_axe_and_sending_works_by_keyboard_alone(
    visitor: MakeVisitor, server: DemoServer
) -> None:
    pair, client, therapist = pair_in_browsers(visitor, server)
    me, them = client.page, therapist.page
    client.goto("/settings/messages/")  # audited on load, like every page here
    expect(me.get_by_label("Quiet hours from")).to_be_visible()
    client.assert_fits()
    therapist.goto("/settings/messages/")
    open_conversation(therapist, pair.client_name)
    client.goto("/messages/")
    client.assert_fits()

    # The therapist writes and sends with the keyboard only: type, Tab to "Send", Enter.
    composer(them).focus()
    them.keyboard.type("How did the week go?")
    for _ in range(6):
        them.keyboard.press("Tab")
        if them.evaluate("document.activeElement.id") == "send":
            break
    expect(them.get_by_role("button", name="Send", exact=True)).to_be_focused()
    them.keyboard.press("Enter")
    expect(message(them, "How did the week go?").locator(".status")).to_have_text("Sent")
    expect(inbox_row(me, pair.therapist_name)).to_contain_text("1 unread")
    expect(me.get_by_role("status").filter(has_text="New message from")).to_have_text(
        f"New message from {pair.therapist_name}."
    )
    client.audit()  # the inbox as the script changed it

    # The client answers by keyboard from the inbox: Enter on the link, Tab to the box, Ctrl+Enter.
    inbox_row(me, pair.therapist_name).get_by_role("link").focus()
    client.follow(lambda: me.keyboard.press("Enter"))
    composer(me).focus()
    me.keyboard.type("Better, thank you.")
    me.keyboard.press("Control+Enter")
    expect(message(them, "Better, thank you.")).to_be_visible()
    expect(message(them, "How did the week go?").locator(".status")).to_have_text("Read")
    client.audit()
    therapist.audit()
