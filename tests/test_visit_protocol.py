"""The session room's signaling socket through the real ASGI application.

Handshake checks, the waiting room, admission and the rejoin grace, relaying, the message schema,
size and rate limits, chat stored once, modality switches, the end, sign-out and replacement.
"""

from __future__ import annotations

import json
import uuid
from datetime import timedelta
from typing import Any

import pytest
import time_machine
from asgiref.sync import sync_to_async
from channels.auth import AuthMiddlewareStack
from channels.routing import URLRouter
from channels.testing import WebsocketCommunicator
from django.conf import settings
from django.db import connection
from django.test import Client
from django.urls import path
from django.utils import timezone

from rapport.accounts.models import User
from rapport.accounts.services import end_live_connections
from rapport.asgi import application
from rapport.core.sockets import SiteOriginValidator
from rapport.messaging.models import Message
from rapport.visits import services
from rapport.visits.consumers import VisitConsumer
from rapport.visits.models import EventKind, Visit, VisitEvent
from tests.conftest import signed_in
from tests.sockets import run_async, socket_headers

pytestmark = pytest.mark.django_db(transaction=True)

POLICY = settings.RAPPORT_QUALITY_POLICY


headers = socket_headers
run = run_async


async def open_socket(
    visit: Visit, browser: Client | None, **kw: Any
) -> tuple[WebsocketCommunicator, bool, Any]:
    socket = WebsocketCommunicator(
        application, f"/ws/visits/{visit.uid}/", headers=headers(browser, **kw)
    )
    connected, detail = await socket.connect(timeout=5)
    return socket, connected, detail


async def closed_at_once(visit: Visit, browser: Client) -> int:
    """The code of a room socket that is accepted only to be closed (the person hears why)."""
    socket, connected, _ = await open_socket(visit, browser)
    assert connected
    closed = await socket.receive_output(timeout=5)
    assert closed["type"] == "websocket.close", closed
    code: int = closed["code"]
    return code


async def receive(socket: WebsocketCommunicator, timeout: float = 5) -> dict[str, Any]:
    message: dict[str, Any] = await socket.receive_json_from(timeout=timeout)
    return message


async def receive_until(socket: WebsocketCommunicator, kind: str) -> dict[str, Any]:
    """The next message of type ``kind``, skipping presence updates and the like."""
    for _ in range(20):
        message = await receive(socket)
        if message["type"] == kind:
            return message
    raise AssertionError(f"no {kind} message")


async def drain(socket: WebsocketCommunicator) -> list[dict[str, Any]]:
    seen = []
    while not await socket.receive_nothing(timeout=0.3):
        seen.append(await receive(socket))
    return seen


async def send(socket: WebsocketCommunicator, message: dict[str, Any]) -> None:
    await socket.send_to(text_data=json.dumps(message))


@pytest.fixture
def visit(therapist_x: User, client_a: User) -> Visit:
    visit = services.start_unscheduled(therapist_x, client_a)
    services.check_in(
        visit,
        client_a,
        location="Home, Elm St",
        callback_phone="+1 555 0100",
        emergency_contact="Sam",
    )
    return visit


async def in_call(
    visit: Visit, therapist: Client, client: Client
) -> tuple[WebsocketCommunicator, WebsocketCommunicator]:
    """Both in the room, the client admitted, every setup message read."""
    t, ok, _ = await open_socket(visit, therapist)
    assert ok
    assert (await receive(t))["type"] == "welcome"
    c, ok, _ = await open_socket(visit, client)
    assert ok
    welcome = await receive(c)
    assert welcome["you"] == {"role": "client", "state": "waiting"}
    await send(t, {"type": "admit"})
    assert (await receive_until(c, "ready"))["polite"] is True
    assert (await receive_until(t, "ready"))["polite"] is False
    await drain(c)
    await drain(t)
    return t, c


def events(visit: Visit) -> list[str]:
    return list(VisitEvent.objects.filter(visit=visit).values_list("kind", flat=True))


