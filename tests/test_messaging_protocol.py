"""The messages socket through the real ASGI application: delivery, acknowledgements, exactly-once,
ordering, receipts, typing, corrections, and refusals (per message, not only at connect)."""

from __future__ import annotations

import json
import uuid
from datetime import timedelta
from typing import Any

import pytest
import time_machine
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from django.utils import timezone

from rapport.accounts.models import User
from rapport.asgi import application
from rapport.audit.models import AuditEvent
from rapport.care.models import CareRelationship
from rapport.core.sockets import MAX_MESSAGE_BYTES
from rapport.messaging.access import conversation_for
from rapport.messaging.models import Message, Participant, Revision
from tests.conftest import signed_in
from tests.sockets import run_async, socket_headers

PATH = "/ws/messages/"

pytestmark = pytest.mark.django_db(transaction=True)


async def _open(browser: Any, origin: bytes | None = b"http://127.0.0.1") -> WebsocketCommunicator:
    socket = WebsocketCommunicator(application, PATH, headers=socket_headers(browser, origin))
    connected, code = await socket.connect(timeout=5)
    assert connected, code
    welcome = await _next(socket)
    assert welcome["type"] == "welcome"
    return socket


async def _next(socket: WebsocketCommunicator, kind: str | None = None) -> dict[str, Any]:
    while True:
        frame: dict[str, Any] = await socket.receive_json_from(timeout=5)
        if kind is None or frame["type"] == kind:
            return frame


async def _send(
    socket: WebsocketCommunicator, conversation: str, text: str, ident: str = ""
) -> str:
    ident = ident or str(uuid.uuid4())
    await socket.send_json_to(
        {"type": "send", "conversation": conversation, "id": ident, "text": text}
    )
    return ident


@pytest.fixture
def chat(client_a: User, therapist_x: User) -> str:
    relationship = CareRelationship.objects.get(client=client_a, therapist=therapist_x)
    return str(conversation_for(relationship).uid)


def test_message_reaches_the_recipient_and_the_senders_other_tab(
    chat: str, client_a: User, therapist_x: User
) -> None:
    client_browser, therapist_browser = signed_in(client_a), signed_in(therapist_x)

    async def body() -> None:
        tab1, tab2 = await _open(client_browser), await _open(client_browser)
        therapist = await _open(therapist_browser)
        ident = await _send(tab1, chat, "Hello <b>there</b>")
        ack = await _next(tab1, "ack")
        assert ack["id"] == ident and ack["message"]["seq"] == 1
        received = await _next(therapist)  # the message, with the recipient's counts after it
        assert received["type"] == "message"
        assert received["message"]["text"] == "Hello <b>there</b>"  # text, escaped by the page
        assert received["message"]["from"] == "client"
        assert (received["unread"], received["total"]) == (1, 1)
        assert await therapist.receive_nothing(timeout=0.2)  # no separate "unread" frame
        other = await _next(tab2)
        assert other == {"type": "message", "message": ack["message"]}  # no counts: not theirs
        assert await tab1.receive_nothing(timeout=0.2)  # the sending tab got its ack only
        for socket in (tab1, tab2, therapist):
            await socket.disconnect()

    run_async(body)
    assert Message.objects.get().body == "Hello <b>there</b>"


def test_a_repeated_id_is_stored_once_and_acknowledged_again(chat: str, client_a: User) -> None:
    browser = signed_in(client_a)

    async def body() -> None:
        socket = await _open(browser)
        ident = str(uuid.uuid4())
        for _ in range(3):
            await _send(socket, chat, "once", ident)
            ack = await _next(socket, "ack")
            assert ack["id"] == ident and ack["message"]["seq"] == 1
        await socket.disconnect()

    run_async(body)
    assert Message.objects.count() == 1
    assert Participant.objects.get(user__email="therapist.x@example.test").unread == 1


def test_messages_keep_their_order_and_fetch_returns_what_was_missed(
    chat: str, client_a: User, therapist_x: User
) -> None:
    client_browser, therapist_browser = signed_in(client_a), signed_in(therapist_x)

    async def body() -> None:
        sender = await _open(client_browser)
        for n in range(1, 21):
            await _send(sender, chat, str(n))
        for _ in range(20):
            await _next(sender, "ack")
        # The therapist was offline; on connecting they ask for everything after seq 5.
        therapist = await _open(therapist_browser)
        await therapist.send_json_to({"type": "fetch", "conversation": chat, "after": 5})
        history = await _next(therapist, "history")
        assert [m["text"] for m in history["messages"]] == [str(n) for n in range(6, 21)]
        assert [m["seq"] for m in history["messages"]] == list(range(6, 21))
        assert history["more"] is False
        assert history["read"] == {"client": 0, "therapist": 0}  # nobody has read anything yet
        await sender.disconnect()
        await therapist.disconnect()

    run_async(body)


