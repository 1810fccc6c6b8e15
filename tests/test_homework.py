"""Homework: the library, assigning with recurrence, the client's draft then hand-in through the
pages, the therapist's comment, bad input (clear errors, nothing typed lost), encryption at
rest, the content-free reminder (once, after quiet hours, through the real worker and SMTP),
the note prefill, and the record with its FHIR export."""

from __future__ import annotations

import json
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from fhir.resources.R4B.task import Task

from rapport.accounts.models import User
from rapport.audit.models import AuditEvent
from rapport.audit.services import Action
from rapport.homework import record, services
from rapport.homework.exercises import LIBRARY, SCORE
from rapport.homework.models import Assignment, Homework, Status
from rapport.homework.services import HomeworkError
from rapport.messaging.preferences import settings_for
from rapport.notes import services as notes
from rapport.notes.services import sections_of
from tests.conftest import signed_in
from tests.mail import Inbox, body_of
from tests.notes_data import ended_session
from tests.worker import run_task_worker

UTC = ZoneInfo("UTC")
MONDAY = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)


def test_the_library_defines_each_exercise_as_data() -> None:
    expected = {
        "thought_record",
        "activation_schedule",
        "exposure_hierarchy",
        "values_worksheet",
        "sleep_diary",
        "free",
    }
    assert set(LIBRARY) == expected
    for exercise in LIBRARY.values():
        assert exercise.fields or exercise.rows, exercise.key
        keys = [f.key for f in (*exercise.fields, *exercise.rows)]
        assert len(keys) == len(set(keys)), exercise.key
        if exercise.rows:
            assert exercise.max_rows >= 3 and exercise.row_name
    assert any(f.kind == SCORE for f in LIBRARY["thought_record"].fields)
    assert [f.kind for f in LIBRARY["sleep_diary"].rows][:3] == ["date", "time", "time"]


# --- Recurrence ----------------------------------------------------------------------------------


def test_due_dates_of_each_recurrence() -> None:
    first = date(2026, 3, 2)
    assert services.due_dates(first, "none", None) == [first]
    assert services.due_dates(first, "daily", date(2026, 3, 4)) == [
        date(2026, 3, 2),
        date(2026, 3, 3),
        date(2026, 3, 4),
    ]
    assert services.due_dates(first, "weekly", date(2026, 3, 22)) == [
        date(2026, 3, 2),
        date(2026, 3, 9),
        date(2026, 3, 16),
    ]
    assert services.due_dates(first, "weekly", first) == [first]
    with pytest.raises(HomeworkError, match="until when"):
        services.due_dates(first, "daily", None)
    with pytest.raises(HomeworkError, match="before it is first due"):
        services.due_dates(first, "daily", date(2026, 3, 1))
    with pytest.raises(HomeworkError, match="more than 60 due dates"):
        services.due_dates(first, "daily", first + timedelta(days=60))
    assert len(services.due_dates(first, "daily", first + timedelta(days=59))) == 60


def test_a_recurring_assignment_makes_one_piece_of_homework_per_due_day(
    therapist_x: User, client_a: User
) -> None:
    with time_machine.travel(MONDAY, tick=False):
        assignment = services.assign(
            therapist_x,
            client_a,
            exercise="sleep_diary",
            first_due=date(2026, 3, 3),
            repeat="weekly",
            repeat_until=date(2026, 3, 24),
        )
    days = list(assignment.homework.values_list("due_on", flat=True))
    assert days == [date(2026, 3, 3), date(2026, 3, 10), date(2026, 3, 17), date(2026, 3, 24)]
    assert set(assignment.homework.values_list("status", flat=True)) == {Status.ASSIGNED}
    event = AuditEvent.objects.get(action=Action.HOMEWORK_ASSIGNED)
    assert event.client_id == client_a.pk and event.actor_id == therapist_x.pk