def test_outsiders_and_anonymous_are_refused_at_the_handshake(
    visit: Visit, client_b: User, therapist_y: User, admin: User
) -> None:
    outsiders = [signed_in(client_b), signed_in(therapist_y), signed_in(admin)]

    async def body() -> None:
        _socket, connected, _code = await open_socket(visit, None)
        assert not connected  # HTTP 403 for a real client
        for browser in outsiders:
            assert await closed_at_once(visit, browser) == 4404
        unknown = Visit(uid=uuid.uuid4())
        assert await closed_at_once(unknown, outsiders[0]) == 4404

    run(body)


def test_foreign_origin_is_refused(visit: Visit, client_a: User) -> None:
    browser = signed_in(client_a)

    async def body() -> None:
        for origin in (b"http://evil.example", None):
            _socket, connected, _ = await open_socket(visit, browser, origin=origin)
            assert not connected

    run(body)


def test_waiting_room_cannot_be_bypassed(visit: Visit, therapist_x: User, client_a: User) -> None:
    therapist, client = signed_in(therapist_x), signed_in(client_a)

    async def body() -> None:
        # Early: the therapist is not there yet. The client waits and can do nothing else.
        c, ok, _ = await open_socket(visit, client)
        assert ok
        welcome = await receive(c)
        assert welcome["you"]["state"] == "waiting"
        assert welcome["peer"]["state"] == "away"
        assert welcome["checkin"] is None  # the check-in goes to the therapist only
        for message in (
            {"type": "sdp", "description": {"type": "offer", "sdp": "v=0"}},
            {"type": "chat", "id": str(uuid.uuid4()), "text": "let me in"},
            {"type": "modality", "modality": "text", "reason": "user"},
            {"type": "admit"},
            {"type": "end"},
        ):
            await send(c, message)
            error = await receive(c)
            assert error["type"] == "error", message
        # Reloading does not admit: a new socket is still waiting.
        await c.disconnect()
        c, ok, _ = await open_socket(visit, client)
        assert ok
        assert (await receive(c))["you"]["state"] == "waiting"
        # The therapist arrives: sees the waiting client with the safety check-in.
        t, ok, _ = await open_socket(visit, therapist)
        assert ok
        welcome = await receive(t)
        assert welcome["peer"]["state"] == "waiting"
        assert welcome["checkin"]["location"] == "Home, Elm St"
        assert welcome["checkin"]["callback_phone"] == "+1 555 0100"
        await send(t, {"type": "wait_message", "text": "Two minutes, please"})
        note = await receive_until(c, "wait_message")
        assert note["text"] == "Two minutes, please"
        await drain(c)
        assert await c.receive_nothing(timeout=0.3)  # no "ready" for a waiting client
        await send(t, {"type": "admit"})
        assert (await receive_until(c, "admitted"))["type"] == "admitted"
        ready = await receive_until(c, "ready")
        assert ready["peer_connection"] == welcome["connection"] or ready["peer_connection"]
        await c.disconnect()
        await t.disconnect()

    run(body)
    kinds = events(visit)
    assert kinds.count(EventKind.WAITING) == 2
    assert EventKind.ADMITTED in kinds
    assert EventKind.WAIT_MESSAGE in kinds


def test_signaling_is_relayed_only_to_the_peer(
    visit: Visit, therapist_x: User, client_a: User
) -> None:
    therapist, client = signed_in(therapist_x), signed_in(client_a)

    async def body() -> None:
        t, c = await in_call(visit, therapist, client)
        offer = {"type": "offer", "sdp": "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\n"}
        await send(t, {"type": "sdp", "description": offer})
        assert await receive(c) == {"type": "sdp", "description": offer}
        assert await t.receive_nothing(timeout=0.3)  # not echoed to the sender
        candidate = {
            "candidate": "candidate:1 1 udp 2122260223 192.0.2.1 54400 typ host",
            "sdpMid": "0",
            "sdpMLineIndex": 0,
        }
        await send(c, {"type": "ice", "candidate": candidate})
        assert await receive(t) == {"type": "ice", "candidate": candidate}
        await send(c, {"type": "ice", "candidate": None})
        assert await receive(t) == {"type": "ice", "candidate": None}
        await send(c, {"type": "media", "audio": False, "video": True, "screen": False})
        assert (await receive(t))["type"] == "peer_media"
        await t.disconnect()
        await c.disconnect()

    run(body)


