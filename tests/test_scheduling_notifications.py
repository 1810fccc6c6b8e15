"""Appointment emails, calendar invitations, reminders and subscription feeds, end to end.

Mail goes through Django's SMTP backend to a real SMTP server (aiosmtpd, ``tests.mail``) started
by the test; the task worker runs as in production (``db_worker``) while time travels to each
reminder. Every
calendar is parsed with ``icalendar``, as a calendar app would.
"""

from __future__ import annotations

import logging
import re
from datetime import datetime, timedelta
from email.message import EmailMessage as Mail
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from django_tasks_db.models import DBTaskResult
from icalendar import Calendar, Event

from rapport.accounts.models import Practice, User, hash_token
from rapport.audit.models import AuditEvent
from rapport.audit.services import Action
from rapport.care.models import ClientProfile
from rapport.scheduling import notifications
from rapport.scheduling.booking import BookingRequest, book_appointment
from rapport.scheduling.changes import cancel_appointment, reschedule_appointment, set_status
from rapport.scheduling.models import (
    Appointment,
    AppointmentStatus,
    CalendarFeed,
    ReminderDelivery,
    SessionType,
)
from rapport.scheduling.tasks import send_reminder
from tests.conftest import signed_in
from tests.mail import Inbox, body_of, text_of
from tests.scheduling_data import direct_appointment
from tests.worker import run_task_worker

# Written into the client's intake notes and the session type's name: must reach no message.
CANARY = "CANARY-intake-panic-attacks-7f3a"
CLINICAL_TYPE_NAME = "Trauma-focused CBT CANARY-TYPE"
THERAPIST_ZONE = "Europe/London"
CLIENT_ZONE = "America/Los_Angeles"
DAY, HOUR = 1440, 60


# --- helpers -------------------------------------------------------------------------------------


def calendars_in(message: Mail) -> list[tuple[str, Calendar]]:
    """Each text/calendar part: its ``method`` content-type parameter and the parsed calendar."""
    found = []
    for part in message.walk():
        if part.get_content_type() == "text/calendar":
            calendar = Calendar.from_ical(part.get_content())
            assert isinstance(calendar, Calendar)
            found.append((str(part.get_param("method")), calendar))
    return found


def only_event(calendar: Calendar) -> Event:
    [event] = calendar.events
    return event


def recipient(message: Mail) -> str:
    return str(message["To"])


def link_to(appointment: Appointment) -> str:
    return "http://127.0.0.1:8000" + reverse(
        "appointment_detail", kwargs={"appointment_id": appointment.pk}
    )


def practice_setup(therapist: User, client: User) -> SessionType:
    """Therapist in London, client in Los Angeles, a clinical canary in the client's record."""
    User.objects.filter(pk=therapist.pk).update(time_zone=THERAPIST_ZONE)
    User.objects.filter(pk=client.pk).update(time_zone=CLIENT_ZONE)
    profile, _ = ClientProfile.objects.get_or_create(client=client)
    profile.intake_notes = CANARY
    profile.save()
    return SessionType.objects.create(
        therapist=therapist, name=CLINICAL_TYPE_NAME, minutes=50, buffer_minutes=10
    )


def book(therapist: User, client: User, session_type: SessionType, at: datetime) -> Appointment:
    """A booking made by the therapist (no slot check), through the real service."""
    therapist.refresh_from_db()
    client.refresh_from_db()
    return book_appointment(therapist, BookingRequest(client, session_type, "video", at))


def next_whole_hour(after: datetime) -> datetime:
    return after.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)


def check_invitation(
    message: Mail,
    appointment: Appointment,
    *,
    method: str,
    zone: str,
    summary: str,
    status: str | None = None,
) -> Event:
    """The one calendar of ``message``: an iMIP ``method`` for ``appointment`` in ``zone``."""
    [(content_method, calendar)] = calendars_in(message)
    assert content_method == method
    assert calendar["METHOD"] == method
    event = only_event(calendar)
    assert event.uid == f"{appointment.uid}@rapport"
    assert event.sequence == appointment.revision
    assert event["DTSTART"].params["TZID"] == zone
    assert [tz.tz_name for tz in calendar.timezones] == [zone]
    local = appointment.starts_at.astimezone(ZoneInfo(zone))
    assert isinstance(event.start, datetime)
    assert event.start == appointment.starts_at
    assert event.start.replace(tzinfo=None) == local.replace(tzinfo=None)
    assert event.end == appointment.ends_at
    assert str(event["SUMMARY"]) == summary
    expected_status = status or ("CANCELLED" if method == "CANCEL" else "CONFIRMED")
    assert str(event["STATUS"]) == expected_status
    [attendee] = event.attendees
    assert attendee.lower() == f"mailto:{recipient(message)}"
    return event


