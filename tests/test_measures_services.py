"""Measures behind the pages: tasks from assignments, immutable encrypted responses, corrections,
risk alerts that escalate while nobody is online, and the after-session feedback.

Background work runs as in production: the django-tasks-db worker (``db_worker``) picks up
queued rows while time travels; mail goes through Django's SMTP backend to a real SMTP server.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from email.message import EmailMessage as Mail
from typing import Any

import pytest
import time_machine
from django.core.exceptions import PermissionDenied
from django.db import connection
from django.http import Http404
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from rapport.accounts.models import Practice, User
from rapport.audit.models import AuditEvent
from rapport.audit.services import Action
from rapport.core import realtime
from rapport.measures import access
from rapport.measures.alerts import (
    acknowledge,
    escalate,
    escalate_overdue,
    escalated_alerts,
    open_alerts,
)
from rapport.measures.answers import correct, save_draft, submit
from rapport.measures.assignments import assign, due_tasks, end_assignment
from rapport.measures.definition_files import builtin_definitions
from rapport.measures.errors import MeasureError
from rapport.measures.feedback import feedback_drop_reasons
from rapport.measures.instruments import (
    FEEDBACK_KEY,
    assignable_instruments,
    definition_of,
    feedback_instrument,
    import_instrument,
    sync_builtin_instruments,
    update_instrument,
)
from rapport.measures.models import (
    AlertKind,
    Assignment,
    ImmutableError,
    Instrument,
    MeasureTask,
    Response,
    SafetyAlert,
    Schedule,
    TaskStatus,
)
from rapport.measures.results import effective_responses, result_of, risk_summary
from rapport.measures.scoring import ScoringError
from rapport.scheduling.models import Appointment, AppointmentStatus, SessionType
from rapport.visits import services as visits
from rapport.visits.models import Visit
from tests.conftest import signed_in
from tests.mail import Inbox, body_of
from tests.scheduling_data import direct_appointment
from tests.worker import run_task_worker

PHQ9_ITEMS = [str(n) for n in range(1, 10)]
# Text that must never reach an email: who the client is and anything about the instrument.
CLINICAL_WORDS = ["PHQ", "Patient Health", "GAD", "depress", "anxi", "hurting", "score", "Several"]


@pytest.fixture
def events(monkeypatch: pytest.MonkeyPatch) -> list[tuple[int, dict[str, Any]]]:
    """Live events the services publish, as (user id, event)."""
    sent: list[tuple[int, dict[str, Any]]] = []

    def capture(events: list[tuple[str, dict[str, Any]]]) -> None:
        for group, event in events:
            assert group.startswith("user-") and event["type"] == "user.event", (group, event)
            sent.append((int(group.removeprefix("user-")), event["event"]))

    # What leaves for the channel layer, after commit (rapport.core.realtime.publish_all).
    monkeypatch.setattr(realtime, "deliver", capture)
    return sent


def instrument(key: str) -> Instrument:
    return Instrument.objects.get(key=key, builtin=True, is_active=True)


def phq9(item9: int | None = 0, others: int = 1) -> dict[str, int | None]:
    answers: dict[str, int | None] = {key: others for key in PHQ9_ITEMS}
    answers["9"] = item9
    answers["10"] = 1
    return answers


def one_task(therapist: User, client: User, key: str = "phq9") -> MeasureTask:
    assignment = assign(therapist, client, instrument(key), Schedule.ONCE)
    [task] = [t for t in due_tasks(client) if t.assignment_id == assignment.pk]
    return task


def raw_column(table: str, column: str, pk: int) -> str:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {column} FROM {table} WHERE id = %s", [pk])  # noqa: S608
        (value,) = cursor.fetchone()
    return str(value)


def actions(*names: str) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(action__in=names).order_by("sequence"))


def assert_content_free(message: Mail, client: User) -> None:
    """Nothing about the questionnaire or the answers; to anyone else, not even who answered."""
    text = f"{message['Subject']}\n{body_of(message)}"
    words = list(CLINICAL_WORDS)
    if message["To"] != client.email:
        words += [client.full_name, client.email, client.full_name.split()[0]]
    for word in words:
        assert word.lower() not in text.lower(), (word, text)


def deadline_of(alert: SafetyAlert) -> datetime:
    return alert.opened_at + timedelta(minutes=Practice.get().alert_escalation_minutes)


# --- Instruments ---------------------------------------------------------------------------------


def test_every_builtin_instrument_has_a_row_and_loading_is_idempotent(db: Any) -> None:
    rows = {(i.key, i.version): i for i in Instrument.objects.filter(builtin=True)}
    for definition in builtin_definitions():
        row = rows[(definition.key, definition.version)]
        assert row.definition == definition.to_json()
        assert row.short_name == definition.short_name
        assert definition_of(row) == definition
    assert sync_builtin_instruments() == 0
    keys = {i.key for i in assignable_instruments()}
    assert {"phq9", "gad7", "phq2", "gad2", "phq4", "k10", "pcl5"} <= keys
    assert FEEDBACK_KEY not in keys
    assert feedback_instrument() is not None


# --- Tasks from assignments ----------------------------------------------------------------------


def session_type(therapist: User) -> SessionType:
    return SessionType.objects.create(therapist=therapist, name="Session", minutes=50)


def test_schedules_make_tasks_once_per_session_and_every_n_days(
    therapist_x: User, client_a: User, therapist_y: User, client_b: User
) -> None:
    start = timezone.now().replace(microsecond=0)
    with time_machine.travel(start, tick=False) as clock:
        once = assign(therapist_x, client_a, instrument("k10"), Schedule.ONCE)
        kind = session_type(therapist_x)
        soon = direct_appointment(kind, client_a, start + timedelta(hours=24))
        later = direct_appointment(kind, client_a, start + timedelta(hours=72))
        assign(therapist_x, client_a, instrument("phq9"), Schedule.BEFORE_EACH_SESSION)
        fortnightly = assign(
            therapist_x, client_a, instrument("gad7"), Schedule.EVERY_N_DAYS, interval_days=14
        )
        tasks = due_tasks(client_a)
        assert sorted((t.instrument.key, t.due_at) for t in tasks) == sorted(
            [
                ("k10", start + timedelta(days=7)),
                ("phq9", soon.starts_at),
                ("gad7", start + timedelta(days=14)),
            ]
        )
        assert [t.appointment_id for t in tasks if t.instrument.key == "phq9"] == [soon.pk]
        # Asking again creates nothing new.
        assert len(due_tasks(client_a)) == 3
        assert MeasureTask.objects.count() == 3

        # 30 hours on: the second session is within 48 hours and gets its task. The first
        # session has passed; its unfilled task stays until a newer session has one, then goes.
        clock.move_to(start + timedelta(hours=30))
        phq_tasks = [t for t in due_tasks(client_a) if t.instrument.key == "phq9"]
        assert [t.appointment_id for t in phq_tasks] == [later.pk]
        assert MeasureTask.objects.get(appointment=soon).status == TaskStatus.CANCELLED
        # A cancelled session's task goes too.
        Appointment.objects.filter(pk=later.pk).update(status=AppointmentStatus.CANCELLED)
        assert "phq9" not in {t.instrument.key for t in due_tasks(client_a)}

        # Every 14 days: nothing new after 13, a fresh task (the old one cancelled) after 14.
        clock.move_to(start + timedelta(days=13, hours=23))
        assert MeasureTask.objects.filter(assignment=fortnightly).count() == 1
        due_tasks(client_a)
        assert MeasureTask.objects.filter(assignment=fortnightly).count() == 1
        clock.move_to(start + timedelta(days=14))
        due_tasks(client_a)
        statuses = list(
            MeasureTask.objects.filter(assignment=fortnightly)
            .order_by("created_at")
            .values_list("status", flat=True)
        )
        assert statuses == [TaskStatus.CANCELLED, TaskStatus.OPEN]

        # Ending an assignment cancels what is open; "once" never comes back.
        end_assignment(fortnightly, therapist_x)
        assert not MeasureTask.objects.filter(assignment=fortnightly, status="open").exists()
        assert [t.instrument.key for t in due_tasks(client_a)] == ["k10"]
        assert MeasureTask.objects.filter(assignment=once).count() == 1

    assert [e.detail["schedule"] for e in actions(Action.MEASURE_ASSIGNED)] == [
        "once",
        "session",
        "interval",
    ]
    assert len(actions(Action.MEASURE_ASSIGNMENT_ENDED)) == 1
    # Only the client's own therapist assigns; the same instrument is not assigned twice.
    with pytest.raises(PermissionDenied):
        assign(therapist_y, client_a, instrument("gad2"), Schedule.ONCE)
    with pytest.raises(MeasureError):
        assign(therapist_x, client_a, instrument("k10"), Schedule.ONCE)
    with pytest.raises(MeasureError):
        assign(therapist_x, client_a, instrument(FEEDBACK_KEY), Schedule.ONCE)
    with pytest.raises(PermissionDenied):
        end_assignment(once, therapist_y)
    assert due_tasks(client_b) == []


@pytest.mark.django_db(transaction=True)
def test_reminders_arrive_once_without_content_even_if_the_client_never_signs_in(
    smtp: Inbox, therapist_x: User, client_a: User
) -> None:
    start = timezone.now().replace(microsecond=0)
    with time_machine.travel(start, tick=False) as clock:
        assign(therapist_x, client_a, instrument("gad7"), Schedule.EVERY_N_DAYS, interval_days=7)
        assign(therapist_x, client_a, instrument("phq9"), Schedule.BEFORE_EACH_SESSION)
        # Booked after the assignment, five days ahead: its task appears 48 hours before.
        session = direct_appointment(session_type(therapist_x), client_a, start + timedelta(days=5))
        run_task_worker()
        [first] = smtp.take()
        assert first["To"] == client_a.email
        assert first["Subject"] == "You have a new questionnaire in Rapport"
        assert_content_free(first, client_a)
        assert "/measures/tasks/" in body_of(first)

        # The worker, not a page view, creates the next tasks when they fall due.
        clock.move_to(session.starts_at - timedelta(hours=47))
        run_task_worker()
        [second] = smtp.take()
        assert_content_free(second, client_a)
        assert MeasureTask.objects.get(appointment=session).reminded_at is not None
        clock.move_to(start + timedelta(days=7, minutes=1))
        run_task_worker()
        [third] = smtp.take()
        assert_content_free(third, client_a)
        assert MeasureTask.objects.filter(instrument__key="gad7").count() == 2

        # Re-running every finished reminder (a restarted worker) sends nothing again.
        DBTaskResult.objects.filter(task_path__endswith="send_task_reminder").update(
            status="READY", finished_at=None
        )
        run_task_worker()
        assert smtp.take() == []


# --- Answers -------------------------------------------------------------------------------------


def test_drafts_and_responses_are_encrypted_responses_immutable_corrections_new(
    therapist_x: User, client_a: User, client_b: User, events: list[Any]
) -> None:
    task = one_task(therapist_x, client_a)
    save_draft(task, client_a, {"1": 2, "2": 3})
    assert MeasureTask.objects.get(pk=task.pk).draft_answers() == {"1": 2, "2": 3}
    assert '"1"' not in raw_column("measures_measuretask", "draft", task.pk)
    with pytest.raises(ScoringError):
        save_draft(task, client_a, {"1": 7})
    with pytest.raises(ScoringError):
        save_draft(task, client_a, {"99": 1})
    with pytest.raises(PermissionDenied):
        save_draft(task, client_b, {"1": 1})
    with pytest.raises(Http404):
        access.access_task(client_b, task.pk)
    assert access.access_task(client_a, task.pk) == task

    # Too many unanswered items: refused, nothing stored.
    with pytest.raises(ScoringError):
        submit(task, client_a, {"1": 1, "2": 1})
    with pytest.raises(PermissionDenied):
        submit(task, client_b, phq9())
    response = submit(task, client_a, phq9(item9=0, others=2))
    assert result_of(response).total == 16
    assert result_of(response).band == "Moderately severe"
    assert response.risk_positive is False
    assert response.answer_values()["9"] == 0
    task.refresh_from_db()
    assert (task.status, task.draft) == (TaskStatus.DONE, "")
    for column in ("answers", "result"):
        stored = raw_column("measures_response", column, response.pk)
        assert "Moderately" not in stored and '"9"' not in stored
    [submitted] = actions(Action.MEASURE_SUBMITTED)
    assert submitted.client_id == client_a.pk and submitted.detail["instrument"] == "phq9"
    assert SafetyAlert.objects.count() == 0 and events == []

    # Sent is sent: no second submission, no change in place.
    with pytest.raises(MeasureError):
        submit(task, client_a, phq9())
    response.answers = json.dumps(phq9(others=0))
    with pytest.raises(ImmutableError):
        response.save()

    # A correction is a new response pointing at the original, which stays as it was.
    fixed = correct(Response.objects.get(pk=response.pk), therapist_x, phq9(others=1))
    assert fixed.corrects_id == response.pk and fixed.submitted_by_id == therapist_x.pk
    assert result_of(Response.objects.get(pk=response.pk)).total == 16
    assert result_of(fixed).total == 8
    assert list(effective_responses(client_a)) == [fixed]
    with pytest.raises(MeasureError):
        correct(response, client_a, phq9())
    with pytest.raises(PermissionDenied):
        correct(fixed, client_b, phq9())
    [corrected] = actions(Action.MEASURE_CORRECTED)
    assert corrected.detail["corrects"] == response.pk


def test_a_negative_risk_item_never_reads_as_no_risk(therapist_x: User, client_a: User) -> None:
    negative = submit(one_task(therapist_x, client_a), client_a, phq9(item9=0))
    summary = risk_summary(negative)
    assert summary.has_risk_items and not summary.positive
    assert "does not rule out risk" in summary.wording
    assert summary.answers[0].answer == "Not at all"

    # Item 9 cannot be left out (PHQ-9 allows two other items unanswered)...
    end_assignment(Assignment.objects.get(), therapist_x)
    with pytest.raises(ScoringError, match="item 9 needs an answer"):
        submit(one_task(therapist_x, client_a), client_a, phq9(item9=None))
    # ...and were a stored response ever without it, its risk would read as unknown.
    skipped = Response(instrument=negative.instrument, answers=json.dumps(phq9(item9=None)))
    unknown = risk_summary(skipped)
    assert not unknown.positive and "unknown" in unknown.wording

    no_question = submit(
        one_task(therapist_x, client_a, "gad7"), client_a, {str(n): 0 for n in range(1, 8)}
    )
    silent = risk_summary(no_question)
    assert not silent.has_risk_items and "says nothing about risk" in silent.wording

    for wording in (summary.wording, unknown.wording, silent.wording):
        assert "no risk" not in wording.lower()
        assert "not at risk" not in wording.lower()
    assert SafetyAlert.objects.count() == 0


# --- Safety alerts -------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_an_unacknowledged_risk_alert_escalates_to_the_admins_while_nobody_is_online(
    smtp: Inbox,
    therapist_x: User,
    client_a: User,
    admin: User,
    events: list[tuple[int, dict[str, Any]]],
) -> None:
    """The therapist never opens Rapport; the worker stops and starts; the admins still hear."""
    start = timezone.now().replace(microsecond=0)
    with time_machine.travel(start, tick=False) as clock:
        task = one_task(therapist_x, client_a)
        run_task_worker()
        smtp.take()  # the client's reminder
        response = submit(task, client_a, phq9(item9=1))
        assert response.risk_positive
        [alert] = SafetyAlert.objects.all()
        assert (alert.kind, alert.therapist_id, alert.is_open) == ("risk", therapist_x.pk, True)
        assert events == [
            (
                therapist_x.pk,
                {
                    "type": "alert.safety",
                    "alert": alert.pk,
                    "kind": "risk",
                    "title": "Risk answer",
                    "client_name": client_a.full_name,
                    "url": f"/alerts/{alert.pk}/",
                },
            )
        ]
        # The escalation waits in the database queue, deferred to the practice's deadline.
        [escalation] = DBTaskResult.objects.filter(task_path__endswith="escalate_alert")
        assert escalation.run_after == deadline_of(alert) == start + timedelta(minutes=60)

        run_task_worker()
        [to_therapist] = smtp.take()
        assert to_therapist["To"] == therapist_x.email
        assert to_therapist["Subject"] == "A client's answers need your attention — open Rapport"
        assert f"/alerts/{alert.pk}/" in body_of(to_therapist)
        assert_content_free(to_therapist, client_a)

        # A minute before the deadline a worker finds nothing to do...
        clock.move_to(deadline_of(alert) - timedelta(minutes=1))
        run_task_worker()
        assert smtp.take() == []
        assert SafetyAlert.objects.get().escalated_at is None
        # ...and a worker started after it (the last one having stopped) escalates.
        clock.move_to(deadline_of(alert) + timedelta(minutes=3))
        run_task_worker()
        [to_admin] = smtp.take()
        assert to_admin["To"] == admin.email
        assert to_admin["Subject"] == "A safety alert has not been acknowledged — open Rapport"
        assert_content_free(to_admin, client_a)
        alert.refresh_from_db()
        assert alert.escalated_at == deadline_of(alert) + timedelta(minutes=3)
        assert alert.is_open
        assert (admin.pk, "alert.escalated") in [(uid, e["type"]) for uid, e in events]
        [escalated] = actions(Action.ALERT_ESCALATED)
        assert escalated.detail["admins"] == [admin.pk]

        # Running the escalation again (a duplicate, a restarted worker) changes nothing.
        DBTaskResult.objects.filter(task_path__endswith="escalate_alert").update(
            status="READY", finished_at=None
        )
        run_task_worker()
        assert smtp.take() == []
        assert len(actions(Action.ALERT_ESCALATED)) == 1

        # The admin can close the loop once it escalated; the therapist can too.
        assert access.access_alert(admin, alert.pk)[0] == alert
        acknowledge(alert, therapist_x, "Phoned the client; safety plan reviewed.")
        assert actions(Action.ALERT_ACKNOWLEDGED)[0].detail["after_escalation"] is True


@pytest.mark.django_db(transaction=True)
def test_an_acknowledged_alert_never_escalates(
    smtp: Inbox, therapist_x: User, therapist_y: User, client_a: User, admin: User
) -> None:
    start = timezone.now().replace(microsecond=0)
    with time_machine.travel(start, tick=False) as clock:
        response = submit(one_task(therapist_x, client_a), client_a, phq9(item9=3))
        [alert] = SafetyAlert.objects.filter(response=response)
        clock.move_to(start + timedelta(minutes=20))

        with pytest.raises(MeasureError):
            acknowledge(alert, therapist_x, "   ")
        with pytest.raises(PermissionDenied):
            acknowledge(alert, therapist_y, "Not my client")
        with pytest.raises(PermissionDenied):
            acknowledge(alert, admin, "Not escalated yet")
        with pytest.raises(Http404):
            access.access_alert(therapist_y, alert.pk)
        action = "Called the client at once; agreed a safety plan; GP informed."
        acknowledge(alert, therapist_x, action)
        with pytest.raises(MeasureError):
            acknowledge(alert, therapist_x, action)

        alert.refresh_from_db()
        assert not alert.is_open
        assert (alert.acknowledged_by_id, alert.action_taken) == (therapist_x.pk, action)
        assert "safety plan" not in raw_column("measures_safetyalert", "action_taken", alert.pk)
        [audited] = actions(Action.ALERT_ACKNOWLEDGED)
        assert audited.actor_id == therapist_x.pk and audited.object_id == str(alert.pk)
        assert audited.detail["minutes_open"] == 20
        assert "safety plan" not in json.dumps(audited.detail)

        # Long past the deadline the queued escalation runs, and does nothing. The therapist's
        # email was not sent either: they had already seen the alert.
        clock.move_to(deadline_of(alert) + timedelta(hours=5))
        run_task_worker()
        assert smtp.take() == []  # and the client's reminder is moot: the task was done
        assert SafetyAlert.objects.get().escalated_at is None
        assert actions(Action.ALERT_ESCALATED) == []
        assert escalate_overdue() == 0


def test_overdue_alerts_escalate_even_if_their_queued_task_was_lost(
    therapist_x: User, client_a: User, admin: User, events: list[Any]
) -> None:
    start = timezone.now().replace(microsecond=0)
    with time_machine.travel(start, tick=False) as clock:
        submit(one_task(therapist_x, client_a), client_a, phq9(item9=2))
        alert = SafetyAlert.objects.get()
        DBTaskResult.objects.filter(task_path__endswith="escalate_alert").delete()
        # Run before its time (the practice gave therapists longer): it comes back at the
        # deadline instead of escalating.
        assert escalate(alert.pk) is False
        [requeued] = DBTaskResult.objects.filter(task_path__endswith="escalate_alert")
        assert requeued.run_after == deadline_of(alert)
        requeued.delete()
        # Lost entirely: the sweep that runs with every escalation task still finds it.
        clock.move_to(deadline_of(alert))
        assert escalate_overdue() == 1
        assert SafetyAlert.objects.get().escalated_at == deadline_of(alert)
        assert escalate_overdue() == 0
        assert escalated_alerts().get() == alert

        # A correction does not open a second alert while the original's is still open.
        correction = correct(Response.objects.get(), client_a, phq9(item9=1))
        assert not correction.alerts.exists()


@pytest.mark.django_db(transaction=True)
def test_with_no_active_admin_an_escalation_goes_to_every_therapist_with_a_warning(
    smtp: Inbox,
    therapist_x: User,
    therapist_y: User,
    client_a: User,
    admin: User,
    events: list[tuple[int, dict[str, Any]]],
) -> None:
    User.objects.filter(pk=admin.pk).update(is_active=False)
    start = timezone.now().replace(microsecond=0)
    with time_machine.travel(start, tick=False) as clock:
        submit(one_task(therapist_x, client_a), client_a, phq9(item9=2))
        alert = SafetyAlert.objects.get()
        run_task_worker()
        smtp.take()  # the reminder and the therapist's alert email
        clock.move_to(deadline_of(alert) + timedelta(minutes=1))
        run_task_worker()
        sent = smtp.take()
        assert sorted(m["To"] for m in sent) == sorted([therapist_x.email, therapist_y.email])
        for message in sent:
            assert_content_free(message, client_a)
            assert "no active admin" in body_of(message)
            assert therapist_x.full_name in body_of(message)  # whom colleagues can reach
        escalated = {uid: e for uid, e in events if e["type"] == "alert.escalated"}
        assert set(escalated) == {therapist_x.pk, therapist_y.pk}
        assert escalated[therapist_y.pk]["no_admin"] is True
        assert escalated[therapist_y.pk]["url"] == "/alerts/"
        [audited] = actions(Action.ALERT_ESCALATED)
        assert audited.detail["admins"] == []
        assert audited.detail["therapists"] == sorted([therapist_x.pk, therapist_y.pk])
        assert SafetyAlert.objects.get().escalated_to_therapists is True

        # Once an admin is active again, their home page says what happened.
        User.objects.filter(pk=admin.pk).update(is_active=True)
        home = signed_in(admin).get("/").content.decode()
        assert "No active admin: 1 escalation went to therapists" in home
        listed = signed_in(admin).get("/practice/alerts/").content.decode()
        assert "went to every therapist: no admin was active" in listed


def test_a_correction_that_adds_a_risk_answer_raises_an_alert(
    therapist_x: User, client_a: User, events: list[Any]
) -> None:
    original = submit(one_task(therapist_x, client_a), client_a, phq9(item9=0))
    assert SafetyAlert.objects.count() == 0
    corrected = correct(original, client_a, phq9(item9=1))
    [alert] = SafetyAlert.objects.all()
    assert alert.response_id == corrected.pk and alert.therapist_id == therapist_x.pk
    assert DBTaskResult.objects.filter(task_path__endswith="escalate_alert").count() == 1


@pytest.mark.django_db(transaction=True)
def test_an_unsent_risk_answer_reaches_the_therapist_once_after_the_practice_limit(
    smtp: Inbox,
    therapist_x: User,
    therapist_y: User,
    client_a: User,
    client_b: User,
    events: list[tuple[int, dict[str, Any]]],
) -> None:
    practice = Practice.get()
    assert practice.unsent_risk_minutes == 120  # the default: two hours
    start = timezone.now().replace(microsecond=0)
    with time_machine.travel(start, tick=False) as clock:
        risky = one_task(therapist_x, client_a)
        save_draft(risky, client_a, {"1": 1, "9": 2})
        # Another client's draft, with no risk answer, tells nobody anything.
        calm = one_task(therapist_y, client_b)
        save_draft(calm, client_b, {"1": 3, "9": 0})
        run_task_worker()
        smtp.take()  # the two reminders

        clock.move_to(start + timedelta(minutes=119))
        run_task_worker()
        assert smtp.take() == []
        assert [e for _uid, e in events if e["type"] == "measure.unsent_risk"] == []

        clock.move_to(start + timedelta(minutes=121))
        run_task_worker()
        [notice] = smtp.take()
        assert notice["To"] == therapist_x.email
        assert notice["Subject"] == "A questionnaire a client has not sent has a risk answer"
        assert_content_free(notice, client_a)
        assert f"/clients/{client_a.pk}/measures/" in body_of(notice)
        [(to, event)] = [(uid, e) for uid, e in events if e["type"] == "measure.unsent_risk"]
        assert to == therapist_x.pk
        assert event == {
            "type": "measure.unsent_risk",
            "task": risky.pk,
            "client_name": client_a.full_name,
            "url": f"/clients/{client_a.pk}/measures/",
        }
        waiting = signed_in(therapist_x).get(f"/clients/{client_a.pk}/measures/").content
        assert b"Saved with a risk answer, not sent yet" in waiting
        # Exactly once per questionnaire: later sweeps and later saves send nothing more.
        save_draft(risky, client_a, {"1": 2, "9": 3})
        clock.move_to(start + timedelta(hours=6))
        run_task_worker()
        assert smtp.take() == []
        assert len([e for _uid, e in events if e["type"] == "measure.unsent_risk"]) == 1
        # Nothing stored says so in plain text.
        stored = raw_column("measures_measuretask", "unsent_risk_noticed_at", risky.pk)
        assert stored.startswith("enc1$")


@pytest.mark.django_db(transaction=True)
def test_a_risk_answer_sent_in_time_gives_no_unsent_notice(
    smtp: Inbox, therapist_x: User, client_a: User, events: list[Any]
) -> None:
    start = timezone.now().replace(microsecond=0)
    with time_machine.travel(start, tick=False) as clock:
        task = one_task(therapist_x, client_a)
        save_draft(task, client_a, {"9": 1})
        clock.move_to(start + timedelta(minutes=30))
        submit(task, client_a, phq9(item9=1))
        acknowledge(SafetyAlert.objects.get(), therapist_x, "Phoned the client at once.")
        run_task_worker()
        smtp.take()  # the reminder
        clock.move_to(start + timedelta(hours=3))
        run_task_worker()
        assert [m["Subject"] for m in smtp.take()] == []
        assert [e for _uid, e in events if e["type"] == "measure.unsent_risk"] == []


# --- Feedback after sessions ---------------------------------------------------------------------


def held_session(therapist: User, client: User, *, admitted: bool = True) -> Visit:
    visit = visits.start_unscheduled(therapist, client)
    if admitted:
        Visit.objects.filter(pk=visit.pk).update(started_at=timezone.now(), status="live")
    return visit


def feedback(heard: int, rest: int) -> dict[str, int | None]:
    return {"heard": heard, "goals": rest, "approach": rest, "overall": rest, "technology": rest}


def test_each_session_asks_for_feedback_and_a_marked_drop_alerts_the_therapist(
    therapist_x: User,
    client_a: User,
    django_capture_on_commit_callbacks: Any,
    events: list[tuple[int, dict[str, Any]]],
) -> None:
    def session_feedback(answers: dict[str, int | None]) -> Response:
        visit = held_session(therapist_x, client_a)
        with django_capture_on_commit_callbacks(execute=True):
            visits.end(visit.pk, therapist_x)
            visits.end(visit.pk, therapist_x)  # ending twice asks once
        [task] = MeasureTask.objects.filter(visit=visit)
        assert task.instrument.key == FEEDBACK_KEY and task.client_id == client_a.pk
        assert task in due_tasks(client_a)
        with django_capture_on_commit_callbacks(execute=True):
            return submit(task, client_a, answers)

    # A visit the client was never admitted to was no session: no form.
    no_show = held_session(therapist_x, client_a, admitted=False)
    with django_capture_on_commit_callbacks(execute=True):
        visits.end(no_show.pk, therapist_x)
    assert not MeasureTask.objects.filter(visit=no_show).exists()

    # The first answer "not at all heard" is a marked drop on its own.
    first = session_feedback(feedback(heard=0, rest=3))
    assert feedback_drop_reasons(first) == ["felt heard and understood: the lowest answer"]
    [alert] = SafetyAlert.objects.all()
    assert alert.kind == AlertKind.FEEDBACK_DROP and alert.is_open
    assert events[-1][1]["kind"] == "feedback"
    # In-app and email, but a feedback alert is not escalated.
    assert DBTaskResult.objects.filter(task_path__endswith="send_alert_email").count() == 1
    assert not DBTaskResult.objects.filter(task_path__endswith="escalate_alert").exists()
    acknowledge(alert, therapist_x, "Talked it through at the start of the next session.")

    for _ in range(3):
        session_feedback(feedback(heard=4, rest=4))  # total 20
    # The technology failed: total 18, 2 below the mean of 20 (a marked drop needs 5 of 20).
    small_dip = session_feedback({**feedback(heard=4, rest=4), "technology": 2})
    assert feedback_drop_reasons(small_dip) == []
    drop = session_feedback(feedback(heard=2, rest=2))  # 10: 9.3 below the mean of 20, 20, 18
    assert feedback_drop_reasons(drop) == [
        "total well below the previous sessions",
        "overall rating well below the previous sessions",
    ]
    assert [a.kind for a in SafetyAlert.objects.all()].count("feedback") == 2
    assert SafetyAlert.objects.filter(response=drop).exists()
    assert open_alerts(therapist_x).get().response_id == drop.pk


def test_a_practice_can_ask_a_licensed_alliance_measure_after_each_session(
    therapist_x: User, client_a: User, admin: User, django_capture_on_commit_callbacks: Any
) -> None:
    from rapport.accounts.models import Practice
    from tests.test_scoring import small_definition

    alliance = small_definition(
        key="licensed-alliance", name="Licensed alliance measure", construct="alliance"
    )
    instrument = import_instrument(admin, alliance, "Licence 2026-114, practice-wide")
    practice = Practice.get()
    practice.after_session_instrument = instrument.key
    practice.save()
    visit = held_session(therapist_x, client_a)
    with django_capture_on_commit_callbacks(execute=True):
        visits.end(visit.pk, therapist_x)
    [task] = MeasureTask.objects.filter(visit=visit)
    assert task.instrument == instrument
    # Back to Rapport's own form when the imported one is switched off.
    update_instrument(admin, instrument, is_active=False)
    assert feedback_instrument().key == FEEDBACK_KEY  # type: ignore[union-attr]


# --- Assigning again -----------------------------------------------------------------------------


def test_a_finished_one_off_is_assigned_again_and_nothing_is_due_before_it_is_assigned(
    therapist_x: User, client_a: User
) -> None:
    start = timezone.now().replace(microsecond=0)
    with time_machine.travel(start, tick=False) as clock:
        first = one_task(therapist_x, client_a)
        fortnightly = assign(
            therapist_x, client_a, instrument("gad7"), Schedule.EVERY_N_DAYS, interval_days=14
        )
        [every_14] = [t for t in due_tasks(client_a) if t.assignment_id == fortnightly.pk]
        # Due after the moment of assigning, never at or before it.
        assert first.due_at > start and every_14.due_at > start
        assert every_14.due_at == start + timedelta(days=14)
        # While the one-off is still to do, assigning it again is refused.
        with pytest.raises(MeasureError, match="already assigned"):
            assign(therapist_x, client_a, instrument("phq9"), Schedule.ONCE)

        submit(first, client_a, phq9())
        clock.move_to(start + timedelta(days=3))
        again = assign(therapist_x, client_a, instrument("phq9"), Schedule.ONCE)
        assert again.pk != first.assignment_id
        [new_task] = [t for t in due_tasks(client_a) if t.instrument.key == "phq9"]
        assert new_task.assignment_id == again.pk and new_task.pk != first.pk
        assert new_task.due_at > start + timedelta(days=3)
        done = Assignment.objects.get(tasks=first)
        assert (done.is_active, done.ended_at) == (False, start)
        assert MeasureTask.objects.get(pk=first.pk).status == TaskStatus.DONE