BAD_MESSAGES: list[tuple[str, str]] = [
    ("not json", "not valid JSON"),
    ("[1, 2]", "JSON object"),
    ('{"type": "teleport"}', "unknown message type"),
    ('{"type": "ping", "extra": 1}', "unknown field"),
    ('{"type": "sdp", "description": {"type": "offer", "sdp": 5}}', "description.sdp"),
    ('{"type": "sdp", "description": {"type": "pranswer", "sdp": ""}}', "description.type"),
    ('{"type": "ice", "candidate": {"candidate": "x"}}', "candidate.sdpMid is required"),
    ('{"type": "chat", "id": "not-a-uuid", "text": "hi"}', "UUID"),
    ('{"type": "chat", "id": "2b1c6f2e-8d9a-4c51-9b6a-0d7f1d4e5a10", "text": "   "}', "blank"),
    ('{"type": "quality", "level": "poor", "loss": 7}', "between"),
    ('{"type": "quality", "level": "poor", "rtt_ms": "fast"}', "number"),
    ('{"type": "modality", "modality": "hologram", "reason": "user"}', "one of"),
    ('{"type": "media", "audio": "yes", "video": true, "screen": false}', "true or false"),
    ('{"type": "reconnect", "phase": "started", "cause": "blackout"}', "cause must be one of"),
    (
        '{"type": "reconnect", "phase": "completed", "cause": "media_lost", "lost_ms": -5}',
        "lost_ms must be between",
    ),
    (
        '{"type": "reconnect", "phase": "completed", "cause": "media_lost", "ice_restarts": "2"}',
        "ice_restarts must be a number",
    ),
]


def test_malformed_messages_get_a_clear_error_and_the_socket_stays(
    visit: Visit, therapist_x: User, client_a: User
) -> None:
    therapist, client = signed_in(therapist_x), signed_in(client_a)

    async def body() -> None:
        t, c = await in_call(visit, therapist, client)
        for raw, expected in BAD_MESSAGES:
            await t.send_to(text_data=raw)
            error = await receive(t)
            assert error["type"] == "error", raw
            assert expected in error["error"], (raw, error)
        await t.send_to(
            text_data=json.dumps({"type": "chat", "id": str(uuid.uuid4()), "text": "x" * 70_000})
        )
        assert "64 KB" in (await receive(t))["error"]
        await t.send_to(bytes_data=b"\x00\x01")
        assert "JSON text" in (await receive(t))["error"]
        await send(t, {"type": "ping", "id": 7})
        assert await receive(t) == {"type": "pong", "id": 7}
        assert await c.receive_nothing(timeout=0.3)  # nothing bad reached the peer
        await t.disconnect()
        await c.disconnect()

    run(body)


def test_a_flood_is_rate_limited_then_closed(visit: Visit, therapist_x: User) -> None:
    therapist = signed_in(therapist_x)

    async def body() -> None:
        t, ok, _ = await open_socket(visit, therapist)
        assert ok
        await receive(t)
        for _ in range(400):
            await send(t, {"type": "ping"})
        replies = []
        while True:
            output = await t.receive_output(timeout=5)
            if output["type"] == "websocket.close":
                assert output["code"] == 4429
                break
            replies.append(json.loads(output["text"]))
        assert any(r.get("error") == "rate limit: slow down" for r in replies)
        assert sum(r["type"] == "pong" for r in replies) >= 150

    run(body)