# --- Emails, invitations and reminders -----------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_change_emails_carry_invitations_and_reminders_arrive_once(
    smtp: Inbox, therapist_x: User, client_a: User
) -> None:
    session_type = practice_setup(therapist_x, client_a)
    base = next_whole_hour(timezone.now()) + timedelta(days=1)
    with time_machine.travel(base) as clock:
        first = book(therapist_x, client_a, session_type, base + timedelta(days=3))
        doomed = book(therapist_x, client_a, session_type, base + timedelta(days=4))
        moving = book(therapist_x, client_a, session_type, base + timedelta(days=5))
        original_time = moving.starts_at
        # Nothing is mailed from the request: emails and reminders are queued tasks.
        assert smtp.take() == []
        # Per booking: two emails, two reminders and the push "starts in 10 minutes".
        assert DBTaskResult.objects.count() == 3 * (2 + 2 + 1)

        run_task_worker()
        booked = smtp.take()
        assert len(booked) == 6
        for appointment in (first, doomed, moving):
            for message in booked:
                if link_to(appointment) not in body_of(message):
                    continue
                is_client = recipient(message) == client_a.email
                zone = CLIENT_ZONE if is_client else THERAPIST_ZONE
                check_invitation(
                    message,
                    appointment,
                    method="REQUEST",
                    zone=zone,
                    summary="Session with Xena Therapist" if is_client else "Session with AC",
                )
        to_client = [m for m in booked if recipient(m) == client_a.email]
        to_therapist = [m for m in booked if recipient(m) == therapist_x.email]
        assert len(to_client) == len(to_therapist) == 3

        # The client reads their own time first, and the therapist's time as well.
        [client_mail] = [m for m in to_client if link_to(first) in body_of(m)]
        body = body_of(client_mail)
        assert client_mail["Subject"].startswith("Session booked: ")
        assert client_mail["Auto-Submitted"] == "auto-generated"
        assert "Your session with Xena Therapist is booked." in body
        assert f"({CLIENT_ZONE})" in client_mail["Subject"]
        when = re.search(r"^When: (.+)$", body, re.MULTILINE)
        other = re.search(r"^For Xena Therapist: (.+)$", body, re.MULTILINE)
        assert when is not None and other is not None
        assert when.group(1).endswith(f"({CLIENT_ZONE})")
        assert other.group(1).endswith(f"({THERAPIST_ZONE})")
        local = first.starts_at.astimezone(ZoneInfo(CLIENT_ZONE))
        assert local.strftime("%A") in when.group(1)
        assert "How: Video" in body
        assert link_to(first) in body
        # The therapist sees initials (the practice default), never the client's name.
        [therapist_mail] = [m for m in to_therapist if link_to(first) in body_of(m)]
        assert "Your session with AC is booked." in body_of(therapist_mail)
        assert "Alice" not in text_of(therapist_mail)
        assert client_a.email not in text_of(therapist_mail)

        # The client cancels one; the therapist moves another twice before the worker runs.
        client_a.refresh_from_db()
        therapist_x.refresh_from_db()
        cancel_appointment(client_a, doomed)
        [moving] = reschedule_appointment(
            therapist_x, moving, moving.starts_at + timedelta(days=1, hours=2)
        )
        intermediate_time = moving.starts_at
        [moving] = reschedule_appointment(
            therapist_x, moving, moving.starts_at + timedelta(hours=1)
        )
        doomed.refresh_from_db()
        assert (doomed.revision, moving.revision) == (1, 2)

        run_task_worker()
        changed = smtp.take()
        # Two cancellations; only the newest move is mailed (the first move was superseded).
        assert len(changed) == 4
        cancelled = [m for m in changed if link_to(doomed) in text_of(m)]
        moved = [m for m in changed if link_to(moving) in text_of(m)]
        assert len(cancelled) == len(moved) == 2
        for message in cancelled:
            is_client = recipient(message) == client_a.email
            assert message["Subject"].startswith("Session cancelled: ")
            event = check_invitation(
                message,
                doomed,
                method="CANCEL",
                zone=CLIENT_ZONE if is_client else THERAPIST_ZONE,
                summary="Session with Xena Therapist" if is_client else "Session with AC",
            )
            assert event.sequence == 1
        assert "You cancelled your session with Xena Therapist." in body_of(
            next(m for m in cancelled if recipient(m) == client_a.email)
        )
        for message in moved:
            is_client = recipient(message) == client_a.email
            assert message["Subject"].startswith("Session moved: ")
            event = check_invitation(
                message,
                moving,
                method="REQUEST",
                zone=CLIENT_ZONE if is_client else THERAPIST_ZONE,
                summary="Session with Xena Therapist" if is_client else "Session with AC",
            )
            assert event.sequence == 2
            assert event.start == moving.starts_at != original_time

        # Reminders: travel to every time any reminder was ever queued for.
        reminders: list[tuple[datetime, Mail]] = []
        first_due = first.starts_at - timedelta(minutes=DAY)
        clock.move_to(first_due - timedelta(minutes=1))
        run_task_worker()
        assert smtp.take() == [], "no reminder before its time"

        clock.move_to(first_due + timedelta(minutes=1))
        run_task_worker()
        [reminder] = smtp.take()
        reminders.append((first_due, reminder))
        # The same reminder again: queued twice more, and the finished task re-run as after a
        # worker restart. Nothing is sent twice.
        send_reminder.enqueue(first.pk, DAY, first.starts_at.isoformat())
        send_reminder.enqueue(first.pk, DAY, first.starts_at.isoformat())
        DBTaskResult.objects.filter(
            task_path__endswith="send_reminder", status="SUCCESSFUL"
        ).update(status="READY", finished_at=None)
        run_task_worker()
        assert smtp.take() == []
        assert ReminderDelivery.objects.filter(appointment=first).count() == 1

        ever_booked = [
            first.starts_at,
            doomed.starts_at,
            original_time,
            intermediate_time,
            moving.starts_at,
        ]
        due_times = sorted(
            # ... and the push "starts in 10 minutes" (nobody here has a device: it sends none).
            {start - timedelta(minutes=m) for start in ever_booked for m in (DAY, HOUR, 10)}
        )
        for due in due_times:
            if due <= first_due:
                continue
            clock.move_to(due + timedelta(minutes=1))
            run_task_worker()
            reminders.extend((due, message) for message in smtp.take())

        # Everything queued has run; a last pass (a restarted worker) sends nothing.
        assert not DBTaskResult.objects.filter(status="READY").exists()
        DBTaskResult.objects.filter(task_path__endswith="send_reminder").update(
            status="READY", finished_at=None
        )
        clock.move_to(due_times[-1] + timedelta(minutes=2))
        run_task_worker()
        assert smtp.take() == []

    got = sorted(
        (
            link_to(first) in body_of(message),
            message["Subject"],
            due,
        )
        for due, message in reminders
    )
    expected = sorted(
        [
            (True, "Reminder: your session with Xena Therapist in 24 hours", first_due),
            (
                True,
                "Reminder: your session with Xena Therapist in 1 hour",
                first.starts_at - timedelta(minutes=HOUR),
            ),
            (
                False,
                "Reminder: your session with Xena Therapist in 24 hours",
                moving.starts_at - timedelta(minutes=DAY),
            ),
            (
                False,
                "Reminder: your session with Xena Therapist in 1 hour",
                moving.starts_at - timedelta(minutes=HOUR),
            ),
        ]
    )
    assert got == expected
    for due, message in reminders:
        assert recipient(message) == client_a.email
        assert calendars_in(message) == []
        body = body_of(message)
        target = first if link_to(first) in body else moving
        assert link_to(target) in body
        assert f"({CLIENT_ZONE})" in body and f"({THERAPIST_ZONE})" in body
        assert target.starts_at - due in (timedelta(minutes=DAY), timedelta(minutes=HOUR))
    assert set(
        ReminderDelivery.objects.values_list("appointment_id", "minutes_before", "starts_at")
    ) == {
        (first.pk, DAY, first.starts_at),
        (first.pk, HOUR, first.starts_at),
        (moving.pk, DAY, moving.starts_at),
        (moving.pk, HOUR, moving.starts_at),
    }

    # Nothing clinical anywhere: not the intake notes, not the session type's name.
    for message in [*booked, *changed, *(m for _due, m in reminders)]:
        assert CANARY not in text_of(message)
        assert "CANARY" not in text_of(message)


