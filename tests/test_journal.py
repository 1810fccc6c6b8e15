"""The private journal and the mood check-in. The guarantee: an entry the client did not share
never reaches a therapist, through the service, any page (the shared list, the progress page's
mood chart, the record timeline), the record exports (PDF and FHIR) or a socket. Also: private
by default, sharing audited without words, encryption at rest, and bad input."""

from __future__ import annotations

import io
import json
from datetime import time, timedelta
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from django.db import connection
from django.http import Http404
from django.urls import reverse
from django.utils import timezone
from fhir.resources.R4B.bundle import Bundle
from pypdf import PdfReader

from rapport.accounts.models import User
from rapport.asgi import application
from rapport.audit.models import AuditEvent
from rapport.audit.services import Action
from rapport.care.models import EmergencyAccess
from rapport.core.realtime import publish_to_user
from rapport.journal import services
from rapport.journal.access import own_entries, shared_entries
from rapport.journal.models import JournalEntry, MoodReminder
from rapport.records.timeline import record_entries
from tests.conftest import signed_in
from tests.sockets import run_async, socket_headers

SECRET = "Nobody must read this: PRIVATE-7731"
SECRET_WORDS = "hollow PRIVATE-WORDS"
SHARED = "I want to talk about the weekend SHARED-4410"


@pytest.fixture
def journal(client_a: User) -> dict[str, JournalEntry]:
    """One private entry (mood 1, words, tags, text) and one shared entry (mood 8)."""
    private = services.write_entry(
        client_a, mood=1, mood_words=SECRET_WORDS, tags="PRIVATE-TAG", text=SECRET
    )
    shared = services.write_entry(client_a, mood=8, text=SHARED, shared=True)
    return {"private": private, "shared": shared}


def test_a_new_entry_is_private_unless_the_client_ticks_the_box(client_a: User) -> None:
    client = signed_in(client_a)
    page = client.get(reverse("my_journal")).content.decode()
    assert 'name="shared"' in page and 'name="shared" checked' not in page
    response = client.post(reverse("my_journal"), {"mood": "4", "text": "Just for me"})
    assert response.status_code == 302
    entry = JournalEntry.objects.get(client=client_a)
    assert entry.shared is False and entry.mood == 4
    page = client.get(reverse("my_journal")).content.decode()
    assert "Just for me" in page and "Private" in page


def test_the_service_gives_a_therapist_shared_entries_only(
    journal: dict[str, JournalEntry], therapist_x: User, therapist_y: User, admin: User,
    client_a: User,
) -> None:  # fmt: skip
    _client, how, entries = shared_entries(therapist_x, client_a.pk)
    assert how == "care" and list(entries) == [journal["shared"]]
    EmergencyAccess.objects.create(
        admin=admin, client=client_a, reason="Unreachable", expires_at=timezone.now() + timedelta(1)
    )
    assert list(shared_entries(admin, client_a.pk)[2]) == [journal["shared"]]
    with pytest.raises(Http404):
        shared_entries(therapist_y, client_a.pk)
    with pytest.raises(Http404):
        shared_entries(client_a, client_a.pk)  # the client reads their own through own_entries
    assert set(own_entries(client_a)) == set(journal.values())


def _page(user: User, name: str, *args: Any) -> str:
    response = signed_in(user).get(reverse(name, args=args))
    assert response.status_code == 200, name
    return str(response.content.decode())


def test_no_page_shows_a_therapist_a_private_entry(
    journal: dict[str, JournalEntry], therapist_x: User, client_a: User
) -> None:
    pages = {
        "shared journal": _page(therapist_x, "client_journal", client_a.pk),
        "progress": _page(therapist_x, "client_progress", client_a.pk),
        "record": _page(therapist_x, "client_record", client_a.pk),
        "timeline": _page(therapist_x, "record_timeline", client_a.pk),
    }
    for name, page in pages.items():
        for words in (SECRET, "PRIVATE-WORDS", "PRIVATE-TAG"):
            assert words not in page, name
    assert SHARED in pages["shared journal"]
    # The mood chart beside the measures: the shared check-in only.
    progress = pages["progress"]
    assert 'id="mood"' in progress and "The 1 check-in as a table" in progress
    assert "mood 1 of 10" not in pages["shared journal"]
    assert "Shared journal entry" in pages["timeline"]
    # The client sees both moods on their own progress page, private ones included.
    mine = _page(client_a, "my_progress")
    assert "The 2 check-ins as a table" in mine


def test_the_record_exports_hold_shared_entries_only(
    journal: dict[str, JournalEntry], therapist_x: User, client_a: User
) -> None:
    therapist = signed_in(therapist_x)
    response = therapist.get(reverse("record_export_fhir", args=[client_a.pk]))
    assert response.status_code == 200
    bundle = json.loads(response.content)
    Bundle.model_validate(bundle)
    dumped = json.dumps(bundle)
    assert SHARED in dumped
    for words in (SECRET, "PRIVATE-WORDS", "PRIVATE-TAG"):
        assert words not in dumped
    moods = [
        e["resource"].get("valueInteger")
        for e in bundle["entry"]
        if e["resource"]["resourceType"] == "Observation"
        and e["resource"]["code"].get("coding", [{}])[0].get("code") == "mood"
    ]
    assert moods == [8]

    response = therapist.get(reverse("record_export_pdf", args=[client_a.pk]))
    assert response.status_code == 200
    reader = PdfReader(io.BytesIO(response.content))
    text = " ".join(page.extract_text() for page in reader.pages)
    assert "SHARED-4410" in text and "PRIVATE" not in text

    # Whoever reads the record (the client too), it is the clinical record: shared only.
    for viewer in (therapist_x, client_a):
        details = [
            value
            for entry in record_entries(client_a, viewer=viewer, export=True)
            for _label, value in entry.details
        ]
        assert SHARED in details and SECRET not in details