def test_assigning_refuses_what_cannot_be_done(therapist_x: User, client_a: User) -> None:
    with time_machine.travel(MONDAY, tick=False):
        cases = [
            ({"exercise": "astrology", "first_due": date(2026, 3, 3)}, "from the library"),
            ({"exercise": "free", "first_due": date(2026, 3, 3)}, "title"),
            ({"exercise": "sleep_diary", "first_due": date(2026, 3, 1)}, "in the past"),
            (
                {"exercise": "sleep_diary", "first_due": date(2026, 3, 3), "repeat": "daily"},
                "until when",
            ),
        ]
        for kwargs, words in cases:
            with pytest.raises(HomeworkError, match=words):
                services.assign(therapist_x, client_a, **kwargs)  # type: ignore[arg-type]
    assert not Assignment.objects.exists() and not Homework.objects.exists()


# --- Changing and stopping an assignment ----------------------------------------------------------


def _weekly_diary(therapist: User, client: User) -> Assignment:
    return services.assign(
        therapist,
        client,
        exercise="sleep_diary",
        instructions="Fill it in each morning.",
        first_due=date(2026, 3, 3),
        repeat="weekly",
        repeat_until=date(2026, 3, 24),
    )


def _due_days(assignment: Assignment) -> list[date]:
    return list(assignment.homework.order_by("due_on").values_list("due_on", flat=True))


def test_changing_an_assignment_moves_its_end_and_keeps_what_the_client_started(
    therapist_x: User, client_a: User
) -> None:
    with time_machine.travel(MONDAY, tick=False):
        assignment = _weekly_diary(therapist_x, client_a)
        started = assignment.homework.get(due_on=date(2026, 3, 24))
        services.save_answers(
            client_a, started, {"fields": {}, "rows": [{"note": "x"}]}, submit=False
        )

        # Earlier end: the untouched days after it go, the started one stays.
        services.change_assignment(
            therapist_x,
            assignment,
            instructions="Only on weekdays.",
            repeat_until=date(2026, 3, 10),
        )
        assert _due_days(assignment) == [date(2026, 3, 3), date(2026, 3, 10), date(2026, 3, 24)]
        assignment.refresh_from_db()
        assert assignment.instructions == "Only on weekdays."
        assert assignment.repeat_until == date(2026, 3, 10) and assignment.changed_at is not None

        # Later end: the missing weekly days come back (the started one is not doubled).
        services.change_assignment(therapist_x, assignment, repeat_until=date(2026, 3, 31))
        assert _due_days(assignment) == [
            date(2026, 3, 3),
            date(2026, 3, 10),
            date(2026, 3, 17),
            date(2026, 3, 24),
            date(2026, 3, 31),
        ]
        assert assignment.homework.get(due_on=date(2026, 3, 24)).status == Status.DRAFT

        for kwargs, words in [
            ({"repeat_until": date(2026, 3, 1)}, "today or a later day"),
            ({"repeat_until": None}, "until when"),
            ({"repeat_until": date(2026, 3, 3) + timedelta(weeks=61)}, "more than 60"),
        ]:
            with pytest.raises(HomeworkError, match=words):
                services.change_assignment(therapist_x, assignment, **kwargs)  # type: ignore[arg-type]
        assert len(_due_days(assignment)) == 5  # a refused change changed nothing
    changes = AuditEvent.objects.filter(action=Action.HOMEWORK_CHANGED).order_by("sequence")
    assert [(e.detail["added"], e.detail["removed"]) for e in changes] == [(0, 1), (2, 0)]