def test_chat_is_stored_once_encrypted_and_reaches_both(
    visit: Visit, therapist_x: User, client_a: User
) -> None:
    therapist, client = signed_in(therapist_x), signed_in(client_a)
    message_id = str(uuid.uuid4())

    async def body() -> None:
        t, c = await in_call(visit, therapist, client)
        for _ in range(2):  # a retry after a lost ack
            await send(c, {"type": "chat", "id": message_id, "text": "I feel <b>better</b>"})
        seen = [await receive(c) for _ in range(3)]
        assert [m["type"] for m in seen].count("chat_ack") == 2
        assert [m["type"] for m in seen].count("chat") == 1
        chat = await receive(t)
        assert chat["text"] == "I feel <b>better</b>" and chat["from"] == "client"
        assert await t.receive_nothing(timeout=0.3)
        await t.disconnect()
        await c.disconnect()
        # The history comes back on the next welcome.
        c, _ok, _ = await open_socket(visit, client)
        assert [m["id"] for m in (await receive(c))["chat"]] == [message_id]
        await c.disconnect()

    run(body)
    stored = Message.objects.get()
    assert (
        stored.visit_id == visit.pk and stored.conversation.relationship_id == visit.relationship_id
    )
    with connection.cursor() as cursor:
        cursor.execute("SELECT body FROM messaging_message")
        raw = cursor.fetchone()[0]
    assert "better" not in raw


def test_reload_within_grace_comes_back_without_admission(
    visit: Visit, therapist_x: User, client_a: User
) -> None:
    therapist, client = signed_in(therapist_x), signed_in(client_a)

    async def body() -> None:
        t, c = await in_call(visit, therapist, client)
        await c.disconnect()
        peer = await receive_until(t, "peer")
        assert peer["state"] == "reconnecting"  # not "left"
        c, ok, _ = await open_socket(visit, client)
        assert ok
        welcome = await receive(c)
        assert welcome["you"]["state"] == "admitted"
        ready = await receive_until(t, "ready")
        assert ready["peer_connection"] == welcome["connection"]
        await c.disconnect()
        # After the grace period the client waits again.
        await sync_to_async(Visit.objects.filter(pk=visit.pk).update)(
            client_away_since=timezone.now()
            - timedelta(seconds=settings.RAPPORT_VISIT_REJOIN_GRACE_SECONDS + 1)
        )
        c, ok, _ = await open_socket(visit, client)
        assert (await receive(c))["you"]["state"] == "waiting"
        await c.disconnect()
        await t.disconnect()

    run(body)
    assert EventKind.RECONNECTED in events(visit)
    assert Visit.objects.count() == 1


def test_a_second_socket_replaces_the_first(visit: Visit, therapist_x: User) -> None:
    therapist = signed_in(therapist_x)

    async def body() -> None:
        first, ok, _ = await open_socket(visit, therapist)
        await receive(first)
        second, ok, _ = await open_socket(visit, therapist)
        assert ok
        await receive(second)
        assert (await receive(first))["type"] == "replaced"
        assert (await first.receive_output(timeout=5))["code"] == 4409
        await send(second, {"type": "ping", "id": 1})
        assert (await receive(second))["type"] == "pong"
        await second.disconnect()

    run(body)
    visit.refresh_from_db()
    assert visit.therapist_channel == ""  # the second one's leaving marked the therapist away