@pytest.mark.django_db(transaction=True)
def test_a_booking_cancelled_before_the_worker_runs_sends_only_the_cancellation(
    smtp: Inbox, therapist_x: User, client_a: User
) -> None:
    session_type = practice_setup(therapist_x, client_a)
    base = next_whole_hour(timezone.now()) + timedelta(days=1)
    with time_machine.travel(base) as clock:
        appointment = book(therapist_x, client_a, session_type, base + timedelta(days=2))
        therapist_x.refresh_from_db()
        cancel_appointment(therapist_x, appointment)
        run_task_worker()
        messages = smtp.take()
        assert sorted(recipient(m) for m in messages) == sorted([client_a.email, therapist_x.email])
        assert all(method == "CANCEL" for m in messages for method, _cal in calendars_in(m))
        assert "Your session with Xena Therapist was cancelled." in body_of(
            next(m for m in messages if recipient(m) == client_a.email)
        )
        for due in (DAY, HOUR):
            clock.move_to(appointment.starts_at - timedelta(minutes=due - 1))
            run_task_worker()
        assert smtp.take() == []
        assert not ReminderDelivery.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_a_request_is_tentative_until_the_therapist_confirms_it(
    smtp: Inbox, therapist_x: User, client_a: User
) -> None:
    practice_setup(therapist_x, client_a)
    therapist_x.refresh_from_db()
    client_a.refresh_from_db()
    base = next_whole_hour(timezone.now()) + timedelta(days=1)
    with time_machine.travel(base):
        # As a client booking waits when the practice requires approval.
        request = direct(therapist_x, client_a, base + timedelta(days=2), "requested")
        notifications.appointment_changed(request.pk, "booked")
        run_task_worker()
        asked = {recipient(m): m for m in smtp.take()}
        assert set(asked) == {client_a.email, therapist_x.email}
        assert "Please confirm or decline it in Rapport." in body_of(asked[therapist_x.email])
        assert "You will hear from us when it is confirmed." in body_of(asked[client_a.email])
        assert asked[client_a.email]["Subject"].startswith("Session requested: ")
        for message in asked.values():
            is_client = recipient(message) == client_a.email
            check_invitation(
                message,
                request,
                method="REQUEST",
                zone=CLIENT_ZONE if is_client else THERAPIST_ZONE,
                summary="Session with Xena Therapist" if is_client else "Session with AC",
                status="TENTATIVE",
            )

        confirmed = set_status(therapist_x, request, AppointmentStatus.CONFIRMED)
        run_task_worker()
        for message in smtp.take():
            is_client = recipient(message) == client_a.email
            assert message["Subject"].startswith("Session booked: ")
            event = check_invitation(
                message,
                confirmed,
                method="REQUEST",
                zone=CLIENT_ZONE if is_client else THERAPIST_ZONE,
                summary="Session with Xena Therapist" if is_client else "Session with AC",
            )
            assert event.sequence == 1


