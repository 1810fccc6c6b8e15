"""Retention and erasure: what an erasure removes, that it leaves no trace of the client (a
canary search of every table, decrypted values and the data folder's files), that the audit
chain still verifies, and the two-admin / seven-day-hold paths to it."""

from __future__ import annotations

import csv
import io
import os
import uuid
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
import time_machine
from django.apps import apps
from django.conf import settings
from django.core.management import call_command
from django.db import IntegrityError, connection, connections, transaction
from django.utils import timezone

from rapport.accounts.models import Practice, User
from rapport.audit.models import AuditEvent
from rapport.audit.services import Action, record, verify_trail
from rapport.care.models import CareRelationship, ClientProfile
from rapport.messaging.attachments import attachments_dir
from rapport.messaging.models import Attachment
from rapport.notes.models import Addendum, Note, erasing
from rapport.records import erasure_requests
from rapport.records.erasure import gather
from rapport.records.erasure_requests import ErasureError
from rapport.records.models import Erasure
from rapport.records.retention import overdue_records
from tests.conftest import make_user, signed_in
from tests.erasure_data import seed_client_everywhere, unlock_signed_notes
from tests.mail import Inbox, body_of
from tests.worker import run_task_worker


def new_canary() -> str:
    return f"canary{uuid.uuid4().hex[:12]}"


def end_care(client: User) -> None:
    CareRelationship.objects.filter(client=client).update(
        status=CareRelationship.Status.ENDED, ended_at=timezone.now()
    )


def raw_rows_holding(needle: str) -> list[str]:
    """Every table and column whose raw stored value holds ``needle`` (case-insensitive)."""
    found = []
    quote = connection.ops.quote_name
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names():
            cursor.execute(f"SELECT * FROM {quote(table)}")  # noqa: S608 (names from the schema)
            columns = [c[0] for c in cursor.description]
            for row in cursor.fetchall():
                for column, value in zip(columns, row, strict=True):
                    if isinstance(value, memoryview | bytes):
                        text = bytes(value).decode("utf-8", "replace")
                    else:
                        text = str(value)
                    if needle in text.casefold():
                        found.append(f"{table}.{column}")
    return found


def decrypted_values_holding(needle: str) -> list[str]:
    """Every model field whose value, as the application reads it (decrypted), holds it."""
    found = []
    for model in apps.get_models():
        fields = [f for f in model._meta.concrete_fields if not f.is_relation]
        for row in model._base_manager.all().iterator():
            for field in fields:
                if needle in str(getattr(row, field.attname)).casefold():
                    found.append(f"{model._meta.label}.{field.name}")
    return found


def files_holding(needle: str) -> list[str]:
    # Reading the database file here opens and closes it outside SQLite, which drops every lock
    # this process holds on it (POSIX locks belong to the process): a connection left open
    # would then run on without its locks, and a worker process sharing the file could remove
    # the shared-memory index under it ("database disk image is malformed" later on). So no
    # connection stays open while the files are read; the next query opens a new one.
    connections.close_all()
    found = []
    roots = {Path(settings.DATA_DIR), Path(settings.RAPPORT_ATTACHMENTS_DIR)}
    for root in roots:
        for folder, _dirs, names in os.walk(root):
            for name in names:
                path = Path(folder) / name
                if needle.encode() in path.read_bytes().lower():
                    found.append(str(path))
    return found


@pytest.fixture
def notes_unlocked_after() -> Iterator[None]:
    yield
    unlock_signed_notes()