def test_modality_switches_are_recorded_with_their_reason(
    visit: Visit, therapist_x: User, client_a: User, settings: Any
) -> None:
    settings.RAPPORT_QUALITY_POLICY = {**POLICY, "audio_only_after_seconds": 0}
    therapist, client = signed_in(therapist_x), signed_in(client_a)

    async def body() -> None:
        t, c = await in_call(visit, therapist, client)
        await send(c, {"type": "quality", "level": "poor", "rtt_ms": 420, "loss": 0.12})
        assert (await receive(t))["type"] == "peer_quality"
        await send(c, {"type": "modality", "modality": "audio", "reason": "connection"})
        for socket in (t, c):
            switched = await receive(socket)
            assert switched == {
                "type": "modality",
                "modality": "audio",
                "by": "client",
                "reason": "connection",
                "detail": "loss 12 % for 0 s",  # the server's words, from the figures
            }
        await send(t, {"type": "modality", "modality": "text", "reason": "user"})
        await receive(t)
        await send(c, {"type": "reconnect", "phase": "started", "cause": "ice_failed"})
        await send(t, {"type": "ping"})
        await receive_until(t, "pong")
        await t.disconnect()
        await c.disconnect()

    run(body)
    visit.refresh_from_db()
    assert visit.modality == "text"
    switches = list(
        VisitEvent.objects.filter(visit=visit, kind=EventKind.MODALITY).values_list(
            "modality", "reason"
        )
    )
    assert switches == [("audio", "connection"), ("text", "user")]
    poor = VisitEvent.objects.get(visit=visit, kind=EventKind.QUALITY_POOR)
    assert poor.detail == "rtt 420 ms, loss 12 %"
    forced = VisitEvent.objects.get(visit=visit, kind=EventKind.MODALITY, modality="audio")
    assert forced.detail == "loss 12 % for 0 s"
    with connection.cursor() as cursor:  # the words are encrypted at rest like the record
        cursor.execute("SELECT detail FROM visits_visitevent WHERE id = %s", [forced.pk])
        assert "loss" not in cursor.fetchone()[0]
    assert VisitEvent.objects.filter(
        visit=visit, kind=EventKind.RECONNECTING, reason="ice_failed"
    ).exists()


def test_a_browser_cannot_say_why_a_switch_happened(
    visit: Visit, therapist_x: User, client_a: User, settings: Any
) -> None:
    """Free text in a switch is refused, and "because of the connection" needs figures that
    say so: none, good ones, or a switch up are refused and change nothing."""
    settings.RAPPORT_QUALITY_POLICY = {**POLICY, "audio_only_after_seconds": 0}
    therapist, client = signed_in(therapist_x), signed_in(client_a)
    not_called_for = "The connection figures do not call for this switch."

    async def body() -> None:
        t, c = await in_call(visit, therapist, client)
        forced = {"type": "modality", "modality": "audio", "reason": "connection"}
        await send(c, {**forced, "detail": "my therapist kept talking over me"})
        assert (await receive(c))["error"] == "unknown field detail"
        await send(t, forced)
        assert (await receive(t)) == {"type": "error", "error": not_called_for, "ref": "modality"}
        await send(c, {"type": "quality", "level": "good", "rtt_ms": 40, "loss": 0.0})
        assert (await receive(t))["type"] == "peer_quality"
        await send(t, forced)
        assert (await receive(t))["error"] == not_called_for
        # Poor figures from the client's page make the therapist's switch down a forced one.
        await send(c, {"type": "quality", "level": "poor", "rtt_ms": 40, "loss": 0.2})
        assert (await receive(t))["type"] == "peer_quality"
        await send(t, {**forced, "modality": "video"})
        assert (await receive(t))["error"] == not_called_for  # not a step down
        await send(t, forced)
        assert (await receive_until(c, "modality"))["detail"] == "loss 20 % for 0 s"
        await t.disconnect()
        await c.disconnect()

    run(body)
    switches = VisitEvent.objects.filter(visit=visit, kind=EventKind.MODALITY)
    assert [(e.modality, e.reason, e.detail) for e in switches] == [
        ("audio", "connection", "loss 20 % for 0 s")
    ]


def test_the_therapist_ends_the_session_for_both(
    visit: Visit, therapist_x: User, client_a: User
) -> None:
    therapist, client = signed_in(therapist_x), signed_in(client_a)

    async def body() -> None:
        t, c = await in_call(visit, therapist, client)
        await send(c, {"type": "end"})
        assert "therapist" in (await receive(c))["error"]
        await send(t, {"type": "end"})
        for socket in (t, c):
            assert (await receive_until(socket, "ended"))["by"] == "therapist"
            assert (await socket.receive_output(timeout=5))["code"] == 4410
        assert await closed_at_once(visit, client) == 4410

    run(body)
    visit.refresh_from_db()
    assert visit.is_ended and visit.ended_by == therapist_x and visit.ended_at is not None
    assert events(visit)[-1] == EventKind.ENDED


