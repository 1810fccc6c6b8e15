"""Notes in the client's record: who sees which, a fixed number of queries, FHIR resources."""

from __future__ import annotations

import base64
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone
from fhir.resources.R4B.documentreference import DocumentReference

from rapport.accounts.models import User
from rapport.audit.labels import action_label, client_label
from rapport.audit.models import AuditEvent
from rapport.care.models import CareRelationship, EmergencyAccess
from rapport.core.record import fhir_reference
from rapport.notes import record, services
from rapport.notes.models import NoteKind
from tests.conftest import make_user
from tests.notes_data import ended_session, signed_note


@pytest.fixture
def notes(therapist_x: User, client_a: User) -> dict[str, Any]:
    progress = signed_note(therapist_x, client_a)
    services.add_addendum(progress.pk, therapist_x, "Added later: slept 7 h.")
    process = signed_note(therapist_x, client_a, kind=NoteKind.PSYCHOTHERAPY)
    draft_visit = ended_session(therapist_x, client_a)
    draft, _created = services.start_for_visit(therapist_x, draft_visit)
    return {"progress": progress, "process": process, "draft": draft}


def titles(entries: list[Any]) -> list[str]:
    return [e.title for e in entries]


def test_the_author_sees_every_note_on_the_timeline(
    notes: dict[str, Any], therapist_x: User, client_a: User
) -> None:
    entries = record.entries(client_a, viewer=therapist_x)
    assert sorted(e.status for e in entries) == ["draft", "signed", "signed"]
    assert all(e.details == () for e in entries), "the timeline reads no note's words"
    exported = record.entries(client_a, viewer=therapist_x, export=True)
    progress = next(
        e for e in exported if e.title == "Progress note (SOAP)" and e.status == "signed"
    )
    assert ("Subjective", "Slept better this week.") in progress.details
    assert any("Added later" in text for _label, text in progress.details)
    assert "Psychotherapy note (SOAP)" in titles(entries)


def test_psychotherapy_notes_stay_out_of_every_other_view_and_export(
    notes: dict[str, Any], therapist_x: User, client_a: User, admin: User
) -> None:
    other = make_user("other.t@example.test", "therapist", "Olga Other")
    CareRelationship.objects.create(therapist=other, client=client_a)
    EmergencyAccess.objects.create(
        admin=admin,
        client=client_a,
        reason="Unreachable",
        expires_at=timezone.now() + timedelta(hours=1),
    )
    views = {
        "author export": record.entries(client_a, viewer=therapist_x, export=True),
        "other therapist": record.entries(client_a, viewer=other),
        "break glass": record.entries(client_a, viewer=admin),
        "client": record.entries(client_a, viewer=client_a),
        "client export": record.entries(client_a, viewer=client_a, export=True),
    }
    for name, entries in views.items():
        assert all("Psychotherapy" not in t for t in titles(entries)), name
        assert all(e.status != "draft" for e in entries) or name in {
            "other therapist",
            "break glass",
        }
    assert titles(views["client"]) == ["Progress note (SOAP)"]
    for viewer in (therapist_x, other, admin, client_a):
        resources = record.fhir_resources(client_a, viewer=viewer)
        assert len(resources) == 1, viewer
        text = base64.b64decode(resources[0]["content"][0]["attachment"]["data"]).decode()
        assert "Slept better" in text and "Psychotherapy" not in text
    # Nothing the audit trail shows anyone names a psychotherapy note.
    for event in AuditEvent.objects.all():
        assert "sychotherapy" not in action_label(event.action)
        assert "sychotherapy" not in client_label(event.action, event.detail.get("purpose", ""))
        assert "sychotherapy" not in str(event.detail)
    # Released: now in the author's export.
    services.release(notes["process"].pk, therapist_x, "Client's written authorisation")
    exported = record.entries(client_a, viewer=therapist_x, export=True)
    assert "Psychotherapy note (SOAP)" in titles(exported)
    assert "Psychotherapy note (SOAP)" not in titles(record.entries(client_a, viewer=other))


def test_the_fhir_resources_validate_and_point_at_the_encounter(
    notes: dict[str, Any], therapist_x: User, client_a: User
) -> None:
    (resource,) = record.fhir_resources(client_a, viewer=therapist_x)
    document = DocumentReference.model_validate(resource)
    assert document.subject is not None and document.context is not None
    assert document.context.encounter is not None
    assert document.subject.reference == fhir_reference("patient", client_a.pk)
    assert document.context.encounter[0].reference == fhir_reference(
        "encounter", notes["progress"].visit_id
    )
    assert document.docStatus == "final"


def test_supervised_notes_read_as_awaiting_cosignature(
    notes: dict[str, Any], therapist_x: User, client_a: User, admin: User
) -> None:
    supervisor = make_user("sup@example.test", "therapist", "Sue Pervisor")
    services.start_supervision(admin, therapist_x, supervisor)
    statuses = {e.status for e in record.entries(client_a, viewer=therapist_x)}
    assert "signed, awaiting co-signature" in statuses
    services.cosign(notes["progress"].pk, supervisor)
    statuses = {e.status for e in record.entries(client_a, viewer=therapist_x)}
    assert "signed, co-signed" in statuses


def test_a_fixed_number_of_queries_however_many_notes(
    therapist_x: User, client_a: User, django_assert_num_queries: Any
) -> None:
    def count() -> int:
        from django.db import connection
        from django.test.utils import CaptureQueriesContext

        with CaptureQueriesContext(connection) as queries:
            record.entries(client_a, viewer=therapist_x)
            record.fhir_resources(client_a, viewer=therapist_x)
        return len(queries)

    signed_note(therapist_x, client_a)
    few = count()
    for _ in range(4):
        note = signed_note(therapist_x, client_a)
        services.add_addendum(note.pk, therapist_x, "More.")
    assert count() == few
    # The timeline: the current supervisions, the reach check, the notes (with whether they are
    # co-signed and how many addenda they have).
    with django_assert_num_queries(3):
        record.entries(client_a, viewer=therapist_x)
    # An export: the same, and the addenda themselves.
    with django_assert_num_queries(4):
        record.entries(client_a, viewer=therapist_x, export=True)