def test_read_receipt_reaches_the_sender_and_clears_the_count(
    chat: str, client_a: User, therapist_x: User
) -> None:
    client_browser, therapist_browser = signed_in(client_a), signed_in(therapist_x)

    async def body() -> None:
        client, therapist = await _open(client_browser), await _open(therapist_browser)
        await _send(client, chat, "one")
        await _send(client, chat, "two")
        await _next(client, "ack")
        await _next(client, "ack")
        await therapist.send_json_to({"type": "read", "conversation": chat, "seq": 2})
        receipt = await _next(client, "read")
        assert receipt["by"] == "therapist" and receipt["seq"] == 2
        await _next(therapist, "read")  # the reader's own tabs hear it too, then the new count
        unread = await _next(therapist)
        assert unread["type"] == "unread" and unread["count"] == 0 and unread["total"] == 0
        await therapist.send_json_to({"type": "typing", "conversation": chat})
        typing = await _next(client, "typing")
        assert typing["by"] == "therapist"
        await client.disconnect()
        await therapist.disconnect()

    run_async(body)
    participant = Participant.objects.get(user=therapist_x)
    assert (participant.last_read_seq, participant.unread) == (2, 0)


def test_the_navigation_badge_follows_arrivals_and_reading(
    chat: str, client_a: User, therapist_x: User
) -> None:
    """The events socket (every page's badge) takes the total from the recipient's ``message``
    frame and from the reader's ``unread`` frame; the sender's badge is not touched."""
    client_browser, therapist_browser = signed_in(client_a), signed_in(therapist_x)

    async def events(browser: Any) -> WebsocketCommunicator:
        socket = WebsocketCommunicator(
            application, "/ws/events/", headers=socket_headers(browser, b"http://127.0.0.1")
        )
        connected, code = await socket.connect(timeout=5)
        assert connected, code
        return socket

    async def body() -> None:
        client, therapist = await _open(client_browser), await _open(therapist_browser)
        client_badge, therapist_badge = (
            await events(client_browser),
            await events(therapist_browser),
        )
        for n in (1, 2):
            await _send(client, chat, f"message {n}")
            await _next(client, "ack")
            badge = await therapist_badge.receive_json_from(timeout=5)
            assert badge == {"type": "messages.unread", "total": n}
        await therapist.send_json_to({"type": "read", "conversation": chat, "seq": 2})
        badge = await therapist_badge.receive_json_from(timeout=5)
        assert badge == {"type": "messages.unread", "total": 0}
        assert await client_badge.receive_nothing(timeout=0.2)
        for socket in (client, therapist, client_badge, therapist_badge):
            await socket.disconnect()

    run_async(body)


def test_correction_and_retraction_keep_the_record_and_are_audited(
    chat: str, client_a: User, therapist_x: User
) -> None:
    client_browser, therapist_browser = signed_in(client_a), signed_in(therapist_x)

    async def body() -> None:
        client, therapist = await _open(client_browser), await _open(therapist_browser)
        first = await _send(client, chat, "I feel sad")
        second = await _send(client, chat, "wrong person")
        await _next(client, "ack")
        await _next(client, "ack")
        await client.send_json_to({"type": "edit", "id": first, "text": "I feel sad today"})
        ack = await _next(client, "ack")
        assert ack["message"]["text"] == "I feel sad today" and ack["message"]["edited_at"]
        updated = await _next(therapist, "updated")
        assert updated["message"]["text"] == "I feel sad today"
        await client.send_json_to({"type": "retract", "id": second})
        retracted = await _next(therapist, "updated")
        assert retracted["message"]["retracted"] is True and retracted["message"]["text"] == ""
        # The therapist cannot change the client's message.
        await therapist.send_json_to({"type": "edit", "id": first, "text": "changed"})
        error = await _next(therapist, "error")
        assert error["error"] == "There is no such message of yours."
        await client.disconnect()
        await therapist.disconnect()

    run_async(body)
    first_message, second_message = Message.objects.order_by("seq")
    assert first_message.body == "I feel sad today"
    assert second_message.body == "wrong person" and second_message.retracted_at is not None
    kinds = dict(Revision.objects.values_list("kind", "body"))
    assert kinds == {"edited": "I feel sad", "retracted": "wrong person"}
    actions = set(AuditEvent.objects.values_list("action", flat=True))
    assert {"message.edited", "message.retracted"} <= actions
    assert not AuditEvent.objects.filter(detail__icontains="sad").exists()