@pytest.mark.django_db(transaction=True)
def test_a_worker_that_was_down_sends_only_the_closest_reminder(
    smtp: Inbox, therapist_x: User, client_a: User
) -> None:
    session_type = practice_setup(therapist_x, client_a)
    base = next_whole_hour(timezone.now()) + timedelta(days=1)
    with time_machine.travel(base) as clock:
        appointment = book(therapist_x, client_a, session_type, base + timedelta(days=2))
        run_task_worker()
        smtp.take()
        # The worker comes back 50 minutes before the session: both reminders are due.
        clock.move_to(appointment.starts_at - timedelta(minutes=50))
        run_task_worker()
        [reminder] = smtp.take()
        assert reminder["Subject"] == "Reminder: your session with Xena Therapist in 1 hour"
        # After the start, nothing more.
        clock.move_to(appointment.starts_at + timedelta(minutes=5))
        send_reminder.enqueue(appointment.pk, HOUR, appointment.starts_at.isoformat())
        run_task_worker()
        assert smtp.take() == []


@pytest.mark.django_db(transaction=True)
def test_reminder_offsets_follow_the_practice_and_skip_the_past(
    smtp: Inbox, therapist_x: User, client_a: User
) -> None:
    session_type = practice_setup(therapist_x, client_a)
    Practice.objects.update_or_create(id=1, defaults={"reminder_minutes": "2880,30,1440"})
    base = next_whole_hour(timezone.now()) + timedelta(days=1)
    with time_machine.travel(base):
        # 26 hours ahead: the 48 h reminder is already past and is not queued.
        appointment = book(therapist_x, client_a, session_type, base + timedelta(hours=26))
    queued = sorted(
        (row.args_kwargs["args"][1], row.run_after)
        for row in DBTaskResult.objects.filter(task_path__endswith="send_reminder")
    )
    assert queued == [
        (30, appointment.starts_at - timedelta(minutes=30)),
        (1440, appointment.starts_at - timedelta(minutes=1440)),
    ]


