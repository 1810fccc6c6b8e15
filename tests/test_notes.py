"""Progress and psychotherapy notes: facts from the session, drafts, sign and lock (in the
service and in the database), addenda, releases, supervision and co-signature, late notes."""

from __future__ import annotations

import json
from datetime import timedelta
from decimal import Decimal

import pytest
import time_machine
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone

from rapport.accounts.models import Practice, User
from rapport.audit.models import AuditEvent
from rapport.audit.services import Action
from rapport.notes import services
from rapport.notes.access import access_note, awaiting_cosignature
from rapport.notes.models import Addendum, CoSignature, Note, NoteKind, Release
from rapport.notes.waiting import waiting_notes
from tests.conftest import make_user, signed_in
from tests.notes_data import SOAP, ended_session, signed_note


def test_a_note_for_a_session_starts_with_its_facts(therapist_x: User, client_a: User) -> None:
    visit = ended_session(therapist_x, client_a)
    note, created = services.start_for_visit(therapist_x, visit)
    assert created
    assert note.date_of_service == timezone.localdate(visit.started_at)
    assert (note.started_at, note.ended_at) == (visit.started_at, visit.ended_at)
    assert (note.minutes_video, note.minutes_audio, note.minutes_text) == (
        Decimal("20.0"),
        Decimal("0.0"),
        Decimal("25.0"),
    )
    assert note.client_location == "Home, Leeds"
    assert note.attendees == "Xena Therapist, Alice Client"
    assert (note.template_key, note.template_version) == ("soap", 1)
    # Asking again opens the same note.
    again, created = services.start_for_visit(therapist_x, visit)
    assert again.pk == note.pk and not created


def test_the_content_is_encrypted_at_rest(therapist_x: User, client_a: User) -> None:
    from django.db import connection

    note = signed_note(therapist_x, client_a)
    with connection.cursor() as cursor:
        cursor.execute("SELECT content, client_location FROM notes_note WHERE id = %s", [note.pk])
        content, location = cursor.fetchone()
    assert "Slept better" not in content and "Leeds" not in location


def test_signing_needs_the_required_sections(therapist_x: User, client_a: User) -> None:
    visit = ended_session(therapist_x, client_a)
    note, _created = services.start_for_visit(therapist_x, visit)
    services.save_draft(note.pk, therapist_x, {"subjective": "Tired."})
    with pytest.raises(services.NoteError, match="Objective, Assessment, Plan"):
        services.sign(note.pk, therapist_x)
    assert not Note.objects.get(pk=note.pk).is_signed


def test_a_signed_note_refuses_every_change_in_the_service(
    therapist_x: User, client_a: User
) -> None:
    note = signed_note(therapist_x, client_a)
    assert note.signed_by == therapist_x and note.signed_at is not None
    with pytest.raises(services.NoteError, match="signed and can no longer change"):
        services.save_draft(note.pk, therapist_x, {"plan": "Changed."})
    with pytest.raises(services.NoteError, match="signed and can no longer change"):
        services.sign(note.pk, therapist_x)
    assert services.sections_of(Note.objects.get(pk=note.pk))[3]["text"] == "Continue weekly."


def test_the_database_refuses_to_change_or_delete_a_signed_note(
    therapist_x: User, client_a: User
) -> None:
    note = signed_note(therapist_x, client_a)
    with pytest.raises(IntegrityError, match="never change"), transaction.atomic():
        Note.objects.filter(pk=note.pk).update(attendees="Someone else")
    with pytest.raises(IntegrityError, match="never change"), transaction.atomic():
        Note.objects.filter(pk=note.pk).update(status="draft", signed_at=None, signed_by=None)
    with pytest.raises(IntegrityError, match="never change"), transaction.atomic():
        Note.objects.filter(pk=note.pk).delete()
    assert Note.objects.get(pk=note.pk).attendees == "Xena Therapist, Alice Client"


def test_a_draft_may_still_change_and_be_deleted_in_the_database(
    therapist_x: User, client_a: User
) -> None:
    visit = ended_session(therapist_x, client_a)
    note, _created = services.start_for_visit(therapist_x, visit)
    assert Note.objects.filter(pk=note.pk).update(attendees="X") == 1
    assert Note.objects.filter(pk=note.pk).delete()[0] == 1