def test_corrections_close_after_five_minutes(chat: str, client_a: User) -> None:
    browser = signed_in(client_a)
    sent_at = timezone.now()

    async def body() -> None:
        socket = await _open(browser)
        ident = await _send(socket, chat, "typo")
        await _next(socket, "ack")
        with time_machine.travel(sent_at + timedelta(minutes=5, seconds=5)):
            await socket.send_json_to({"type": "edit", "id": ident, "text": "fixed"})
            error = await _next(socket, "error")
        assert error["error"] == "Messages can be corrected within 5 minutes of sending."
        await socket.disconnect()

    run_async(body)
    assert Message.objects.get().body == "typo"


def test_access_is_checked_on_every_message(
    chat: str, client_a: User, client_b: User, therapist_x: User, therapist_y: User
) -> None:
    client_browser = signed_in(client_a)
    outsiders = [signed_in(client_b), signed_in(therapist_y)]

    async def body() -> None:
        for browser in outsiders:
            socket = await _open(browser)
            for frame in (
                {"type": "send", "conversation": chat, "id": str(uuid.uuid4()), "text": "hi"},
                {"type": "fetch", "conversation": chat, "after": 0},
                {"type": "read", "conversation": chat, "seq": 1},
                {"type": "typing", "conversation": chat},
            ):
                await socket.send_json_to(frame)
                error = await _next(socket, "error")
                assert error["error"] == "no such conversation", frame
            await socket.disconnect()
        socket = await _open(client_browser)
        await _send(socket, chat, "before the end")
        await _next(socket, "ack")
        # The care relationship ends while the socket is open: the next message is refused.
        await sync_to_async(CareRelationship.objects.filter(client=client_a).update)(
            status=CareRelationship.Status.ENDED
        )
        ident = await _send(socket, chat, "after the end")
        error = await _next(socket, "error")
        assert error == {
            "type": "error",
            "error": "no such conversation",
            "ref": "send",
            "id": ident,
        }
        await socket.disconnect()

    run_async(body)
    assert list(Message.objects.values_list("body", flat=True)) == ["before the end"]


def test_bad_frames_get_clear_errors_and_store_nothing(chat: str, client_a: User) -> None:
    browser = signed_in(client_a)

    async def body() -> None:
        socket = await _open(browser)
        cases: list[tuple[Any, str]] = [
            ("not json", "message is not valid JSON"),
            (json.dumps([1, 2]), "a message is a JSON object with a 'type'"),
            (json.dumps({"type": "explode"}), "unknown message type"),
            (
                json.dumps({"type": "send", "conversation": chat, "id": "x", "text": "a"}),
                "'id' must be an id",
            ),
            (
                json.dumps(
                    {"type": "send", "conversation": chat, "id": str(uuid.uuid4()), "text": "   "}
                ),
                "Write a message first.",
            ),
            (
                json.dumps(
                    {"type": "send", "conversation": chat, "id": str(uuid.uuid4()), "text": 5}
                ),
                "The message must be text.",
            ),
            (
                json.dumps(
                    {
                        "type": "send",
                        "conversation": chat,
                        "id": str(uuid.uuid4()),
                        "text": "x" * 8001,
                    }
                ),
                "Messages can be up to 8,000 characters; this one has 8,001.",
            ),
            (
                json.dumps({"type": "fetch", "conversation": chat, "after": -1}),
                "'after' must be a whole number",
            ),
            ("x" * (MAX_MESSAGE_BYTES + 1), "messages must be at most 64 KB"),
        ]
        for raw, expected in cases:
            await socket.send_to(text_data=raw)
            error = await _next(socket, "error")
            assert error["error"] == expected, raw[:80]
        await socket.send_to(bytes_data=b"\x00")
        assert (await _next(socket, "error"))["error"] == "messages must be JSON text"
        await socket.disconnect()

    run_async(body)
    assert not Message.objects.exists()