def test_no_socket_carries_a_journal_entry(therapist_x: User, client_a: User) -> None:
    """The therapist's sockets are open while the client writes private and shared entries:
    nothing arrives before an event published afterwards, the proof the sockets were live."""
    therapist, client = signed_in(therapist_x), signed_in(client_a)

    def write() -> None:
        for data in (
            {"mood": "2", "text": SECRET},
            {"mood": "7", "text": SHARED, "shared": "on"},
        ):
            assert client.post(reverse("my_journal"), data).status_code == 302
        entry = JournalEntry.objects.filter(client=client_a).order_by("pk").first()
        assert entry is not None
        changed = {"mood": "2", "text": SECRET + " again", "shared": "on"}
        assert client.post(reverse("journal_entry", args=[entry.pk]), changed).status_code == 302
        publish_to_user(therapist_x.pk, {"type": "alert", "text": "after the journal"})

    async def drain(socket: WebsocketCommunicator) -> list[dict[str, Any]]:
        frames = []
        while not await socket.receive_nothing(timeout=0.5):
            frames.append(await socket.receive_json_from(timeout=5))
        return frames

    async def body() -> None:
        sockets = []
        for path in ("/ws/events/", "/ws/messages/"):
            socket = WebsocketCommunicator(application, path, headers=socket_headers(therapist))
            connected, _detail = await socket.connect(timeout=5)
            assert connected, path
            sockets.append(socket)
        await drain(sockets[1])  # the messages socket's welcome (unread counts)
        await sync_to_async(write)()
        control = {"type": "alert", "text": "after the journal"}
        heard = [await drain(socket) for socket in sockets]
        assert heard[0] == [control]  # the events socket was live, and heard nothing else
        assert all(frame == control for frame in heard[1])
        for socket in sockets:
            await socket.disconnect()

    run_async(body)
    assert JournalEntry.objects.filter(client=client_a).count() == 2


test_no_socket_carries_a_journal_entry = pytest.mark.django_db(transaction=True)(
    test_no_socket_carries_a_journal_entry
)


def test_sharing_is_audited_without_words_and_private_writing_is_not(client_a: User) -> None:
    private = services.write_entry(client_a, mood=3, text=SECRET)
    assert not AuditEvent.objects.filter(action__startswith="journal.").exists()
    services.change_entry(client_a, private, mood=3, text=SECRET, shared=True)
    services.change_entry(client_a, private, mood=3, text=SECRET, shared=False)
    events = list(AuditEvent.objects.filter(action__startswith="journal.").order_by("sequence"))
    assert [e.action for e in events] == [
        Action.JOURNAL_ENTRY_SHARED,
        Action.JOURNAL_ENTRY_UNSHARED,
    ]
    assert all(e.client_id == client_a.pk for e in events)
    assert "PRIVATE" not in json.dumps([e.detail for e in events])


def test_unsharing_takes_an_entry_back_from_the_therapist(
    journal: dict[str, JournalEntry], therapist_x: User, client_a: User
) -> None:
    client = signed_in(client_a)
    url = reverse("journal_entry", args=[journal["shared"].pk])
    assert client.post(url, {"mood": "8", "text": SHARED}).status_code == 302
    assert SHARED not in _page(therapist_x, "client_journal", client_a.pk)
    assert 'id="mood"' not in _page(therapist_x, "client_progress", client_a.pk)


def test_journal_words_are_encrypted_at_rest(journal: dict[str, JournalEntry]) -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT mood_words, tags, text FROM journal_journalentry")
        raw = " ".join(str(v) for row in cursor.fetchall() for v in row)
    for words in ("PRIVATE-7731", "PRIVATE-WORDS", "PRIVATE-TAG", "SHARED-4410"):
        assert words not in raw


def test_bad_entries_get_clear_errors_and_nothing_typed_is_lost(client_a: User) -> None:
    client = signed_in(client_a)
    response = client.post(reverse("my_journal"), {"mood": "11", "text": "Kept words"})
    page = response.content.decode()
    assert response.status_code == 400
    assert "Select a valid choice" in page and "Kept words" in page
    response = client.post(reverse("my_journal"), {"mood": "", "text": "   "})
    assert response.status_code == 400
    assert "Choose a mood or write something first." in response.content.decode()
    assert not JournalEntry.objects.exists()
    with pytest.raises(services.JournalError, match="from 0 to 10"):
        services.write_entry(client_a, mood=11)


@pytest.mark.django_db(transaction=True)
def test_erasure_removes_homework_and_the_journal(
    journal: dict[str, JournalEntry], therapist_x: User, client_a: User
) -> None:
    from rapport.homework.models import Assignment, Homework
    from rapport.homework.services import assign
    from rapport.records.erasure import destroy, gather

    assign(therapist_x, client_a, exercise="free", title="Call", first_due=timezone.localdate())
    services.set_reminder(client_a, enabled=True, at=time(20))
    plan = gather(client_a)
    assert {JournalEntry, MoodReminder, Assignment, Homework} <= set(plan.rows)
    destroy(plan, "erased-client")
    assert not JournalEntry.objects.exists() and not MoodReminder.objects.exists()
    assert not Assignment.objects.exists() and not Homework.objects.exists()