def test_addenda_are_signed_timestamped_and_immutable(therapist_x: User, client_a: User) -> None:
    visit = ended_session(therapist_x, client_a)
    draft, _created = services.start_for_visit(therapist_x, visit)
    with pytest.raises(services.NoteError, match="addenda are for signed notes"):
        services.add_addendum(draft.pk, therapist_x, "Too early.")
    services.save_draft(draft.pk, therapist_x, SOAP)
    note = services.sign(draft.pk, therapist_x)
    with pytest.raises(services.NoteError, match="Write the addendum"):
        services.add_addendum(note.pk, therapist_x, "   ")
    addendum = services.add_addendum(note.pk, therapist_x, "Client called to add: slept 7 h.")
    assert addendum.signed_at is not None and addendum.author == therapist_x
    with pytest.raises(IntegrityError, match="never change"), transaction.atomic():
        Addendum.objects.filter(pk=addendum.pk).update(text="Rewritten")
    with pytest.raises(IntegrityError, match="never change"), transaction.atomic():
        Addendum.objects.filter(pk=addendum.pk).delete()
    assert AuditEvent.objects.filter(action=Action.NOTE_ADDENDUM, object_id=str(note.pk)).exists()


def test_only_the_author_writes_and_signs(
    therapist_x: User, client_a: User, therapist_y: User
) -> None:
    visit = ended_session(therapist_x, client_a)
    note, _created = services.start_for_visit(therapist_x, visit)
    with pytest.raises(services.NoteError):
        services.save_draft(note.pk, therapist_y, SOAP)
    with pytest.raises(services.NoteError):
        services.start_for_visit(therapist_y, visit)


def test_a_psychotherapy_note_is_its_authors_alone(
    therapist_x: User, client_a: User, admin: User
) -> None:
    from rapport.care.models import CareRelationship, EmergencyAccess

    other = make_user("other.therapist@example.test", "therapist", "Olga Other")
    CareRelationship.objects.create(therapist=other, client=client_a)
    EmergencyAccess.objects.create(
        admin=admin,
        client=client_a,
        reason="Client unreachable, at risk",
        expires_at=timezone.now() + timedelta(hours=1),
    )
    note = signed_note(therapist_x, client_a, kind=NoteKind.PSYCHOTHERAPY)
    assert access_note(therapist_x, note.pk)[1] == "author"
    from django.http import Http404

    for outsider in (other, admin, client_a):
        with pytest.raises(Http404):
            access_note(outsider, note.pk)
    # Its events are filed under no client: "Who saw my record" never hints at it.
    assert not AuditEvent.objects.filter(client=client_a, object_type="Note").exists()
    # Released with a reason, recorded, once.
    with pytest.raises(services.NoteError):
        services.release(note.pk, other, "Because")
    released = services.release(note.pk, therapist_x, "Client's written authorisation")
    with pytest.raises(services.NoteError, match="already released"):
        services.release(note.pk, therapist_x, "Again")
    with pytest.raises(IntegrityError, match="never change"), transaction.atomic():
        Release.objects.filter(pk=released.pk).delete()


def test_a_supervisor_cosigns_a_supervisees_progress_notes(
    therapist_x: User, client_a: User, admin: User
) -> None:
    supervisor = make_user("super.visor@example.test", "therapist", "Sue Pervisor")
    row = services.start_supervision(admin, therapist_x, supervisor)
    with pytest.raises(services.NoteError, match="already has a supervisor"):
        services.start_supervision(admin, therapist_x, supervisor)
    note = signed_note(therapist_x, client_a)
    process = signed_note(therapist_x, client_a, kind=NoteKind.PSYCHOTHERAPY)
    assert list(awaiting_cosignature(supervisor)) == [note]
    assert access_note(supervisor, note.pk)[1] == "supervisor"
    from django.http import Http404

    with pytest.raises(Http404):
        access_note(supervisor, process.pk)
    with pytest.raises(services.NoteError):
        services.cosign(process.pk, supervisor)
    page = signed_in(supervisor).get(reverse("note", args=[note.pk]))
    assert page.status_code == 200 and b"Co-sign this note" in page.content
    assert signed_in(supervisor).post(reverse("note_cosign", args=[note.pk])).status_code == 302
    assert CoSignature.objects.get(note=note).supervisor == supervisor
    assert list(awaiting_cosignature(supervisor)) == []
    with pytest.raises(services.NoteError, match="already co-signed"):
        services.cosign(note.pk, supervisor)
    with pytest.raises(IntegrityError, match="never change"), transaction.atomic():
        CoSignature.objects.filter(note=note).delete()
    services.end_supervision(admin, row.pk)
    with pytest.raises(Http404):
        access_note(supervisor, note.pk)