def test_sending_too_fast_is_refused_per_user_across_tabs(
    chat: str, client_a: User, settings: Any
) -> None:
    settings.RAPPORT_MESSAGE_BURST = 5
    settings.RAPPORT_MESSAGE_RATE = 1
    from rapport.messaging import consumers

    consumers._user_buckets.clear()
    browser = signed_in(client_a)

    async def body() -> None:
        tab1, tab2 = await _open(browser), await _open(browser)
        for n in range(6):
            await _send(tab1 if n % 2 else tab2, chat, str(n))
        acks = errors = 0
        for socket in (tab1, tab2):
            for _ in range(3):
                frame = await _next(socket)
                while frame["type"] == "message":
                    frame = await _next(socket)
                acks += frame["type"] == "ack"
                errors += frame["type"] == "error"
        assert (acks, errors) == (5, 1)
        await tab1.disconnect()
        await tab2.disconnect()

    run_async(body)
    consumers._user_buckets.clear()
    assert Message.objects.count() == 5


def test_anonymous_and_foreign_origin_are_refused(client_a: User) -> None:
    browser = signed_in(client_a)

    async def body() -> None:
        socket = WebsocketCommunicator(application, PATH, headers=socket_headers(None))
        connected, _code = await socket.connect(timeout=5)
        assert not connected  # HTTP 403 for a real client
        socket = WebsocketCommunicator(
            application, PATH, headers=socket_headers(browser, b"http://evil.example")
        )
        connected, _ = await socket.connect(timeout=5)
        assert not connected

    run_async(body)


def test_sign_out_closes_the_socket(chat: str, client_a: User) -> None:
    browser = signed_in(client_a)

    async def body() -> None:
        socket = await _open(browser)
        await sync_to_async(browser.post)("/accounts/logout/")
        frame = await _next(socket)
        assert frame["type"] == "session.ended"
        closed = await socket.receive_output(timeout=5)
        assert closed == {"type": "websocket.close", "code": 4001}

    run_async(body)


def test_fetch_returns_corrections_made_while_a_tab_was_away(
    chat: str, client_a: User, therapist_x: User
) -> None:
    client_browser, therapist_browser = signed_in(client_a), signed_in(therapist_x)

    async def body() -> None:
        client = await _open(client_browser)
        first = await _send(client, chat, "Thursdya")
        await _send(client, chat, "second")
        await _next(client, "ack")
        await _next(client, "ack")
        therapist = await _open(therapist_browser)
        await therapist.send_json_to({"type": "fetch", "conversation": chat, "after": 0})
        synced = (await _next(therapist, "history"))["at"]
        await therapist.disconnect()  # away, while the client corrects the first message
        await client.send_json_to({"type": "edit", "id": first, "text": "Thursday"})
        await _next(client, "ack")
        therapist = await _open(therapist_browser)
        await therapist.send_json_to(
            {"type": "fetch", "conversation": chat, "after": 2, "changed_after": synced}
        )
        history = await _next(therapist, "history")
        assert history["messages"] == []
        assert [(m["seq"], m["text"]) for m in history["changed"]] == [(1, "Thursday")]
        await therapist.send_json_to(
            {"type": "fetch", "conversation": chat, "after": 2, "changed_after": "yesterday"}
        )
        error = await _next(therapist, "error")
        assert error["error"] == "'changed_after' must be a date and time with its offset"
        await client.disconnect()
        await therapist.disconnect()

    run_async(body)


def test_a_deactivated_therapist_closes_the_conversation_on_both_paths(
    chat: str, client_a: User, therapist_x: User
) -> None:
    """The send path checks access in one SQL statement, the others through the ORM: both refuse
    once the other person's account is deactivated."""
    browser = signed_in(client_a)

    async def body() -> None:
        socket = await _open(browser)
        await _send(socket, chat, "before")
        await _next(socket, "ack")
        await sync_to_async(type(therapist_x).objects.filter(pk=therapist_x.pk).update)(
            is_active=False
        )
        ident = await _send(socket, chat, "after")
        assert (await _next(socket, "error"))["id"] == ident
        await socket.send_json_to({"type": "fetch", "conversation": chat, "after": 0})
        assert (await _next(socket, "error"))["error"] == "no such conversation"
        await socket.disconnect()

    run_async(body)
    assert list(Message.objects.values_list("body", flat=True)) == ["before"]