def test_stopping_an_assignment_clears_the_days_to_come_and_keeps_the_history(
    therapist_x: User, client_a: User
) -> None:
    with time_machine.travel(MONDAY, tick=False):
        assignment = _weekly_diary(therapist_x, client_a)
    started = assignment.homework.get(due_on=date(2026, 3, 17))
    services.save_answers(client_a, started, {"fields": {}, "rows": [{"note": "x"}]}, submit=False)
    gone = assignment.homework.get(due_on=date(2026, 3, 24))
    with time_machine.travel(datetime(2026, 3, 12, 8, 0, tzinfo=UTC), tick=False):
        therapist = signed_in(therapist_x)
        url = reverse("homework_assignment", args=[client_a.pk, assignment.pk])
        page = therapist.get(url).content.decode()
        assert "Stop this homework" in page and "Fill it in each morning." in page
        response = therapist.post(url, {"action": "stop"}, follow=True)
        assert "1 day still to do was removed" in response.content.decode()
        # Missed (3 and 10 March) and started (17 March) stay; the untouched 24 March goes.
        assert _due_days(assignment) == [date(2026, 3, 3), date(2026, 3, 10), date(2026, 3, 17)]
        listing = signed_in(client_a).get(reverse("my_homework")).content.decode()
        assert reverse("homework_fill", args=[started.pk]) in listing  # can still hand it in
        missed = assignment.homework.get(due_on=date(2026, 3, 10))
        assert reverse("homework_fill", args=[missed.pk]) not in listing
        # Its reminder, already queued, finds nothing to send.
        from rapport.homework.notifications import deliver_due_reminder

        assert deliver_due_reminder(gone.pk) is False
        # Stopped, it no longer changes.
        assert "Stop this homework" not in therapist.get(url).content.decode()
        with pytest.raises(HomeworkError, match="already stopped"):
            services.stop_assignment(therapist_x, assignment)
        with pytest.raises(HomeworkError, match="was stopped"):
            services.change_assignment(therapist_x, assignment, repeat_until=date(2026, 3, 31))
    event = AuditEvent.objects.get(action=Action.HOMEWORK_STOPPED)
    assert event.client_id == client_a.pk and event.detail["removed"] == 1


def test_the_change_form_explains_bad_input_and_keeps_what_was_typed(
    therapist_x: User, client_a: User
) -> None:
    with time_machine.travel(MONDAY, tick=False):
        assignment = _weekly_diary(therapist_x, client_a)
        therapist = signed_in(therapist_x)
        url = reverse("homework_assignment", args=[client_a.pk, assignment.pk])
        response = therapist.post(
            url, {"action": "change", "instructions": "Keep my words", "repeat_until": ""}
        )
        page = response.content.decode()
        assert response.status_code == 400
        assert "Say until when the homework repeats." in page and "Keep my words" in page
        response = therapist.post(
            url,
            {"action": "change", "instructions": "Keep my words", "repeat_until": "2026-03-01"},
        )
        assert response.status_code == 400
        assert "stop the homework instead" in response.content.decode()
        assignment.refresh_from_db()
        assert assignment.instructions == "Fill it in each morning."
        response = therapist.post(
            url, {"action": "change", "instructions": "Mornings only", "repeat_until": "2026-03-17"}
        )
        assert response.status_code == 302
        assignment.refresh_from_db()
        assert assignment.instructions == "Mornings only"
        assert assignment.repeat_until == date(2026, 3, 17)


# --- Draft, hand-in, comment through the pages ---------------------------------------------------