def test_late_notes_and_sessions_without_a_note_wait_on_the_home_page(
    therapist_x: User, client_a: User
) -> None:
    Practice.objects.update_or_create(id=1, defaults={"late_note_hours": 24})
    now = timezone.now()
    old = ended_session(therapist_x, client_a, at=now - timedelta(hours=30))
    services.start_for_visit(therapist_x, old)
    ended_session(therapist_x, client_a, at=now - timedelta(hours=2))
    waiting = waiting_notes(therapist_x, now=now)
    assert [(w.has_draft, w.hours_late) for w in waiting] == [(True, 5), (False, 0)]
    home = signed_in(therapist_x).get(reverse("home")).content.decode()
    assert "draft not signed" in home and "5 hours late" in home
    assert "session without a note" in home


def test_the_timeline_offers_the_note_and_the_form_has_the_facts(
    therapist_x: User, client_a: User
) -> None:
    visit = ended_session(therapist_x, client_a)
    browser = signed_in(therapist_x)
    timeline = browser.get(reverse("visit_timeline", args=[visit.uid])).content.decode()
    url = reverse("visit_note", args=[visit.uid])
    assert f'href="{url}"' in timeline and "Write the note" in timeline
    page = browser.get(url)
    assert page.status_code == 200
    html = page.content.decode()
    assert 'value="Home, Leeds"' in html and "Xena Therapist, Alice Client" in html
    assert "20.0" in html and "25.0" in html
    assert Note.objects.count() == 0  # opening the form writes nothing
    saved = browser.post(
        url, {"s-subjective": "Tired.", "action": "save"}, HTTP_ACCEPT="application/json"
    )
    assert saved.status_code == 200 and saved.json()["message"].startswith("Saved ")
    note = Note.objects.get()
    assert saved.json()["url"] == reverse("note", args=[note.pk])
    assert browser.get(url)["Location"] == reverse("note", args=[note.pk])


def test_signing_with_a_missing_section_keeps_what_was_typed(
    therapist_x: User, client_a: User
) -> None:
    visit = ended_session(therapist_x, client_a)
    browser = signed_in(therapist_x)
    browser.post(reverse("visit_note", args=[visit.uid]), {"action": "save"})
    note = Note.objects.get()
    response = browser.post(
        reverse("note", args=[note.pk]),
        {"s-subjective": "Said a lot.", "s-plan": "Weekly.", "action": "sign"},
    )
    assert response.status_code == 400
    html = response.content.decode()
    assert "error-summary" in html and "Objective, Assessment" in html
    assert "Said a lot." in html and "Weekly." in html
    assert not Note.objects.get().is_signed


def test_signing_through_the_page_locks_and_pulls_in_the_measures(
    therapist_x: User, client_a: User
) -> None:
    from rapport.measures.answers import submit
    from rapport.measures.assignments import assign, due_tasks
    from rapport.measures.models import Instrument

    assign(therapist_x, client_a, Instrument.objects.get(key="phq9", builtin=True), "once")
    submit(due_tasks(client_a)[0], client_a, {str(n): 1 for n in range(1, 10)} | {"9": 0})
    visit = ended_session(therapist_x, client_a)
    browser = signed_in(therapist_x)
    browser.post(reverse("visit_note", args=[visit.uid]), {"action": "save"})
    note = Note.objects.get()
    fields = {f"s-{k}": v for k, v in SOAP.items()}
    response = browser.post(
        reverse("note", args=[note.pk]), {**fields, "include_measures": "on", "action": "sign"}
    )
    assert response.status_code == 302
    note = Note.objects.get()
    assert note.is_signed
    measures = json.loads(note.measures)
    assert measures[0]["instrument"] == "PHQ-9" and measures[0]["score"] == "8"
    page = browser.get(reverse("note", args=[note.pk])).content.decode()
    assert "Slept better this week." in page and "PHQ-9" in page and "Sign and lock" not in page
    # A POST to the signed note changes nothing.
    refused = browser.post(reverse("note", args=[note.pk]), {**fields, "s-plan": "X"})
    assert refused.status_code == 409
    bad = browser.post(reverse("note_addendum", args=[note.pk]), {"text": ""})
    assert bad.status_code == 400 and b"error-summary" in bad.content