@pytest.mark.django_db(transaction=True)
def test_erasure_leaves_no_trace_of_the_client_and_the_chain_verifies(
    notes_unlocked_after: None, smtp: Inbox
) -> None:
    first_admin = make_user("first.admin@example.test", "admin", "First Admin")
    second_admin = make_user("second.admin@example.test", "admin", "Second Admin")
    gone, kept = new_canary(), new_canary()
    client, _therapist = seed_client_everywhere(gone, first_admin)
    control, _other = seed_client_everywhere(kept, first_admin)
    end_care(client)
    files = list(Attachment.objects.filter(uploaded_by=client).values_list("stored_as", flat=True))
    assert files and all((attachments_dir() / name).exists() for name in files)
    # Before: the searches find the canary where it lives (they can fail).
    assert "accounts_user.email" in raw_rows_holding(gone)
    assert "notes.Note.content" in decrypted_values_holding(gone)
    assert "messaging.Message.body" in decrypted_values_holding(gone)
    assert "care.ClientProfile.postal_address" in decrypted_values_holding(gone)
    assert ClientProfile.objects.get(client=client).date_of_birth == date(1979, 5, 17)

    item = erasure_requests.request_erasure(first_admin, client, "client_request")
    assert item.status == Erasure.Status.AWAITING_APPROVAL
    with pytest.raises(ErasureError, match="second admin"):
        erasure_requests.approve(first_admin, item.pk)
    erasure_requests.approve(second_admin, item.pk)

    # Tasks queued before the erasure for what it removed run, find nothing, tell no one.
    smtp.take()
    run_task_worker()
    assert all(gone not in m["To"] and "erased.invalid" not in m["To"] for m in smtp.take())

    item.refresh_from_db()
    assert item.status == Erasure.Status.DONE
    assert item.report["notes.Note"] == 3
    assert item.report["notes.Addendum"] == 1
    assert item.report["messaging.Attachment"] == 1
    assert item.report["Audit events redacted"] > 0
    assert item.files_to_shred == []
    assert not any((attachments_dir() / name).exists() for name in files)
    assert raw_rows_holding(gone) == []
    assert decrypted_values_holding(gone) == []
    assert files_holding(gone) == []
    assert not ClientProfile.objects.filter(client_id=client.pk).exists()  # the birth date too
    # The control client is untouched, and the searches still see them.
    assert "accounts_user.email" in raw_rows_holding(kept)
    assert "notes.Addendum.text" in decrypted_values_holding(kept)
    assert Attachment.objects.filter(uploaded_by=control).count() == 1
    if connection.vendor == "sqlite":
        assert any(p.endswith(".sqlite3") for p in files_holding(kept))

    # The account stays as a pseudonym the trail points at; the chain verifies.
    stand_in = User.objects.get(pk=client.pk)
    assert stand_in.email.endswith("@erased.invalid") and not stand_in.is_active
    assert not stand_in.has_usable_password()
    result = verify_trail()
    assert result.ok, result.problems
    assert result.redacted == item.report["Audit events redacted"]
    assert AuditEvent.objects.filter(client=client, action="erasure.done").count() == 1
    call_command("audit_verify")

    # A redacted event edited afterwards is caught by its seal.
    event = AuditEvent.objects.filter(redacted_at__isnull=False).first()
    assert event is not None
    AuditEvent.objects.filter(pk=event.pk).update(action="auth.sign_out")
    assert [p.problem for p in verify_trail().problems] == [
        "redacted content does not match its seal"
    ]


@pytest.mark.django_db
def test_signed_notes_stay_locked_except_to_their_own_erasure(
    client_a: User, client_b: User, therapist_x: User
) -> None:
    from tests.notes_data import signed_note

    note = signed_note(therapist_x, client_a)
    addendum = Addendum.objects.create(note=note, author=therapist_x, text="Later thought.")
    # Straight to the database (a model delete would stop at Django's PROTECT first).
    for rows in (Note.objects.filter(pk=note.pk), Addendum.objects.filter(pk=addendum.pk)):
        with pytest.raises(IntegrityError, match="never change"), transaction.atomic():
            rows._raw_delete(connection.alias)
    # Another client's erasure does not open this client's notes, nor does any erasure allow
    # a change.
    with (
        pytest.raises(IntegrityError, match="never change"),
        transaction.atomic(),
        erasing(client_b.pk),
    ):
        Addendum.objects.filter(pk=addendum.pk)._raw_delete(connection.alias)
    with (
        pytest.raises(IntegrityError, match="never change"),
        transaction.atomic(),
        erasing(client_a.pk),
    ):
        Note.objects.filter(pk=note.pk).update(kind="psychotherapy")
    with transaction.atomic(), erasing(client_a.pk):
        Addendum.objects.filter(pk=addendum.pk)._raw_delete(connection.alias)
        Note.objects.filter(pk=note.pk)._raw_delete(connection.alias)
    assert not Note.objects.filter(pk=note.pk).exists()


@pytest.mark.django_db
def test_one_admin_practice_holds_seven_days_tells_the_client_and_can_cancel(
    admin: User, client_a: User, smtp: Inbox
) -> None:
    item = erasure_requests.request_erasure(admin, client_a, "client_request")
    assert item.status == Erasure.Status.ON_HOLD
    assert item.hold_until is not None
    assert item.hold_until - item.requested_at == timedelta(days=7)
    with pytest.raises(ErasureError, match="hold has not passed"):
        erasure_requests.erase_after_hold(admin, item.pk)
    # Not told (the email has not gone out): the hold does not end.
    with time_machine.travel(item.hold_until + timedelta(days=1), tick=False):
        with pytest.raises(ErasureError, match="not been told"):
            erasure_requests.erase_after_hold(admin, item.pk)
        assert erasure_requests.deliver_erasure_notice(item.pk)
    item.refresh_from_db()
    assert item.client_told_at is not None and item.hold_until is not None
    assert item.hold_until == item.client_told_at + timedelta(days=7)  # from when they are told
    assert not erasure_requests.deliver_erasure_notice(item.pk)  # told once
    (mail,) = smtp.take()
    assert mail["To"] == client_a.email
    assert "plans to erase your record" in body_of(mail)
    erasure_requests.cancel(admin, item.pk)
    later = item.hold_until + timedelta(minutes=1)
    with time_machine.travel(later, tick=False), pytest.raises(ErasureError, match="no longer"):
        erasure_requests.erase_after_hold(admin, item.pk)
    assert User.objects.get(pk=client_a.pk).email == client_a.email