def test_signing_out_closes_the_room_socket(
    visit: Visit, therapist_x: User, client_a: User
) -> None:
    client = signed_in(client_a)

    async def body() -> None:
        c, ok, _ = await open_socket(visit, client)
        assert ok
        await receive(c)
        await sync_to_async(end_live_connections)(client_a.pk)
        assert (await receive_until(c, "session.ended"))["type"] == "session.ended"
        assert (await c.receive_output(timeout=5))["code"] == 4001

    run(body)


def test_ending_the_care_relationship_shuts_the_room(
    visit: Visit, therapist_x: User, client_a: User
) -> None:
    from rapport.care.models import CareRelationship

    CareRelationship.objects.filter(pk=visit.relationship_id).update(status="ended")
    client = signed_in(client_a)

    async def body() -> None:
        assert await closed_at_once(visit, client) == 4404

    run(body)


def test_an_expired_browser_session_closes_the_room_socket(visit: Visit, client_a: User) -> None:
    client = signed_in(client_a)
    idle = timedelta(seconds=settings.SESSION_IDLE_TIMEOUT + 60)

    async def body() -> None:
        c, ok, _ = await open_socket(visit, client)
        assert ok
        await receive(c)
        with time_machine.travel(timezone.now() + idle):
            await send(c, {"type": "ping"})
            assert (await c.receive_output(timeout=5))["code"] == 4001
            _socket, connected, _code = await open_socket(visit, client)
            assert not connected

    run(body)


def test_chat_seen_live_in_the_room_is_not_unread_in_messages(
    visit: Visit, therapist_x: User, client_a: User
) -> None:
    """A chat line shown live to the other person in the room counts as read for them; one they
    could not see (away from the room) and messages from before the session stay unread."""
    from rapport.messaging.access import conversation_for
    from rapport.messaging.services import send_message, total_unread

    therapist, client = signed_in(therapist_x), signed_in(client_a)
    conversation = conversation_for(visit.relationship)
    send_message(therapist_x, conversation.uid, uuid.uuid4(), "See you at four.")

    async def say(frm: WebsocketCommunicator, to: WebsocketCommunicator, text: str) -> None:
        await send(frm, {"type": "chat", "id": str(uuid.uuid4()), "text": text})
        await receive_until(frm, "chat_ack")
        while (await receive_until(to, "chat"))["text"] != text:
            pass  # the echo of a line of their own

    async def body() -> None:
        t, c = await in_call(visit, therapist, client)
        await say(c, t, "Hello")
        await say(t, c, "Hello, how has the week been?")
        await say(c, t, "Better, thanks")
        await c.disconnect()  # the client's connection drops for a moment
        await send(t, {"type": "chat", "id": str(uuid.uuid4()), "text": "Are you there?"})
        await receive_until(t, "chat_ack")
        await t.disconnect()

    run(body)
    assert total_unread(therapist_x) == 0
    # The message from before the session and the line typed while the client was away.
    assert total_unread(client_a) == 2
    inbox = signed_in(therapist_x).get("/messages/").content.decode()
    assert 'data-count="0"' in inbox


class CrashingRoom(VisitConsumer):
    """The room with a handler that fails, as a bug or a broken database would make it."""

    async def on_ping(self, fields: dict[str, Any]) -> None:
        raise RuntimeError("a bug")