def test_bad_template_json_is_explained_and_kept(admin: User) -> None:
    browser = signed_in(admin)
    source = (
        '{"key": "Bad Key", "version": 0, "sections": [{"key": "a"}, {"key": "a", "label": 3}],'
        ' "x": 1}'
    )
    response = browser.post(reverse("note_templates"), {"definition": source})
    assert response.status_code == 400
    html = response.content.decode()
    for words in (
        "Unknown field",
        "“key” must be",
        "“version” must be",
        "“name” is missing",
        "used twice",
        "“label” is missing",
    ):
        assert words in html, words
    assert "Bad Key" in html  # what was pasted is still there
    good = json.dumps(
        {
            "key": "girp",
            "version": 1,
            "name": "GIRP",
            "sections": [{"key": "goals", "label": "Goals", "help": "", "required": True}],
        }
    )
    assert browser.post(reverse("note_templates"), {"definition": good}).status_code == 302
    from rapport.notes.note_templates import template_for

    template = template_for("girp")
    assert template is not None and template.sections[0].label == "Goals"


def test_bad_supervision_input_is_refused_and_kept(admin: User, therapist_x: User) -> None:
    browser = signed_in(admin)
    response = browser.post(
        reverse("supervision"), {"supervisee": therapist_x.pk, "supervisor": therapist_x.pk}
    )
    assert response.status_code == 400 and b"cannot supervise themselves" in response.content
    assert f'value="{therapist_x.pk}" selected'.encode() in response.content


def test_time_moves_for_the_late_limit(therapist_x: User, client_a: User) -> None:
    visit = ended_session(therapist_x, client_a)
    services.start_for_visit(therapist_x, visit)
    assert visit.ended_at is not None
    with time_machine.travel(visit.ended_at + timedelta(hours=80), tick=False):
        (waiting,) = waiting_notes(therapist_x)
    assert waiting.hours_late == 8


def test_key_rotation_rewrites_signed_notes_but_nothing_else_may(
    therapist_x: User, client_a: User, settings: object
) -> None:
    from django.conf import settings as conf
    from django.test import override_settings

    from rapport.core.encryption import reset_key_ring, rotate_keys
    from rapport.lib.crypto import generate_key

    old = conf.RAPPORT_ENCRYPTION_KEYS[0]
    with override_settings(RAPPORT_ENCRYPTION_KEYS=[old]):
        reset_key_ring()
        note = signed_note(therapist_x, client_a)
        services.add_addendum(note.pk, therapist_x, "Later.")
    with override_settings(RAPPORT_ENCRYPTION_KEYS=[generate_key(), old]):
        reset_key_ring()
        changed = rotate_keys()
        assert changed["notes.Note.content"] == 1 and changed["notes.Addendum.text"] == 1
        assert services.sections_of(Note.objects.get(pk=note.pk))[0]["text"] == SOAP["subjective"]
        with pytest.raises(IntegrityError, match="never change"), transaction.atomic():
            Note.objects.filter(pk=note.pk).update(content="")
    reset_key_ring()


def test_a_contact_outside_a_session_gets_a_note_and_bad_input_is_kept(
    therapist_x: User, client_a: User
) -> None:
    browser = signed_in(therapist_x)
    url = reverse("contact_note", args=[client_a.pk])
    assert browser.get(url).status_code == 200
    bad = browser.post(
        url,
        {
            "contact": "phone",
            "date_of_service": "3100-01-01",
            "kind": "progress",
            "template": "dap",
        },
    )
    assert bad.status_code == 400 and b"error-summary" in bad.content
    assert b'value="phone" required id="id_contact_0" checked' in bad.content
    assert b'value="dap" selected' in bad.content
    good = browser.post(
        url,
        {
            "contact": "no_show",
            "date_of_service": "2026-01-05",
            "kind": "progress",
            "template": "dap",
        },
    )
    note = Note.objects.get()
    assert good["Location"] == reverse("note", args=[note.pk])
    assert (note.contact, note.visit, note.template_key) == ("no_show", None, "dap")
    assert str(note.date_of_service) == "2026-01-05"


def test_a_release_needs_a_reason_and_keeps_the_page(therapist_x: User, client_a: User) -> None:
    note = signed_note(therapist_x, client_a, kind=NoteKind.PSYCHOTHERAPY)
    browser = signed_in(therapist_x)
    bad = browser.post(reverse("note_release", args=[note.pk]), {"reason": "  "})
    assert bad.status_code == 400 and b"error-summary" in bad.content
    assert not Release.objects.exists()
    ok = browser.post(reverse("note_release", args=[note.pk]), {"reason": "Signed authorisation"})
    assert ok.status_code == 302 and Release.objects.get().released_by == therapist_x