def test_reading_messages_over_the_socket_is_audited_like_the_page(
    chat: str, client_a: User, therapist_x: User
) -> None:
    """The therapist reading a client's messages is a read of the client's record, whether the
    conversation page shows them or the socket's ``fetch`` sends them; the client reading their
    own is not."""
    from django.urls import reverse

    from rapport.audit.services import Action
    from rapport.messaging import services

    for text in ("first", "second"):
        services.send_message(client_a, chat, uuid.uuid4(), text)

    def reads() -> list[tuple[str, str, dict[str, Any]]]:
        events = AuditEvent.objects.filter(action=Action.CLIENT_RECORD_VIEWED).order_by("sequence")
        return [(e.actor.email, e.object_type, e.detail) for e in events if e.actor is not None]

    page = signed_in(therapist_x).get(reverse("conversation", args=[chat]))
    assert page.status_code == 200 and "second" in page.content.decode()
    read = (therapist_x.email, "Conversation", {"purpose": "messages", "via": "care"})
    assert reads() == [read]
    signed_in(client_a).get(reverse("conversation", args=[chat]))
    assert reads() == [read]

    async def fetch(browser: Any, after: int) -> list[dict[str, Any]]:
        socket = await _open(browser)
        await socket.send_json_to({"type": "fetch", "conversation": chat, "after": after})
        history = await _next(socket, "history")
        await socket.disconnect()
        messages: list[dict[str, Any]] = history["messages"]
        return messages

    assert len(run_sync_fetch(fetch, signed_in(therapist_x), 0)) == 2
    assert reads() == [read, read]
    assert run_sync_fetch(fetch, signed_in(therapist_x), 2) == []  # nothing read, nothing audited
    assert len(run_sync_fetch(fetch, signed_in(client_a), 0)) == 2
    assert reads() == [read, read]


def run_sync_fetch(fetch: Any, browser: Any, after: int) -> list[dict[str, Any]]:
    got: list[list[dict[str, Any]]] = []

    async def body() -> None:
        got.append(await fetch(browser, after))

    run_async(body)
    return got[0]


def test_the_welcome_lists_the_users_conversations(
    chat: str, client_a: User, therapist_x: User, client_b: User
) -> None:
    """A client that is not a browser learns its conversations' ids from the socket itself."""
    client_browser, outsider = signed_in(client_a), signed_in(client_b)

    async def body() -> None:
        sender = await _open(client_browser)
        await _send(sender, chat, "hello")
        await _next(sender, "ack")
        for browser, expected in ((client_browser, chat), (outsider, None)):
            socket = WebsocketCommunicator(application, PATH, headers=socket_headers(browser))
            assert (await socket.connect(timeout=5))[0]
            welcome = await _next(socket, "welcome")
            ids = [c["id"] for c in welcome["conversations"]]
            if expected is None:
                assert chat not in ids
            else:
                mine = welcome["conversations"][ids.index(chat)]
                assert mine == {
                    "id": chat,
                    "with": therapist_x.full_name,
                    "unread": 0,
                    "last_seq": 1,
                }
            await socket.disconnect()
        await sender.disconnect()

    run_async(body)


def test_brackets_in_a_text_are_not_nesting(chat: str, client_a: User) -> None:
    """The nesting limit counts the frame's structure, not what people write."""
    browser = signed_in(client_a)
    text = "[{" * 2000 + " (-:"

    async def body() -> None:
        socket = await _open(browser)
        await _send(socket, chat, text)
        assert (await _next(socket, "ack"))["message"]["text"] == text
        await socket.send_to(text_data='{"type": "ping", "id": ' + "[" * 9 + "]" * 9 + "}")
        assert (await _next(socket, "error"))["error"] == "messages may nest at most 8 levels deep"
        await socket.disconnect()

    run_async(body)


def test_a_used_id_with_another_text_is_refused(chat: str, client_a: User) -> None:
    """A resend carries the same text; the same id with another text is a client's mistake and
    must not be acknowledged as if that text had been sent."""
    browser = signed_in(client_a)

    async def body() -> None:
        socket = await _open(browser)
        ident = await _send(socket, chat, "see you Thursday")
        await _next(socket, "ack")
        await socket.send_json_to({"type": "edit", "id": ident, "text": "see you Friday"})
        assert (await _next(socket, "ack"))["message"]["text"] == "see you Friday"
        await _send(socket, chat, "something else", ident)
        refused = await _next(socket)
        assert refused == {
            "type": "error",
            "error": "this id was already used for another message",
            "ref": "send",
            "id": ident,
        }
        # The resend of what was first sent is still acknowledged (with the message as it is).
        await _send(socket, chat, "see you Thursday", ident)
        assert (await _next(socket, "ack"))["message"]["text"] == "see you Friday"
        await socket.disconnect()

    run_async(body)
    assert list(Message.objects.values_list("body", flat=True)) == ["see you Friday"]