def test_draft_then_hand_in_then_comment_through_the_pages(
    therapist_x: User, client_a: User
) -> None:
    therapist, client = signed_in(therapist_x), signed_in(client_a)
    with time_machine.travel(MONDAY, tick=False):
        response = therapist.post(
            reverse("client_homework", args=[client_a.pk]),
            {
                "exercise": "thought_record",
                "instructions": "Try one when you notice the Sunday dread.",
                "first_due": "2026-03-05",
                "repeat": "none",
            },
        )
    assert response.status_code == 302
    homework = Homework.objects.get(client=client_a)

    listing = client.get(reverse("my_homework")).content.decode()
    assert "Thought record" in listing and reverse("homework_fill", args=[homework.pk]) in listing
    page = client.get(reverse("homework_fill", args=[homework.pk])).content.decode()
    assert "Sunday dread" in page and "What went through your mind?" in page

    url = reverse("homework_fill", args=[homework.pk])
    draft = {"action": "save", "f-situation": "Sunday evening, emails", "f-belief": "80"}
    assert client.post(url, draft).status_code == 302
    homework.refresh_from_db()
    assert homework.status == Status.DRAFT and homework.submitted_at is None
    assert services.answers_of(homework)["fields"] == {
        "situation": "Sunday evening, emails",
        "belief": "80",
    }
    # A draft stays with the client: the therapist sees that it is not handed in, not its words.
    review = therapist.get(reverse("homework_review", args=[homework.pk])).content.decode()
    assert "Sunday evening" not in review and "Not handed in yet" in review
    assert "Sunday evening, emails" in client.get(url).content.decode()  # the draft, reopened

    done = {**draft, "action": "submit", "f-thought": "I will fail at work"}
    assert client.post(url, done).status_code == 302
    homework.refresh_from_db()
    assert homework.status == Status.SUBMITTED and homework.submitted_at is not None
    review = therapist.get(reverse("homework_review", args=[homework.pk])).content.decode()
    assert "I will fail at work" in review and "Sunday evening, emails" in review

    # Handed in, it no longer changes.
    response = client.post(url, {**done, "f-thought": "Changed afterwards"}, follow=True)
    assert "already handed this in" in response.content.decode()
    homework.refresh_from_db()
    assert services.answers_of(homework)["fields"]["thought"] == "I will fail at work"

    response = therapist.post(
        reverse("homework_review", args=[homework.pk]), {"comment": "Well spotted. Keep going."}
    )
    assert response.status_code == 302
    page = client.get(url).content.decode()
    assert "Well spotted. Keep going." in page
    assert "your therapist commented" in client.get(reverse("my_homework")).content.decode()
    actions = list(
        AuditEvent.objects.filter(client=client_a, action__startswith="homework.")
        .order_by("sequence")
        .values_list("action", flat=True)
    )
    assert actions == [
        Action.HOMEWORK_ASSIGNED,
        Action.HOMEWORK_SUBMITTED,
        Action.HOMEWORK_COMMENTED,
    ]


def test_answers_and_comments_are_encrypted_at_rest(therapist_x: User, client_a: User) -> None:
    with time_machine.travel(MONDAY, tick=False):
        assignment = services.assign(
            therapist_x,
            client_a,
            exercise="free",
            title="Call your sister",
            instructions="Ask about the weekend",
            first_due=date(2026, 3, 3),
        )
    homework = assignment.homework.get()
    answers = {"fields": {"answer": "We talked for an hour"}, "rows": []}
    services.save_answers(client_a, homework, answers, submit=True)
    services.add_comment(therapist_x, homework, "Lovely to hear")
    with connection.cursor() as cursor:
        cursor.execute("SELECT title, instructions FROM homework_assignment")
        raw = " ".join(str(v) for row in cursor.fetchall() for v in row)
        cursor.execute("SELECT answers, comment FROM homework_homework")
        raw += " ".join(str(v) for row in cursor.fetchall() for v in row)
    for words in ["Call your sister", "weekend", "an hour", "Lovely"]:
        assert words not in raw


def test_rows_keep_what_was_typed_and_drop_blank_ones(therapist_x: User, client_a: User) -> None:
    with time_machine.travel(MONDAY, tick=False):
        assignment = services.assign(
            therapist_x, client_a, exercise="sleep_diary", first_due=date(2026, 3, 3)
        )
    homework = assignment.homework.get()
    client = signed_in(client_a)
    url = reverse("homework_fill", args=[homework.pk])
    row = {"r1-night_of": "2026-03-02", "r1-bedtime": "23:15", "r1-quality": "60"}
    assert client.post(url, {"action": "save", **row}).status_code == 302
    homework.refresh_from_db()
    assert services.answers_of(homework)["rows"] == [
        {
            "night_of": "2026-03-02",
            "bedtime": "23:15",
            "asleep": "",
            "woke": "",
            "quality": "60",
            "notes": "",
        }
    ]
    page = client.get(url).content.decode()
    # The row moved up (the blank one above it dropped), with two blank rows under it.
    assert '<input type="time" name="r0-bedtime" value="23:15"' in page
    assert 'name="r2-bedtime" value=""' in page and 'name="r3-bedtime"' not in page