@pytest.mark.django_db(transaction=True)
def test_the_sweep_is_a_dry_run_until_told_and_then_erases_due_holds(
    admin: User, client_a: User, smtp: Inbox, capsys: pytest.CaptureFixture[str]
) -> None:
    item = erasure_requests.request_erasure(admin, client_a, "client_request")
    run_task_worker()  # the notice to the client goes through the task queue
    assert [m["To"] for m in smtp.take()] == [client_a.email]
    item.refresh_from_db()
    assert item.hold_until is not None
    with time_machine.travel(item.hold_until + timedelta(minutes=1), tick=False):
        call_command("retention_sweep")
        out = capsys.readouterr().out
        assert f"erasure #{item.pk} of client #{client_a.pk}" in out
        assert "Dry run: nothing erased" in out
        assert Erasure.objects.get(pk=item.pk).status == Erasure.Status.ON_HOLD
        call_command("retention_sweep", apply=True)
        assert f"Erased: erasure #{item.pk}." in capsys.readouterr().out
    assert Erasure.objects.get(pk=item.pk).status == Erasure.Status.DONE
    assert User.objects.get(pk=client_a.pk).email.endswith("@erased.invalid")
    assert verify_trail().ok


@pytest.mark.django_db
def test_records_past_retention_are_listed_by_last_contact(
    admin: User, client_a: User, client_b: User, therapist_x: User, therapist_y: User
) -> None:
    practice = Practice.get()
    assert practice.retention_period_years == 7  # the United States default
    eight_years_ago = timezone.now() - timedelta(days=8 * 366)
    User.objects.filter(pk__in=[client_a.pk, client_b.pk]).update(date_joined=eight_years_ago)
    CareRelationship.objects.filter(client=client_b).update(
        status=CareRelationship.Status.ENDED, ended_at=eight_years_ago
    )
    assert [o.client for o in overdue_records()] == [client_b]  # client_a is still in care
    practice.retention_years = 10
    practice.save()
    assert overdue_records() == []
    with pytest.raises(ErasureError, match="has not passed"):
        erasure_requests.request_erasure(admin, client_b, "retention")
    with pytest.raises(ErasureError, match="still in care"):
        erasure_requests.request_erasure(admin, client_a, "client_request")


@pytest.mark.django_db
def test_the_pages_ask_approve_and_keep_what_was_typed(
    admin: User, client_b: User, therapist_y: User
) -> None:
    second = make_user("second.admin@example.test", "admin", "Second Admin")
    end_care(client_b)
    page = signed_in(admin)
    report = page.get(f"/practice/retention/clients/{client_b.pk}/")
    assert report.status_code == 200
    assert b"What would go (dry run)" in report.content
    assert b"care.CareRelationship" in report.content
    looked = AuditEvent.objects.get(action="client.record_viewed", client=client_b, actor=admin)
    assert looked.detail == {"purpose": "erasure_report", "via": "admin"}
    wrong = page.post(
        f"/practice/retention/clients/{client_b.pk}/",
        {"reason": "client_request", "confirm_email": "typed-wrong@example.test"},
    )
    assert wrong.status_code == 400
    assert b"This is not the client&#x27;s email address." in wrong.content
    assert b'value="typed-wrong@example.test"' in wrong.content
    assert b'value="client_request"' in wrong.content and b"checked" in wrong.content
    assert not Erasure.objects.exists()
    asked = page.post(
        f"/practice/retention/clients/{client_b.pk}/",
        {"reason": "client_request", "confirm_email": client_b.email.upper()},
    )
    assert asked.status_code == 302
    item = Erasure.objects.get()
    assert item.status == Erasure.Status.AWAITING_APPROVAL
    listing = page.get("/practice/retention/")
    assert listing.status_code == 200
    assert b"Approve and erase" not in listing.content  # not by the admin who asked
    page.post(f"/practice/retention/erasures/{item.pk}/approve/")
    assert Erasure.objects.get().status == Erasure.Status.AWAITING_APPROVAL
    approved = signed_in(second).post(f"/practice/retention/erasures/{item.pk}/approve/")
    assert approved.status_code == 302
    assert Erasure.objects.get().status == Erasure.Status.DONE
    assert verify_trail().ok