def test_a_failing_handler_closes_the_socket_and_its_cleanup_still_runs(
    visit: Visit, therapist_x: User, client_a: User
) -> None:
    """The waiting client's socket fails: it is closed (1011), and the therapist no longer sees
    the client "present, waiting" once the server reports the close."""
    crashing = SiteOriginValidator(
        AuthMiddlewareStack(URLRouter([path("ws/visits/<uuid:visit_id>/", CrashingRoom.as_asgi())]))
    )
    therapist, client = signed_in(therapist_x), signed_in(client_a)

    async def body() -> None:
        t, ok, _ = await open_socket(visit, therapist)
        assert ok
        await receive(t)
        c = WebsocketCommunicator(crashing, f"/ws/visits/{visit.uid}/", headers=headers(client))
        assert (await c.connect(timeout=5))[0]
        assert (await receive(c))["you"]["state"] == "waiting"
        assert (await receive_until(t, "peer"))["state"] == "waiting"
        await send(c, {"type": "ping"})
        output = await c.receive_output(timeout=5)
        while output["type"] == "websocket.send":  # frames already on their way (Redis)
            output = await c.receive_output(timeout=5)
        assert output == {"type": "websocket.close", "code": 1011}
        await c.disconnect()  # what the ASGI server sends once the socket is closed
        left = await receive_until(t, "peer")
        assert (left["present"], left["state"]) == (False, "away")
        await t.disconnect()

    run(body)
    visit.refresh_from_db()
    assert visit.client_channel == ""


def test_a_chat_id_used_for_another_text_is_refused(
    visit: Visit, therapist_x: User, client_a: User
) -> None:
    therapist, client = signed_in(therapist_x), signed_in(client_a)

    async def body() -> None:
        t, c = await in_call(visit, therapist, client)
        ident = str(uuid.uuid4())
        await send(c, {"type": "chat", "id": ident, "text": "hello"})
        assert (await receive_until(c, "chat_ack"))["id"] == ident
        await send(c, {"type": "chat", "id": ident, "text": "goodbye"})
        refused = await receive_until(c, "error")
        assert refused == {
            "type": "error",
            "error": "this id was already used for another message",
            "ref": "chat",
        }
        await t.disconnect()
        await c.disconnect()

    run(body)
    assert list(Message.objects.values_list("body", flat=True)) == ["hello"]


def test_call_recoveries_are_counted_for_metrics(
    visit: Visit, therapist_x: User, client_a: User
) -> None:
    from prometheus_client import REGISTRY

    def count(phase: str) -> float:
        found = REGISTRY.get_sample_value("rapport_call_recoveries_total", {"phase": phase})
        return found or 0.0

    before = {phase: count(phase) for phase in ("started", "completed", "failed")}
    therapist, client = signed_in(therapist_x), signed_in(client_a)

    async def body() -> None:
        t, c = await in_call(visit, therapist, client)
        await send(c, {"type": "reconnect", "phase": "started", "cause": "network_change"})
        await send(c, {"type": "reconnect", "phase": "completed", "cause": "network_change"})
        await send(t, {"type": "reconnect", "phase": "started", "cause": "socket_dropped"})
        await send(t, {"type": "reconnect", "phase": "started", "cause": "media_lost"})
        lost = {"lost_ms": 12_345, "ice_restarts": 2}
        await send(t, {"type": "reconnect", "phase": "completed", "cause": "media_lost", **lost})
        await send(t, {"type": "ping"})
        await receive_until(t, "pong")
        await send(c, {"type": "ping"})
        await receive_until(c, "pong")
        await t.disconnect()
        await c.disconnect()

    run(body)
    after = {phase: count(phase) - before[phase] for phase in before}
    assert after == {"started": 3, "completed": 2, "failed": 0}
    # The longest causes are kept whole on the visit's timeline (PostgreSQL refuses a longer
    # value than its column holds, which once closed the socket).
    reasons = VisitEvent.objects.filter(visit=visit, kind=EventKind.RECONNECTING)
    assert sorted(reasons.values_list("reason", flat=True)) == [
        "media_lost",
        "network_change",
        "socket_dropped",
    ]
    # A media loss's end says how long no media arrived and the ICE restarts it took.
    back = VisitEvent.objects.get(visit=visit, kind=EventKind.RECONNECTED, reason="media_lost")
    assert (back.detail, back.seconds) == ("no media for 12.3 s, 2 ICE restarts", 12.345)