# --- Bad input -----------------------------------------------------------------------------------


def test_bad_answers_get_clear_errors_and_nothing_typed_is_lost(
    therapist_x: User, client_a: User
) -> None:
    with time_machine.travel(MONDAY, tick=False):
        assignment = services.assign(
            therapist_x, client_a, exercise="thought_record", first_due=date(2026, 3, 3)
        )
    homework = assignment.homework.get()
    client = signed_in(client_a)
    url = reverse("homework_fill", args=[homework.pk])
    sent = {"action": "save", "f-thought": "Nobody likes me", "f-belief": "150"}
    response = client.post(url, sent)
    page = response.content.decode()
    assert response.status_code == 400
    assert "Give a number from 0 to 100." in page and "Nobody likes me" in page
    assert 'href="#id_f-belief"' in page  # the error summary links to the field
    homework.refresh_from_db()
    assert homework.status == Status.ASSIGNED and homework.answers == ""

    response = client.post(url, {"action": "submit"})
    assert response.status_code == 400
    assert "Fill in at least one answer" in response.content.decode()
    homework.refresh_from_db()
    assert homework.status == Status.ASSIGNED

    # A comment before the homework is handed in, and an empty one, are refused.
    therapist = signed_in(therapist_x)
    review = reverse("homework_review", args=[homework.pk])
    response = therapist.post(review, {"comment": "Too early"})
    assert response.status_code == 400
    assert "Comment once the client has handed the homework in." in response.content.decode()
    homework.refresh_from_db()
    assert homework.comment == ""
    services.save_answers(client_a, homework, {"fields": {"thought": "x"}, "rows": []}, submit=True)
    response = therapist.post(reverse("homework_review", args=[homework.pk]), {"comment": "  "})
    assert response.status_code == 400 and "This field is required." in response.content.decode()


def test_bad_assignments_get_clear_errors_and_keep_the_form(
    therapist_x: User, client_a: User
) -> None:
    therapist = signed_in(therapist_x)
    url = reverse("client_homework", args=[client_a.pk])
    with time_machine.travel(MONDAY, tick=False):
        cases = [
            ({"exercise": "free", "first_due": "2026-03-05", "repeat": "none"}, "Give the free"),
            (
                {"exercise": "sleep_diary", "first_due": "2026-03-05", "repeat": "daily"},
                "Say until when",
            ),
            (
                {"exercise": "sleep_diary", "first_due": "2026-03-01", "repeat": "none"},
                "cannot be due in the past",
            ),
            (
                {"exercise": "sleep_diary", "first_due": "not a day", "repeat": "none"},
                "Enter a valid date",
            ),
            (
                {
                    "exercise": "sleep_diary",
                    "first_due": "2026-03-05",
                    "repeat": "daily",
                    "repeat_until": "2026-12-31",
                },
                "more than 60 due dates",
            ),
        ]
        for data, words in cases:
            response = therapist.post(url, {**data, "instructions": "Keep these words"})
            page = response.content.decode()
            assert response.status_code == 400, data
            assert words in page, (data, page[:200])
            assert "Keep these words" in page
    assert not Homework.objects.exists()