@pytest.mark.django_db
def test_the_retention_policy_is_set_on_the_practice_form(admin: User) -> None:
    page = signed_in(admin)
    form = page.get("/practice/settings/")
    assert b"retention_jurisdiction" in form.content
    data: dict[str, Any] = {
        "name": "Practice",
        "late_cancel_hours": "24",
        "reminder_minutes": "1440,60",
        "join_opens_minutes": "10",
        "crisis_resources": "Call 988.",
        "message_attachment_limit_mb": "20",
        "alert_escalation_minutes": "60",
        "unsent_risk_minutes": "120",
        "late_note_hours": "72",
        "outcomes_suppression_threshold": "10",
        "outcomes_episode_gap_days": "90",
        "offers_answered_by": "therapist",
        "offer_answer_hours": "48",
        "retention_jurisdiction": "other",
        "retention_years": "",
    }
    refused = page.post("/practice/settings/", data)
    assert refused.status_code == 200
    assert b"Say how many years the law where you practise asks for." in refused.content
    assert b'value="other" selected' in refused.content
    saved = page.post("/practice/settings/", {**data, "retention_years": "12"})
    assert saved.status_code == 302
    assert Practice.get().retention_period_years == 12


def test_gather_names_what_it_found(db: None, client_a: User, therapist_x: User) -> None:
    plan = gather(client_a)
    assert plan.counts()["care.CareRelationship"] == 1
    assert plan.counts()["care.ClientProfile"] == 1
    assert "accounts.User" not in plan.counts()


@pytest.mark.django_db(transaction=True)
def test_an_erasure_that_misses_a_row_fails_whole(monkeypatch: pytest.MonkeyPatch) -> None:
    from rapport.messaging.access import conversation_for
    from rapport.messaging.models import Message, Revision
    from rapport.messaging.services import edit_message, send_message
    from rapport.records import erasure

    first = make_user("first.admin@example.test", "admin", "First Admin")
    second = make_user("second.admin@example.test", "admin", "Second Admin")
    client = make_user("leaving@example.test", "client", "Lee Leaving")
    therapist = make_user("t@example.test", "therapist", "Theo Therapist")
    relationship = CareRelationship.objects.create(therapist=therapist, client=client)
    message = uuid.uuid4()
    send_message(client, conversation_for(relationship).uid, message, "First words")
    edit_message(client, message, "Second words")
    end_care(client)
    item = erasure_requests.request_erasure(first, client, "client_request")
    # As if gather() did not know revisions: the message goes, its revision still points at it.
    monkeypatch.setattr(erasure, "KEPT", {*erasure.KEPT, Revision})
    with pytest.raises(IntegrityError):
        erasure_requests.approve(second, item.pk)
    assert Erasure.objects.get(pk=item.pk).status == Erasure.Status.AWAITING_APPROVAL
    assert User.objects.get(pk=client.pk).email == "leaving@example.test"
    assert Message.objects.filter(sender=client).count() == 1
    assert not AuditEvent.objects.filter(redacted_at__isnull=False).exists()
    monkeypatch.undo()
    erasure_requests.approve(second, item.pk)
    assert not Revision.objects.exists()


@pytest.mark.django_db
def test_a_lone_admin_erases_from_the_page_once_the_client_was_told_and_the_hold_passed(
    admin: User, client_b: User, therapist_y: User, smtp: Inbox
) -> None:
    end_care(client_b)
    record(Action.SIGN_IN, actor=client_b)
    page = signed_in(admin)
    page.post(
        f"/practice/retention/clients/{client_b.pk}/",
        {"reason": "client_request", "confirm_email": client_b.email},
    )
    item = Erasure.objects.get()
    assert item.status == Erasure.Status.ON_HOLD
    assert erasure_requests.deliver_erasure_notice(item.pk)
    item.refresh_from_db()
    assert item.hold_until is not None
    listing = page.get("/practice/retention/")
    assert b"On hold: the client has been told" in listing.content
    assert b"Erase now" not in listing.content
    early = page.post(f"/practice/retention/erasures/{item.pk}/erase/", follow=True)
    assert b"hold has not passed yet" in early.content
    with time_machine.travel(item.hold_until + timedelta(minutes=1), tick=False):
        page = signed_in(admin)
        assert b"Erase now" in page.get("/practice/retention/").content
        done = page.post(f"/practice/retention/erasures/{item.pk}/erase/", follow=True)
    assert b"The record has been erased." in done.content
    assert Erasure.objects.get().status == Erasure.Status.DONE
    assert verify_trail().ok
    exported = signed_in(admin).get("/practice/audit/export.csv")
    body = b"".join(exported.streaming_content).decode()  # type: ignore[attr-defined]
    rows = list(csv.DictReader(io.StringIO(body)))
    redacted = [row for row in rows if row["redacted_at"]]
    assert redacted and all(len(row["redaction_seal"]) == 64 for row in redacted)
    assert all(client_b.email not in row["actor"] for row in rows)