# --- Subscription feeds --------------------------------------------------------------------------


def direct(
    therapist: User,
    client: User,
    starts_at: datetime,
    status: str = AppointmentStatus.CONFIRMED,
) -> Appointment:
    session_type = SessionType.objects.filter(therapist=therapist).first()
    if session_type is None:
        session_type = SessionType.objects.create(therapist=therapist, name="Session", minutes=50)
    return direct_appointment(session_type, client, starts_at, status=status)


def token_on(page: str) -> str | None:
    match = re.search(r'value="http://127\.0\.0\.1:8000/calendar/([A-Za-z0-9_-]+)\.ics"', page)
    return match.group(1) if match else None


def feed_of(token: str) -> Calendar:
    response = Client().get(f"/calendar/{token}.ics")
    assert response.status_code == 200
    assert response["Content-Type"] == "text/calendar; charset=utf-8"
    assert "private" in response["Cache-Control"]
    calendar = Calendar.from_ical(response.content)
    assert isinstance(calendar, Calendar)
    assert calendar["METHOD"] == "PUBLISH"
    return calendar


@pytest.fixture
def diary(therapist_x: User, therapist_y: User, client_a: User, client_b: User) -> dict[str, Any]:
    """Appointments of both pairs: past, upcoming, cancelled, and outside the feed's window."""
    User.objects.filter(pk=client_a.pk).update(time_zone=CLIENT_ZONE)
    User.objects.filter(pk=therapist_x.pk).update(time_zone=THERAPIST_ZONE)
    now = next_whole_hour(timezone.now())
    return {
        "recent": direct(therapist_x, client_a, now - timedelta(days=7), "completed"),
        "upcoming": direct(therapist_x, client_a, now + timedelta(days=3)),
        "requested": direct(therapist_x, client_a, now + timedelta(days=5), "requested"),
        "cancelled": direct(therapist_x, client_a, now + timedelta(days=4), "cancelled"),
        "long_ago": direct(therapist_x, client_a, now - timedelta(days=90), "completed"),
        "far_ahead": direct(therapist_x, client_a, now + timedelta(days=400)),
        "others": direct(therapist_y, client_b, now + timedelta(days=3)),
    }


def test_feed_address_is_shown_once_regenerated_and_revoked(
    client_a: User, diary: dict[str, Any]
) -> None:
    browser = signed_in(client_a)
    settings_page = browser.get("/settings/").content.decode()
    assert reverse("calendar_feed") in settings_page

    page = browser.get("/settings/calendar/").content.decode()
    assert "You have no calendar address." in page
    response = browser.post("/settings/calendar/", {"action": "regenerate"})
    assert response.status_code == 200
    token = token_on(response.content.decode())
    assert token is not None
    assert "it is shown only this once" in response.content.decode()
    feed = CalendarFeed.objects.get(user=client_a)
    assert feed.token_hash == hash_token(token) != token
    # The next visit shows the status, never the address again.
    page = browser.get("/settings/calendar/").content.decode()
    assert token not in page and "Your calendar address was created on" in page

    calendar = feed_of(token)
    events = {str(event.uid): event for event in calendar.events}
    wanted = ("recent", "upcoming", "requested")
    assert set(events) == {f"{diary[name].uid}@rapport" for name in wanted}
    for name in wanted:
        event = events[f"{diary[name].uid}@rapport"]
        assert str(event["SUMMARY"]) == "Session with Xena Therapist"
        assert event["DTSTART"].params["TZID"] == CLIENT_ZONE
        assert event.start == diary[name].starts_at
        assert link_to(diary[name]) == str(event["URL"])
    assert str(events[f"{diary['requested'].uid}@rapport"]["STATUS"]) == "TENTATIVE"
    assert [tz.tz_name for tz in calendar.timezones] == [CLIENT_ZONE]

    # A new address: the old one stops working at once.
    response = browser.post("/settings/calendar/", {"action": "regenerate"})
    new_token = token_on(response.content.decode())
    assert new_token is not None and new_token != token
    assert Client().get(f"/calendar/{token}.ics").status_code == 404
    feed_of(new_token)

    # Turned off: gone.
    response = browser.post("/settings/calendar/", {"action": "revoke"})
    assert response.status_code == 302 and response["Location"] == "/settings/calendar/"
    assert Client().get(f"/calendar/{new_token}.ics").status_code == 404
    assert not CalendarFeed.objects.filter(user=client_a).exists()
    assert "You have no calendar address." in browser.get("/settings/calendar/").content.decode()

    changes = AuditEvent.objects.filter(
        action=Action.CALENDAR_FEED_CHANGED, actor=client_a
    ).order_by("sequence")
    assert [event.detail["change"] for event in changes] == ["created", "regenerated", "revoked"]