# --- Reminders -----------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_the_reminder_is_content_free_waits_for_quiet_hours_and_goes_once(
    therapist_x: User, client_a: User, smtp: Inbox
) -> None:
    prefs = settings_for(client_a)
    prefs.quiet_from, prefs.quiet_until = time(21), time(9, 30)
    prefs.save()
    with time_machine.travel(MONDAY, tick=False) as clock:
        services.assign(
            therapist_x,
            client_a,
            exercise="free",
            title="Walk to the park",
            instructions="Notice three things",
            first_due=date(2026, 3, 3),
            repeat="daily",
            repeat_until=date(2026, 3, 4),
        )
        run_task_worker()
        assert smtp.take() == []  # not due yet
        clock.move_to(datetime(2026, 3, 3, 9, 0, tzinfo=UTC))  # the reminder time, but quiet
        run_task_worker()
        assert smtp.take() == []
        clock.move_to(datetime(2026, 3, 3, 9, 31, tzinfo=UTC))
        run_task_worker()
        [mail] = smtp.take()
        assert mail["To"] == client_a.email
        text = body_of(mail) + str(mail["Subject"])
        for words in ["Walk to the park", "three things", therapist_x.full_name, "Free task"]:
            assert words not in text
        assert reverse("my_homework") in text
        run_task_worker()
        assert smtp.take() == []  # once
        # The next day's homework is handed in before its reminder: no email.
        second = Homework.objects.get(client=client_a, due_on=date(2026, 3, 4))
        services.save_answers(
            client_a, second, {"fields": {"answer": "Done"}, "rows": []}, submit=True
        )
        clock.move_to(datetime(2026, 3, 4, 10, 0, tzinfo=UTC))
        run_task_worker()
        assert smtp.take() == []


def test_no_reminder_once_care_has_ended(therapist_x: User, client_a: User, admin: User) -> None:
    from django.test import RequestFactory

    from rapport.care.models import CareRelationship
    from rapport.care.services import end_care
    from rapport.core.models import EmailDelivery
    from rapport.homework.notifications import deliver_due_reminder

    with time_machine.travel(MONDAY, tick=False):
        assignment = services.assign(
            therapist_x, client_a, exercise="sleep_diary", first_due=date(2026, 3, 3)
        )
    relationship = CareRelationship.objects.get(therapist=therapist_x, client=client_a)
    end_care(relationship.pk, actor=admin, request=RequestFactory().post("/"))
    homework = assignment.homework.get()
    assert deliver_due_reminder(homework.pk, now=datetime(2026, 3, 3, 12, tzinfo=UTC)) is False
    assert not EmailDelivery.objects.exists()


# --- Note prefill and the record -----------------------------------------------------------------


def test_the_next_note_starts_with_homework_since_the_last_session(
    therapist_x: User, client_a: User
) -> None:
    with time_machine.travel(MONDAY, tick=False):
        earlier = services.assign(
            therapist_x, client_a, exercise="values_worksheet", first_due=date(2026, 3, 2)
        )
    ended_session(therapist_x, client_a, at=datetime(2026, 3, 2, 10, 0, tzinfo=UTC))
    with time_machine.travel(MONDAY + timedelta(hours=3), tick=False):
        services.assign(
            therapist_x,
            client_a,
            exercise="sleep_diary",
            first_due=date(2026, 3, 3),
            repeat="daily",
            repeat_until=date(2026, 3, 4),
        )
    done = Homework.objects.get(client=client_a, due_on=date(2026, 3, 3))
    services.save_answers(client_a, done, {"fields": {}, "rows": [{"quality": "50"}]}, submit=True)
    visit = ended_session(therapist_x, client_a, at=datetime(2026, 3, 9, 10, 0, tzinfo=UTC))
    note, _created = notes.start_for_visit(therapist_x, visit)
    first = sections_of(note)[0]["text"]
    assert first == (
        "Homework since the last session: Sleep diary (due 2026-03-03): done; "
        "Sleep diary (due 2026-03-04): not done."
    )
    assert "Values worksheet" not in first  # due before the last session
    assert earlier.homework.get().due_on < date(2026, 3, 3)


