"""What a client program written from docs/protocol.md ("Writing a client") relies on, through the
real ASGI application: the list of one's open sessions, everything the room's ``welcome``
carries, and the report of a signaling outage that the call outlived.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.conf import settings
from django.test import Client

from rapport.accounts.models import User
from rapport.visits import services
from rapport.visits.models import EventKind, Visit, VisitEvent
from tests.conftest import signed_in
from tests.test_visit_protocol import (
    drain,
    in_call,
    open_socket,
    receive,
    receive_until,
    run,
    send,
    visit,
)

pytestmark = pytest.mark.django_db(transaction=True)
__all__ = ["visit"]  # the fixture used below

OUTAGE_KINDS = (EventKind.SIGNALING_LOST, EventKind.SIGNALING_BACK)


def outage_lines(visit: Visit) -> list[VisitEvent]:
    return list(VisitEvent.objects.filter(visit=visit, kind__in=OUTAGE_KINDS).order_by("at", "pk"))


def test_open_sessions_tell_each_person_their_visit(
    visit: Visit, therapist_x: User, therapist_y: User, client_a: User, client_b: User, admin: User
) -> None:
    answer = signed_in(client_a).get("/visits/open/")
    assert answer.status_code == 200
    assert answer["Content-Type"] == "application/json"
    (row,) = answer.json()["visits"]
    assert row == {
        "visit": str(visit.uid),
        "role": "client",
        "with": therapist_x.full_name,
        "status": "open",
        "modality": "video",
        "created_at": visit.created_at.isoformat(),
        "check": f"/visits/{visit.uid}/check/",
        "room": f"/visits/{visit.uid}/",
        "socket": f"/ws/visits/{visit.uid}/",
        "check_in": f"/visits/{visit.uid}/check-in/",
        "checked_in": True,
    }
    (row,) = signed_in(therapist_x).get("/visits/open/").json()["visits"]
    assert row["visit"] == str(visit.uid) and row["role"] == "therapist"
    assert row["with"] == client_a.full_name and "check_in" not in row
    for outsider in (client_b, therapist_y, admin):
        assert signed_in(outsider).get("/visits/open/").json() == {"visits": []}
    # An ended session is no longer open.
    services.end(visit.pk, therapist_x)
    assert signed_in(client_a).get("/visits/open/").json() == {"visits": []}
    # Nobody signed in: sent to sign in, as every page; only GET.
    anonymous = Client().get("/visits/open/")
    assert anonymous.status_code == 302 and anonymous["Location"].startswith("/accounts/login/")
    assert signed_in(client_a).post("/visits/open/").status_code == 405


def test_welcome_carries_what_a_client_needs(
    visit: Visit, therapist_x: User, client_a: User
) -> None:
    browser = signed_in(client_a)

    async def body() -> None:
        c, ok, _ = await open_socket(visit, browser)
        assert ok
        welcome = await receive(c)
        assert welcome["visit"] == str(visit.uid)
        assert welcome["ice_transport_policy"] == settings.RAPPORT_ICE_TRANSPORT_POLICY
        assert welcome["quality"] == settings.RAPPORT_QUALITY_POLICY
        assert welcome["modalities"] == ["video", "audio", "text"]
        assert welcome["rejoin_grace_seconds"] == settings.RAPPORT_VISIT_REJOIN_GRACE_SECONDS
        assert isinstance(welcome["ice_servers"], list)
        await c.disconnect()

    run(body)


def test_an_outage_of_both_sockets_is_one_stretch_on_the_timeline(
    visit: Visit, therapist_x: User, client_a: User
) -> None:
    therapist, client = signed_in(therapist_x), signed_in(client_a)

    async def body() -> None:
        # A call, then the server "dies": its sockets never say goodbye, and each page opens a
        # new one that takes over from the dead one.
        await in_call(visit, therapist, client)
        t, ok, _ = await open_socket(visit, therapist)
        assert ok
        await receive_until(t, "welcome")
        c, ok, _ = await open_socket(visit, client)
        assert ok
        await receive_until(c, "welcome")
        await drain(t)
        await drain(c)
        await send(t, {"type": "signaling_outage", "down_ms": 8000})
        await send(c, {"type": "signaling_outage", "down_ms": 8000})
        # Once per socket.
        await send(c, {"type": "signaling_outage", "down_ms": 8000})
        assert (await receive_until(c, "error"))["ref"] == "signaling_outage"
        await t.disconnect()
        await c.disconnect()

    run(body)
    lost, back = outage_lines(visit)
    assert (lost.kind, back.kind) == (EventKind.SIGNALING_LOST, EventKind.SIGNALING_BACK)
    assert lost.reason == back.reason == "both"
    assert lost.actor is None and back.actor is None
    # Both were down from the later start to the earlier end: a little under 8 s.
    both_down = (back.at - lost.at).total_seconds()
    assert 6 < both_down <= 8, both_down
    assert back.detail == f"{both_down:.1f} s"

    # The timeline shows it in words.
    page = signed_in(therapist_x).get(f"/visits/{visit.uid}/timeline/").content.decode()
    assert "Signaling lost, media kept flowing" in page
    assert "both sides · " + back.detail in page


def test_one_sides_outage_and_reports_that_are_refused(
    visit: Visit, therapist_x: User, client_a: User
) -> None:
    therapist, client = signed_in(therapist_x), signed_in(client_a)

    async def body() -> None:
        t, c = await in_call(visit, therapist, client)
        # A first socket has no earlier one: nothing to report.
        await send(t, {"type": "signaling_outage", "down_ms": 1000})
        error = await receive_until(t, "error")
        assert error == {
            "type": "error",
            "error": "This socket has no earlier outage to report.",
            "ref": "signaling_outage",
        }
        for bad in (0, -5, "800", 1.5, True, 86_400_001, None):
            await send(t, {"type": "signaling_outage", "down_ms": bad})
            error = await receive_until(t, "error")
            assert error["error"] == "down_ms must be a whole number from 1 to 86400000", bad
        await send(t, {"type": "signaling_outage", "down_ms": 10, "extra": 1})
        assert (await receive_until(t, "error"))["error"] == "unknown field extra"
        # Only the client's socket drops and comes back (its own network): the client's side.
        await c.disconnect()
        c, ok, _ = await open_socket(visit, client)
        assert ok
        await receive_until(c, "welcome")
        await send(c, {"type": "signaling_outage", "down_ms": 2500})
        await send(c, {"type": "ping", "id": 1})
        assert (await receive_until(c, "pong"))["id"] == 1
        await t.disconnect()
        await c.disconnect()

    run(body)
    lost, back = outage_lines(visit)
    assert lost.reason == back.reason == "client"
    assert lost.actor == client_a
    assert back.at - lost.at == timedelta(milliseconds=2500)
    assert back.detail == "2.5 s"


def test_a_waiting_client_cannot_report_an_outage(visit: Visit, client_a: User) -> None:
    browser = signed_in(client_a)

    async def body() -> None:
        c, ok, _ = await open_socket(visit, browser)
        assert ok
        await receive(c)
        await c.disconnect()
        c, ok, _ = await open_socket(visit, browser)
        assert ok
        await receive(c)
        await send(c, {"type": "signaling_outage", "down_ms": 1000})
        error = await receive_until(c, "error")
        assert error["error"] == "you are in the waiting room"
        await c.disconnect()

    run(body)
    assert outage_lines(visit) == []