def test_therapist_feed_shows_initials_unless_the_practice_shows_names(
    therapist_x: User, diary: dict[str, Any]
) -> None:
    browser = signed_in(therapist_x)
    token = token_on(browser.post("/settings/calendar/", {"action": "regenerate"}).content.decode())
    assert token is not None
    body = Client().get(f"/calendar/{token}.ics").content.decode()
    assert "Alice" not in body and "client.a@example.test" not in body
    assert "Bob" not in body, "another therapist's client"
    calendar = feed_of(token)
    assert {str(event["SUMMARY"]) for event in calendar.events} == {"Session with AC"}
    assert {str(event.uid) for event in calendar.events} == {
        f"{diary[name].uid}@rapport" for name in ("recent", "upcoming", "requested")
    }
    assert all(event["DTSTART"].params["TZID"] == THERAPIST_ZONE for event in calendar.events)

    Practice.objects.update_or_create(id=1, defaults={"calendar_shows_client_names": True})
    calendar = feed_of(token)
    assert {str(event["SUMMARY"]) for event in calendar.events} == {"Session with Alice Client"}


def test_feed_refusals(client_a: User, therapist_y: User, diary: dict[str, Any]) -> None:
    # Signed out: the settings page asks to sign in, and POSTs change nothing.
    response = Client().post("/settings/calendar/", {"action": "regenerate"})
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")
    assert not CalendarFeed.objects.exists()
    browser = signed_in(client_a)
    assert browser.post("/settings/calendar/", {"action": "steal"}).status_code == 400
    assert browser.put("/settings/calendar/").status_code == 405
    token = token_on(browser.post("/settings/calendar/", {"action": "regenerate"}).content.decode())
    assert token is not None
    # The feed only reads.
    assert Client().post(f"/calendar/{token}.ics").status_code == 405
    assert Client().head(f"/calendar/{token}.ics").status_code == 200
    # Another user's token opens only their own calendar; a deactivated owner's, nothing.
    other = token_on(
        signed_in(therapist_y)
        .post("/settings/calendar/", {"action": "regenerate"})
        .content.decode()
    )
    assert other is not None
    assert {str(e.uid) for e in feed_of(other).events} == {f"{diary['others'].uid}@rapport"}
    User.objects.filter(pk=client_a.pk).update(is_active=False)
    assert Client().get(f"/calendar/{token}.ics").status_code == 404


def test_feed_tokens_are_kept_out_of_access_logs() -> None:
    from rapport.lib.redact import RedactSecrets

    record = logging.LogRecord(
        "uvicorn.access", logging.INFO, __file__, 1, '%s - "%s %s"', ("1.2.3.4", "GET", ""), None
    )
    record.args = ("1.2.3.4", "GET", "/calendar/s3cret-Token_value.ics")
    RedactSecrets().filter(record)
    assert "s3cret" not in record.getMessage()
    assert "/calendar/[redacted]" in record.getMessage()
    page = logging.LogRecord(
        "uvicorn.access", logging.INFO, __file__, 1, "GET /settings/calendar/", None, None
    )
    RedactSecrets().filter(page)
    assert page.getMessage() == "GET /settings/calendar/"