def test_homework_in_the_record_and_its_fhir_export(therapist_x: User, client_a: User) -> None:
    with time_machine.travel(MONDAY, tick=False):
        services.assign(
            therapist_x,
            client_a,
            exercise="exposure_hierarchy",
            first_due=date(2026, 3, 3),
            repeat="weekly",
            repeat_until=date(2026, 3, 17),
        )
    first, second, third = Homework.objects.filter(client=client_a).order_by("due_on")
    answers = {"fields": {"goal": "Take the bus"}, "rows": [{"situation": "Bus stop"}]}
    services.save_answers(client_a, first, answers, submit=True)
    services.add_comment(therapist_x, first, "Good first step")
    with time_machine.travel(datetime(2026, 3, 12, 12, 0, tzinfo=UTC), tick=False):
        rows = record.entries(client_a, viewer=therapist_x, export=True)
        resources = record.fhir_resources(client_a, viewer=therapist_x)
    assert [(e.status, e.summary) for e in rows] == [
        ("done", "due 2026-03-03"),
        ("not done", "due 2026-03-10"),
    ]  # the third is not due yet
    assert ("Therapist's comment", "Good first step") in rows[0].details
    assert rows[0].url == reverse("homework_review", args=[first.pk])
    tasks = [Task.model_validate(r) for r in resources]
    assert [t.status for t in tasks] == ["completed", "requested"]
    dumped = json.dumps(resources)
    assert "Take the bus" in dumped and "Bus stop" in dumped and "Good first step" in dumped
    assert third.pk not in {h.pk for h in (first, second)}


def test_the_client_record_shows_recent_completion(therapist_x: User, client_a: User) -> None:
    therapist = signed_in(therapist_x)
    page = therapist.get(reverse("client_record", args=[client_a.pk])).content.decode()
    assert reverse("client_homework", args=[client_a.pk]) in page
    assert "No homework was due in the last 4 weeks." in page
    with time_machine.travel(MONDAY, tick=False):
        services.assign(
            therapist_x,
            client_a,
            exercise="sleep_diary",
            first_due=date(2026, 3, 2),
            repeat="daily",
            repeat_until=date(2026, 3, 6),
        )
    first = Homework.objects.filter(client=client_a).order_by("due_on").first()
    assert first is not None
    services.save_answers(client_a, first, {"fields": {}, "rows": [{"notes": "x"}]}, submit=True)
    with time_machine.travel(datetime(2026, 3, 4, 12, 0, tzinfo=UTC), tick=False):
        page = therapist.get(reverse("client_record", args=[client_a.pk])).content.decode()
    assert "Homework due in the last 4 weeks: 1 of 3 done." in page  # due 2, 3 and 4 March
    home = signed_in(client_a).get(reverse("home")).content.decode()
    assert reverse("my_homework") in home


# --- Query counts -------------------------------------------------------------------------------


def _queries(browser: Any, url: str) -> int:
    with CaptureQueriesContext(connection) as captured:
        assert browser.get(url).status_code == 200
    return len(captured)


def test_list_pages_read_a_fixed_number_of_queries(therapist_x: User, client_a: User) -> None:
    from rapport.journal.services import write_entry

    therapist, client = signed_in(therapist_x), signed_in(client_a)
    pages = [
        (therapist, reverse("client_homework", args=[client_a.pk])),
        (therapist, reverse("client_journal", args=[client_a.pk])),
        (therapist, reverse("client_progress", args=[client_a.pk])),
        (client, reverse("my_homework")),
        (client, reverse("my_journal")),
    ]

    def add(days: int) -> None:
        with time_machine.travel(MONDAY, tick=False):
            services.assign(
                therapist_x,
                client_a,
                exercise="sleep_diary",
                first_due=date(2026, 3, 3),
                repeat="daily",
                repeat_until=date(2026, 3, 2) + timedelta(days=days),
            )
        for n in range(days):
            write_entry(client_a, mood=n % 11, text=f"Day {n}", shared=n % 2 == 0)

    add(1)
    for browser, url in pages:  # the first page of a session reads more (the session itself)
        _queries(browser, url)
    few = [_queries(browser, url) for browser, url in pages]
    add(12)
    assert [_queries(browser, url) for browser, url in pages] == few
