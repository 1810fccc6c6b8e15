"""The scheduling screens: availability, schedule, booking, one appointment, consent.

Time is frozen on Monday 7 January 2030, 12:00 UTC (07:00 in New York, 04:00 in Los Angeles).
therapist_x works Monday to Friday 09:00-17:00 New York time; client_a lives in Los Angeles.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, time, timedelta
from typing import Any

import pytest
import time_machine
from django.core.exceptions import ValidationError
from django.test import Client

from rapport.accounts.models import Practice, User
from rapport.audit.models import AuditEvent
from rapport.care.models import CareRelationship
from rapport.scheduling.booking import BookingRequest, book_appointment
from rapport.scheduling.models import (
    Appointment,
    AppointmentStatus,
    AvailabilityChange,
    ConsentDocument,
    ConsentSignature,
    OfferedTo,
    SessionType,
    WeeklyWindow,
)
from tests.conftest import signed_in
from tests.scheduling_data import consent_version, direct_appointment, ready_client

NOW = datetime(2030, 1, 7, 12, 0, tzinfo=UTC)
FIRST_OPEN = "2030-01-08T14:00Z"  # Tuesday 09:00 in New York: the first slot after 12 h notice


@pytest.fixture(autouse=True)
def clock() -> Iterator[Any]:
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


@pytest.fixture
def session_type(therapist_x: User, client_a: User) -> SessionType:
    User.objects.filter(pk=therapist_x.pk).update(time_zone="America/New_York")
    User.objects.filter(pk=client_a.pk).update(time_zone="America/Los_Angeles")
    therapist_x.time_zone = "America/New_York"
    client_a.time_zone = "America/Los_Angeles"
    WeeklyWindow.objects.bulk_create(
        WeeklyWindow(
            therapist=therapist_x,
            weekday=day,
            start_time=time(9),
            end_time=time(17),
            time_zone="America/New_York",
        )
        for day in range(5)
    )
    return SessionType.objects.create(
        therapist=therapist_x, name="Individual session", minutes=50, buffer_minutes=10
    )


def page(response: Any) -> str:
    return str(response.content.decode())


def text(response: Any) -> str:
    """The page's text without tags, whitespace collapsed, en dashes as hyphens."""
    words = re.sub(r"<[^>]+>", " ", page(response)).replace("\N{EN DASH}", "-")
    return " ".join(words.split())


def book(browser: Client, session_type: SessionType, slot: str, modality: str = "video") -> Any:
    return browser.post(
        "/book/", {"session_type": session_type.pk, "modality": modality, "slot": slot}
    )


# --- Availability ----------------------------------------------------------------------------


def test_therapist_adds_hours_in_their_own_zone_and_it_is_audited(
    session_type: SessionType, therapist_x: User
) -> None:
    browser = signed_in(therapist_x)
    assert "Times on this page are in your time zone, America/New_York" in text(
        browser.get("/schedule/availability/")
    )
    response = browser.post(
        "/schedule/availability/hours/",
        {"window-weekday": "5", "window-start_time": "10:00", "window-end_time": "12:30"},
    )
    assert response.status_code == 302
    window = WeeklyWindow.objects.get(therapist=therapist_x, weekday=5)
    assert (window.start_time, window.end_time, window.time_zone) == (
        time(10),
        time(12, 30),
        "America/New_York",
    )
    assert AuditEvent.objects.filter(action="availability.changed", actor=therapist_x).exists()
    assert "Saturday 10:00-12:30" in text(browser.get("/schedule/availability/"))


@pytest.mark.parametrize(
    ("start", "end", "message"),
    [
        ("12:00", "11:00", "must end after they start"),
        ("16:00", "18:00", "overlap your hours on Monday 09:00-17:00"),
        ("25:00", "26:00", "Enter a valid time"),
    ],
)
def test_bad_hours_are_refused_with_a_message(
    session_type: SessionType, therapist_x: User, start: str, end: str, message: str
) -> None:
    browser = signed_in(therapist_x)
    response = browser.post(
        "/schedule/availability/hours/",
        {"window-weekday": "0", "window-start_time": start, "window-end_time": end},
    )
    assert response.status_code == 200
    assert message in text(response)
    assert WeeklyWindow.objects.filter(therapist=therapist_x).count() == 5


def test_an_unknown_time_zone_is_a_clear_message_not_an_error(
    session_type: SessionType, therapist_x: User
) -> None:
    User.objects.filter(pk=therapist_x.pk).update(time_zone="Mars/Olympus_Mons")
    browser = signed_in(therapist_x)
    response = browser.get("/schedule/availability/")
    assert response.status_code == 200
    assert "“Mars/Olympus_Mons” is not known" in text(response)
    response = browser.post(
        "/schedule/availability/hours/",
        {"window-weekday": "5", "window-start_time": "10:00", "window-end_time": "12:00"},
    )
    assert response.status_code == 200
    assert "is not known. Choose your time zone in your account." in text(response)
    response = browser.post(
        "/schedule/availability/changes/",
        {
            "change-kind": "off",
            "change-start_date": "2030-01-09",
            "change-start_time": "09:00",
            "change-end_date": "2030-01-09",
            "change-end_time": "12:00",
        },
    )
    assert "is not known" in text(response)
    response = browser.post(
        "/schedule/book/",
        {
            "client": therapist_x.caseload.get().client_id,
            "session_type": session_type.pk,
            "modality": "video",
            "day": "2030-01-09",
            "start_time": "10:00",
            "repeat": "0",
        },
    )
    assert "is not known" in text(response)
    assert browser.get("/schedule/").status_code == 200
    assert not WeeklyWindow.objects.filter(weekday=5).exists()
    assert not AvailabilityChange.objects.exists()
    assert not Appointment.objects.exists()


def test_time_off_is_entered_in_the_therapists_zone(
    session_type: SessionType, therapist_x: User
) -> None:
    browser = signed_in(therapist_x)
    response = browser.post(
        "/schedule/availability/changes/",
        {
            "change-kind": "off",
            "change-start_date": "2030-01-09",
            "change-start_time": "09:00",
            "change-end_date": "2030-01-09",
            "change-end_time": "13:00",
        },
    )
    assert response.status_code == 302
    change = AvailabilityChange.objects.get()
    assert change.starts_at == datetime(2030, 1, 9, 14, 0, tzinfo=UTC)
    assert change.ends_at == datetime(2030, 1, 9, 18, 0, tzinfo=UTC)

    # The same change again (a double-submitted form) and a change already over are refused.
    for start_date, message in [("2030-01-09", "already in your list"), ("2030-01-01", "over")]:
        response = browser.post(
            "/schedule/availability/changes/",
            {
                "change-kind": "off",
                "change-start_date": start_date,
                "change-start_time": "09:00",
                "change-end_date": start_date,
                "change-end_time": "13:00",
            },
        )
        assert response.status_code == 200
        assert message in text(response)
    assert AvailabilityChange.objects.count() == 1


def test_changes_never_cancel_bookings_and_conflicts_are_listed(
    session_type: SessionType, therapist_x: User, client_a: User
) -> None:
    wednesday_ten = datetime(2030, 1, 9, 15, 0, tzinfo=UTC)  # 10:00 in New York
    appointment = direct_appointment(session_type, client_a, wednesday_ten)
    browser = signed_in(therapist_x)
    assert "Conflicts to resolve" not in text(browser.get("/schedule/availability/"))

    window = WeeklyWindow.objects.get(therapist=therapist_x, weekday=2)
    response = browser.post(f"/schedule/availability/hours/{window.pk}/delete/", follow=True)
    assert response.status_code == 200
    body = text(response)
    assert "Conflicts to resolve" in body
    assert "nothing was cancelled" in body
    assert f'href="/appointments/{appointment.pk}/"' in page(response)
    appointment.refresh_from_db()
    assert appointment.status == AppointmentStatus.CONFIRMED

    # Extra hours that cover it resolve the conflict.
    browser.post(
        "/schedule/availability/changes/",
        {
            "change-kind": "extra",
            "change-start_date": "2030-01-09",
            "change-start_time": "09:00",
            "change-end_date": "2030-01-09",
            "change-end_time": "12:00",
        },
    )
    assert "Conflicts to resolve" not in text(browser.get("/schedule/availability/"))


def test_foreign_windows_changes_and_session_types_are_404(
    session_type: SessionType, therapist_x: User, therapist_y: User
) -> None:
    window = WeeklyWindow.objects.filter(therapist=therapist_x).first()
    assert window is not None
    change = AvailabilityChange.objects.create(
        therapist=therapist_x,
        kind="off",
        starts_at=NOW + timedelta(days=1),
        ends_at=NOW + timedelta(days=2),
    )
    outsider = signed_in(therapist_y)
    assert outsider.post(f"/schedule/availability/hours/{window.pk}/delete/").status_code == 404
    assert outsider.post(f"/schedule/availability/changes/{change.pk}/delete/").status_code == 404
    response = outsider.post(
        f"/schedule/session-types/{session_type.pk}/",
        {f"type-{session_type.pk}-name": "Mine now", f"type-{session_type.pk}-minutes": "15"},
    )
    assert response.status_code == 404
    assert WeeklyWindow.objects.filter(pk=window.pk).exists()
    assert AvailabilityChange.objects.filter(pk=change.pk).exists()
    session_type.refresh_from_db()
    assert session_type.name == "Individual session"


def session_type_data(prefix: str, **values: str) -> dict[str, str]:
    data = {
        "name": "Couples session",
        "minutes": "80",
        "allow_video": "on",
        "buffer_minutes": "10",
        "min_notice_hours": "24",
        "horizon_days": "28",
        "offered_to": "all",
        "is_active": "on",
        **values,
    }
    return {f"{prefix}-{k}": v for k, v in data.items() if v != ""}


def test_session_types_are_added_and_edited_with_their_rules(
    session_type: SessionType, therapist_x: User
) -> None:
    browser = signed_in(therapist_x)
    response = browser.post("/schedule/session-types/", session_type_data("new-type"))
    assert response.status_code == 302
    added = SessionType.objects.get(therapist=therapist_x, name="Couples session")
    assert (added.minutes, added.modalities, added.horizon_days) == (80, ["video"], 28)

    bad = [
        ({"minutes": "10"}, "greater than or equal to 15"),
        ({"minutes": "300"}, "less than or equal to 240"),
        ({"allow_video": ""}, "Choose at least one way to hold the session."),
        ({"name": "individual SESSION"}, "already have a session type named"),
    ]
    for values, message in bad:
        response = browser.post("/schedule/session-types/", session_type_data("new-type", **values))
        assert response.status_code == 200
        assert message in text(response), message
    assert SessionType.objects.filter(therapist=therapist_x).count() == 2

    prefix = f"type-{session_type.pk}"
    response = browser.post(
        f"/schedule/session-types/{session_type.pk}/",
        session_type_data(prefix, name="Individual session", minutes="45", is_active=""),
    )
    assert response.status_code == 302
    session_type.refresh_from_db()
    assert (session_type.minutes, session_type.is_active) == (45, False)
    response = browser.post(
        f"/schedule/session-types/{session_type.pk}/",
        session_type_data(prefix, name="Individual session", offered_to="returning"),
    )
    assert response.status_code == 302
    session_type.refresh_from_db()
    assert session_type.offered_to == OfferedTo.RETURNING
    listed = text(browser.get("/schedule/availability/"))
    assert "Individual session, 80 min — offered · Returning clients only" in listed
    response = browser.post(
        f"/schedule/session-types/{session_type.pk}/",
        session_type_data(prefix, name="Individual session", offered_to="everyone"),
    )
    assert "Select a valid choice" in text(response)
    session_type.refresh_from_db()
    assert session_type.offered_to == OfferedTo.RETURNING


# --- The therapist's day and week ------------------------------------------------------------


def test_week_view_lists_sessions_with_consent_status_and_navigates(
    session_type: SessionType, therapist_x: User, client_a: User, admin: User
) -> None:
    consent_version(admin)
    signed = ready_client(therapist_x, "signed@example.test", name="Sara Signed")
    direct_appointment(session_type, client_a, datetime(2030, 1, 8, 14, 0, tzinfo=UTC))
    direct_appointment(session_type, signed, datetime(2030, 1, 10, 20, 0, tzinfo=UTC))
    browser = signed_in(therapist_x)
    response = browser.get("/schedule/")
    body = text(response)
    assert "Week of 7 January to 13 January 2030" in body
    assert "Tue 8 Jan, 09:00-09:50, Individual session with Alice Client, Video" in body
    assert "Thu 10 Jan, 15:00-15:50, Individual session with Sara Signed, Video" in body
    assert body.count("consent not signed") == 1
    assert "Alice Client, Video, consent not signed" in body
    assert 'href="/schedule/week/2029-12-31/"' in page(response)
    assert 'href="/schedule/week/2030-01-14/"' in page(response)

    day = text(browser.get("/schedule/day/2030-01-08/"))
    assert "Tuesday 8 January 2030" in day
    assert "09:00-09:50, Individual session with Alice Client" in day
    assert "Sara Signed" not in day
    assert "Alice Client" not in text(browser.get("/schedule/week/2030-01-14/"))
    assert browser.get("/schedule/day/2030-02-30/").status_code == 404
    assert browser.get("/schedule/week/0001-01-01/").status_code == 404


def test_week_view_makes_a_fixed_number_of_queries(
    session_type: SessionType,
    therapist_x: User,
    admin: User,
    django_assert_num_queries: Any,
) -> None:
    consent_version(admin)
    clients = [ready_client(therapist_x, f"c{n}@example.test") for n in range(8)]
    browser = signed_in(therapist_x)
    url = "/schedule/week/2030-01-14/"
    direct_appointment(session_type, clients[0], datetime(2030, 1, 14, 14, 0, tzinfo=UTC))
    browser.get(url)  # the session is settled; what follows is the view's own cost

    with django_assert_num_queries(QUERIES_FOR_A_WEEK):
        response = browser.get(url)
    assert text(response).count("with C0,") == 1

    Appointment.objects.all().delete()
    for day in range(5):
        for hour in range(8):
            starts_at = datetime(2030, 1, 14 + day, 14 + hour, 0, tzinfo=UTC)
            direct_appointment(session_type, clients[(day + hour) % 8], starts_at)
    with django_assert_num_queries(QUERIES_FOR_A_WEEK):
        response = browser.get(url)
    assert "40 sessions this week" in text(response)


# Session, the user with their second factor, practice, appointments, consent version,
# signatures, weekly windows, availability changes.
QUERIES_FOR_A_WEEK = 9  # 8 for the week, 1 for the unread-messages badge in the navigation


# --- A therapist books for a client ----------------------------------------------------------


def therapist_booking(client: User, session_type: SessionType, **values: str) -> dict[str, Any]:
    return {
        "client": client.pk,
        "session_type": session_type.pk,
        "modality": "audio",
        "day": "2030-03-05",
        "start_time": "09:00",
        "repeat": "0",
        **values,
    }


def test_therapist_books_one_session_and_a_weekly_series_across_dst(
    session_type: SessionType, therapist_x: User, client_a: User
) -> None:
    browser = signed_in(therapist_x)
    form = text(browser.get(f"/schedule/book/?client={client_a.pk}"))
    assert "Start time (your time zone)" in form
    response = browser.post("/schedule/book/", therapist_booking(client_a, session_type))
    assert response.status_code == 302
    single = Appointment.objects.get()
    assert single.starts_at == datetime(2030, 3, 5, 14, 0, tzinfo=UTC)
    assert single.modality == "audio"
    assert response["Location"] == f"/appointments/{single.pk}/"

    # Weekly from Tuesday 5 March 10:00 New York, three times: DST starts on 10 March.
    response = browser.post(
        "/schedule/book/",
        therapist_booking(client_a, session_type, start_time="10:00", repeat="1", count="3"),
    )
    assert response.status_code == 302
    series = list(Appointment.objects.exclude(pk=single.pk).order_by("starts_at"))
    assert [a.starts_at for a in series] == [
        datetime(2030, 3, 5, 15, 0, tzinfo=UTC),
        datetime(2030, 3, 12, 14, 0, tzinfo=UTC),
        datetime(2030, 3, 19, 14, 0, tzinfo=UTC),
    ]
    assert len({a.series_id for a in series}) == 1

    # Until a date, every two weeks: 26 March is the last one.
    response = browser.post(
        "/schedule/book/",
        therapist_booking(
            client_a, session_type, start_time="13:00", repeat="2", until="2030-03-26"
        ),
    )
    assert response.status_code == 302
    biweekly = Appointment.objects.exclude(series=series[0].series).exclude(pk=single.pk)
    assert sorted(a.starts_at for a in biweekly) == [
        datetime(2030, 3, 5, 18, 0, tzinfo=UTC),  # 13:00 EST
        datetime(2030, 3, 19, 17, 0, tzinfo=UTC),  # 13:00 EDT
    ]


def test_therapist_booking_bad_input_saves_nothing(
    session_type: SessionType, therapist_x: User, client_a: User, client_b: User
) -> None:
    browser = signed_in(therapist_x)
    cases = [
        (therapist_booking(client_b, session_type), "Select a valid choice"),
        (therapist_booking(client_a, session_type, day="2030-01-01"), "already passed"),
        (therapist_booking(client_a, session_type, day="2030-13-01"), "Enter a valid date"),
        (
            therapist_booking(client_a, session_type, repeat="1"),
            "either a number of sessions or a last date",
        ),
        (therapist_booking(client_a, session_type, repeat="1", count="99"), "less than or equal"),
        (therapist_booking(client_a, session_type, modality="smoke"), "Select a valid choice"),
    ]
    for data, message in cases:
        response = browser.post("/schedule/book/", data)
        assert response.status_code == 200, message
        assert message in text(response), message
    SessionType.objects.filter(pk=session_type.pk).update(allow_audio=False)
    response = browser.post("/schedule/book/", therapist_booking(client_a, session_type))
    assert "not held this way" in text(response)
    assert not Appointment.objects.exists()


def test_a_double_submitted_booking_form_books_once(
    session_type: SessionType, therapist_x: User, client_a: User
) -> None:
    browser = signed_in(therapist_x)
    data = therapist_booking(client_a, session_type, repeat="1", count="4")
    assert browser.post("/schedule/book/", data).status_code == 302
    response = browser.post("/schedule/book/", data, follow=True)
    assert "This session was already booked. Nothing else was changed." in text(response)
    assert Appointment.objects.count() == 4


# --- The client books ------------------------------------------------------------------------


def test_client_picks_a_slot_in_their_own_zone_and_books_it(
    session_type: SessionType, client_a: User
) -> None:
    browser = signed_in(client_a)
    choose = text(browser.get("/book/"))
    assert "Individual session, 50 minutes with Xena Therapist" in choose
    response = browser.get(f"/book/?type={session_type.pk}")
    body = text(response)
    assert "Times are in your time zone, America/Los_Angeles" in body
    # Tuesday 09:00 in New York is 06:00 in Los Angeles; both are shown.
    assert "Tuesday 8 January" in body
    assert "06:00 Therapist: Tue, 09:00" in body
    assert f'value="{FIRST_OPEN}"' in page(response)
    assert "<fieldset" in page(response) and "<legend>Tuesday 8 January <" in page(response)
    # A day's count, and (shown on a phone) the way to its times after the first four.
    assert "Tuesday 8 January (29 times)" in body
    assert "Show all 29 times on Tuesday" in body
    # Monday is inside the 12 hours' notice: nothing offered.
    assert "<legend>Monday 7 January" not in page(response)

    response = book(browser, session_type, FIRST_OPEN, "text")
    appointment = Appointment.objects.get()
    assert response["Location"] == f"/appointments/{appointment.pk}/"
    assert appointment.starts_at == datetime(2030, 1, 8, 14, 0, tzinfo=UTC)
    assert (appointment.modality, appointment.status) == ("text", "confirmed")
    assert appointment.booked_by == client_a

    sessions = text(browser.get("/sessions/"))
    assert "Tuesday 8 January, 06:00" in sessions
    assert "Tue 8 Jan, 06:00" in text(browser.get("/"))


def test_far_apart_zones_show_both_days(session_type: SessionType, client_a: User) -> None:
    User.objects.filter(pk=client_a.pk).update(time_zone="Pacific/Auckland")
    browser = signed_in(client_a)
    body = text(browser.get(f"/book/?type={session_type.pk}"))
    # 09:00 Tuesday in New York is 03:00 Wednesday in Auckland (UTC+13 in January).
    assert "Wednesday 9 January" in body
    assert "03:00 Therapist: Tue, 09:00" in body


def test_the_picker_pages_by_week_within_the_horizon(
    session_type: SessionType, client_a: User
) -> None:
    browser = signed_in(client_a)
    response = browser.get(f"/book/?type={session_type.pk}&modality=audio&week=1")
    body = text(response)
    assert "Open times from Monday 14 January to Sunday 20 January" in body
    assert "Earlier times" in body
    assert f"type={session_type.pk}&amp;modality=audio&amp;week=2" in page(response)
    last = text(browser.get(f"/book/?type={session_type.pk}&week=99"))
    assert "Later times" not in last
    assert browser.get(f"/book/?type={session_type.pk}&week=soon").status_code == 200


@pytest.mark.parametrize(
    ("slot", "message"),
    [
        ("2030-01-07T15:00Z", "That time has already passed"),
        ("2030-01-12T15:00Z", "That time is not open for booking"),  # Saturday: no hours
        ("2030-01-08T14:05Z", "That time is not open for booking"),  # not a slot start
        ("2030-01-08T02:00Z", "That time is not open for booking"),  # outside hours
        ("tomorrow at nine", "Choose one of the times shown"),
        ("2030-01-08T14:00", "Choose one of the times shown"),  # no zone: ambiguous
        ("", "Choose one of the times shown"),
    ],
)
def test_bad_slots_are_refused_and_the_picker_comes_back(
    session_type: SessionType, client_a: User, slot: str, message: str
) -> None:
    with time_machine.travel(NOW + timedelta(hours=4), tick=False):
        response = book(signed_in(client_a), session_type, slot)
    assert response.status_code == 200
    body = text(response)
    assert message in body
    assert "Book this time" in body
    assert not Appointment.objects.exists()


def test_a_taken_slot_says_so_and_shows_the_picker_again(
    session_type: SessionType, client_a: User, therapist_x: User
) -> None:
    other = ready_client(therapist_x, "other@example.test")
    direct_appointment(session_type, other, datetime(2030, 1, 8, 14, 0, tzinfo=UTC))
    browser = signed_in(client_a)
    response = book(browser, session_type, FIRST_OPEN)
    assert response.status_code == 200
    body = text(response)
    assert "not open for booking" in body or "That time was just taken" in body
    assert 'name="slot"' in page(response)
    assert Appointment.objects.filter(client=client_a).count() == 0


def test_slot_taken_in_a_race_shows_the_just_taken_message(
    session_type: SessionType, client_a: User, therapist_x: User, monkeypatch: Any
) -> None:
    from rapport.scheduling import booking
    from rapport.scheduling.errors import SlotTaken

    def taken(*args: Any, **kwargs: Any) -> None:
        raise SlotTaken()

    monkeypatch.setattr(booking, "_insert", taken)
    response = book(signed_in(client_a), session_type, FIRST_OPEN)
    assert response.status_code == 200
    assert "That time was just taken by another booking" in text(response)
    assert 'name="slot"' in page(response)


def test_a_double_submitted_client_booking_books_once(
    session_type: SessionType, client_a: User
) -> None:
    browser = signed_in(client_a)
    assert book(browser, session_type, FIRST_OPEN).status_code == 302
    response = book(browser, session_type, FIRST_OPEN)
    assert response.status_code == 302
    followed = text(browser.get(response["Location"]))
    assert "This session was already booked" in followed
    assert Appointment.objects.count() == 1


def test_foreign_or_tampered_session_types_book_nothing(
    session_type: SessionType, client_a: User, therapist_y: User
) -> None:
    foreign = SessionType.objects.create(therapist=therapist_y, name="Other", minutes=50)
    browser = signed_in(client_a)
    for value in [foreign.pk, "999999", "abc"]:
        response = browser.post(
            "/book/", {"session_type": value, "modality": "video", "slot": FIRST_OPEN}
        )
        assert response.status_code == 200
        assert "not offered to you" in text(response)
    assert browser.get(f"/book/?type={foreign.pk}").status_code == 200
    assert "Other" not in text(browser.get(f"/book/?type={foreign.pk}"))
    response = book(browser, session_type, FIRST_OPEN, modality="carrier-pigeon")
    assert "Select a valid choice" in text(response)
    SessionType.objects.filter(pk=session_type.pk).update(allow_text=False)
    assert "not held this way" in text(book(browser, session_type, FIRST_OPEN, "text"))
    assert not Appointment.objects.exists()


def test_new_clients_book_the_first_session_kinds_and_returning_clients_the_others(
    session_type: SessionType, client_a: User, therapist_x: User
) -> None:
    intake = SessionType.objects.create(
        therapist=therapist_x, name="Intake", minutes=60, offered_to=OfferedTo.NEW
    )
    SessionType.objects.filter(pk=session_type.pk).update(offered_to=OfferedTo.RETURNING)
    session_type.refresh_from_db()
    browser = signed_in(client_a)

    def kinds() -> list[str]:
        return re.findall(r"(\w[\w ]*), \d+ minutes with", text(browser.get("/book/")))

    # New: only the intake, and the follow-up cannot be booked by address or by form.
    assert kinds() == ["Intake"]
    assert "Individual session" not in text(browser.get(f"/book/?type={session_type.pk}"))
    assert "not offered to you" in text(book(browser, session_type, FIRST_OPEN))
    assert not Appointment.objects.exists()
    with pytest.raises(ValidationError) as refused:
        book_appointment(
            client_a,
            BookingRequest(client_a, session_type, "video", datetime.fromisoformat(FIRST_OPEN)),
        )
    assert "follows a first session" in str(refused.value)

    # Booked (not yet held), the intake makes the client returning: now only the follow-up.
    assert book(browser, intake, FIRST_OPEN).status_code == 302
    first = Appointment.objects.get()
    assert kinds() == ["Individual session"]
    with pytest.raises(ValidationError) as refused:
        book_appointment(
            client_a,
            BookingRequest(client_a, intake, "video", datetime(2030, 1, 9, 14, tzinfo=UTC)),
        )
    assert "is for a first session" in str(refused.value)

    # A cancelled first session or a no-show leaves the client new.
    for status in (AppointmentStatus.CANCELLED, AppointmentStatus.NO_SHOW):
        Appointment.objects.filter(pk=first.pk).update(status=status)
        assert kinds() == ["Intake"], status
    Appointment.objects.filter(pk=first.pk).update(status=AppointmentStatus.COMPLETED)
    assert kinds() == ["Individual session"]

    # The therapist books any kind for anyone, new or returning.
    Appointment.objects.all().delete()
    booked = book_appointment(
        therapist_x,
        BookingRequest(client_a, session_type, "video", datetime.fromisoformat(FIRST_OPEN)),
    )
    assert booked.session_type == session_type


def test_a_client_without_active_care_cannot_book(
    session_type: SessionType, client_a: User, therapist_x: User
) -> None:
    CareRelationship.objects.filter(client=client_a).update(status="ended")
    browser = signed_in(client_a)
    assert "nothing to book right now" in text(browser.get("/book/"))
    response = book(browser, session_type, FIRST_OPEN)
    assert response.status_code == 200
    assert "not offered to you" in text(response)
    assert not Appointment.objects.exists()


def test_a_client_without_the_current_consent_is_sent_to_sign_it_first(
    session_type: SessionType, client_a: User, admin: User
) -> None:
    consent_version(admin)
    browser = signed_in(client_a)
    for response in [browser.get("/book/"), book(browser, session_type, FIRST_OPEN)]:
        assert response.status_code == 302
        assert response["Location"] == "/consent/?next=/book/"
    assert not Appointment.objects.exists()

    response = browser.post(
        "/consent/",
        {
            "document": ConsentDocument.objects.get().pk,
            "typed_name": "Alice Client",
            "next": "/book/",
        },
    )
    assert response["Location"] == "/book/"
    assert book(browser, session_type, FIRST_OPEN).status_code == 302
    assert Appointment.objects.count() == 1


def test_bookings_wait_for_approval_when_the_practice_says_so(
    session_type: SessionType, client_a: User, therapist_x: User
) -> None:
    Practice.objects.update_or_create(id=1, defaults={"requires_booking_approval": True})
    browser = signed_in(client_a)
    response = book(browser, session_type, FIRST_OPEN)
    appointment = Appointment.objects.get()
    assert appointment.status == AppointmentStatus.REQUESTED
    assert "Your therapist will confirm it" in text(browser.get(response["Location"]))

    therapist = signed_in(therapist_x)
    detail = text(therapist.get(f"/appointments/{appointment.pk}/"))
    assert "Booking request" in detail
    therapist.post(f"/appointments/{appointment.pk}/status/", {"status": "confirm"})
    appointment.refresh_from_db()
    assert appointment.status == AppointmentStatus.CONFIRMED
    response = therapist.post(
        f"/appointments/{appointment.pk}/status/", {"status": "confirm"}, follow=True
    )
    assert "That change is not possible for this session." in text(response)
    response = therapist.post(
        f"/appointments/{appointment.pk}/status/", {"status": "teleport"}, follow=True
    )
    assert "not possible" in text(response)


# --- One appointment -------------------------------------------------------------------------


def test_both_parties_see_the_time_in_their_zone_and_the_others(
    session_type: SessionType, client_a: User, therapist_x: User
) -> None:
    appointment = direct_appointment(
        session_type, client_a, datetime(2030, 1, 8, 14, 0, tzinfo=UTC)
    )
    client_view = text(signed_in(client_a).get(f"/appointments/{appointment.pk}/"))
    assert "Tuesday 8 January 2030, 06:00-06:50 (America/Los_Angeles)" in client_view
    assert "Tuesday 8 January, 09:00 for Xena Therapist (America/New_York)" in client_view
    therapist_view = text(signed_in(therapist_x).get(f"/appointments/{appointment.pk}/"))
    assert "Tuesday 8 January 2030, 09:00-09:50 (America/New_York)" in therapist_view
    assert "06:00 for Alice Client (America/Los_Angeles)" in therapist_view
    assert "Telehealth consent" in therapist_view
    assert "Telehealth consent" not in client_view


def test_late_cancellation_is_announced_before_and_recorded_after(
    session_type: SessionType, client_a: User, clock: Any
) -> None:
    appointment = direct_appointment(
        session_type, client_a, datetime(2030, 1, 8, 14, 0, tzinfo=UTC)
    )
    browser = signed_in(client_a)
    # 26 hours before: not late.
    assert "not a late cancellation" in text(browser.get(f"/appointments/{appointment.pk}/cancel/"))
    clock.move_to(datetime(2030, 1, 7, 14, 1, tzinfo=UTC))  # 23 h 59 min before
    browser = signed_in(client_a)
    confirm = text(browser.get(f"/appointments/{appointment.pk}/cancel/"))
    assert "Late cancellation. The session starts in less than 24 hours" in confirm
    # The client may not touch the rest of a series, even by tampering with the form.
    response = browser.post(f"/appointments/{appointment.pk}/cancel/", {"scope": "following"})
    assert response.status_code == 302
    appointment.refresh_from_db()
    assert appointment.status == AppointmentStatus.CANCELLED
    assert appointment.late_cancellation is True
    assert appointment.cancelled_by == client_a
    detail = text(browser.get(f"/appointments/{appointment.pk}/"))
    assert "late cancellation" in detail
    # Cancelling again (the form sent twice) is a message, not a change.
    response = browser.post(f"/appointments/{appointment.pk}/cancel/", {"scope": "this"})
    assert response.status_code == 200
    assert "This session is no longer booked." in text(response)


def test_therapist_cancels_this_and_following_of_a_series(
    session_type: SessionType, client_a: User, therapist_x: User
) -> None:
    browser = signed_in(therapist_x)
    browser.post(
        "/schedule/book/", therapist_booking(client_a, session_type, repeat="1", count="4")
    )
    second = Appointment.objects.order_by("starts_at")[1]
    confirm = text(browser.get(f"/appointments/{second.pk}/cancel/"))
    assert "This and the following ones" in confirm
    browser.post(f"/appointments/{second.pk}/cancel/", {"scope": "following"})
    statuses = list(Appointment.objects.order_by("starts_at").values_list("status", flat=True))
    assert statuses == ["confirmed", "cancelled", "cancelled", "cancelled"]


def test_client_moves_a_session_to_an_open_slot_only(
    session_type: SessionType, client_a: User
) -> None:
    appointment = direct_appointment(
        session_type, client_a, datetime(2030, 1, 8, 14, 0, tzinfo=UTC)
    )
    browser = signed_in(client_a)
    picker = browser.get(f"/appointments/{appointment.pk}/reschedule/")
    assert 'name="slot"' in page(picker)
    url = f"/appointments/{appointment.pk}/reschedule/"
    for slot, message in [
        ("2030-01-12T15:00Z", "not open for booking"),
        ("2030-01-08T14:00Z", "already at that time"),
        ("noon", "Choose one of the times shown"),
    ]:
        response = browser.post(url, {"slot": slot})
        assert response.status_code == 200
        assert message in text(response)
    appointment.refresh_from_db()
    assert appointment.starts_at == datetime(2030, 1, 8, 14, 0, tzinfo=UTC)
    assert appointment.revision == 0

    response = browser.post(url, {"slot": "2030-01-09T16:00Z"})
    assert response.status_code == 302
    appointment.refresh_from_db()
    assert appointment.starts_at == datetime(2030, 1, 9, 16, 0, tzinfo=UTC)


def test_therapist_moves_a_session_to_any_free_time(
    session_type: SessionType, client_a: User, therapist_x: User
) -> None:
    appointment = direct_appointment(
        session_type, client_a, datetime(2030, 1, 8, 14, 0, tzinfo=UTC)
    )
    browser = signed_in(therapist_x)
    url = f"/appointments/{appointment.pk}/reschedule/"
    form = page(browser.get(url))
    assert 'value="2030-01-08"' in form and 'value="09:00"' in form
    assert "Which sessions" not in form  # not part of a series
    response = browser.post(url, {"day": "2030-01-12", "start_time": "19:00"})
    assert response.status_code == 302  # Saturday evening: the therapist may
    appointment.refresh_from_db()
    assert appointment.starts_at == datetime(2030, 1, 13, 0, 0, tzinfo=UTC)
    response = browser.post(url, {"day": "2030-01-01", "start_time": "19:00"})
    assert "already passed" in text(response)


def test_therapist_moves_this_and_the_following_sessions_of_a_series(
    session_type: SessionType, client_a: User, therapist_x: User
) -> None:
    browser = signed_in(therapist_x)
    browser.post(
        "/schedule/book/", therapist_booking(client_a, session_type, repeat="1", count="3")
    )
    first, second, third = Appointment.objects.order_by("starts_at")
    url = f"/appointments/{second.pk}/reschedule/"
    assert "This and the following ones" in text(browser.get(url))
    response = browser.post(url, {"day": "2030-03-13", "start_time": "11:00", "scope": "following"})
    assert response.status_code == 302
    starts = [a.starts_at for a in Appointment.objects.order_by("starts_at")]
    # 5 March stays; 12 and 19 March move one day and two hours later (after the DST change).
    assert starts == [
        first.starts_at,
        datetime(2030, 3, 13, 15, 0, tzinfo=UTC),
        datetime(2030, 3, 20, 15, 0, tzinfo=UTC),
    ]
    assert third.pk in Appointment.objects.filter(revision=1).values_list("pk", flat=True)


def test_therapist_declines_a_request(
    session_type: SessionType, client_a: User, therapist_x: User
) -> None:
    appointment = direct_appointment(
        session_type, client_a, datetime(2030, 1, 8, 14, 0, tzinfo=UTC), status="requested"
    )
    assert "Booking request" not in text(
        signed_in(client_a).get(f"/appointments/{appointment.pk}/")
    )
    browser = signed_in(therapist_x)
    browser.post(f"/appointments/{appointment.pk}/status/", {"status": "decline"})
    appointment.refresh_from_db()
    assert (appointment.status, appointment.cancelled_by) == ("cancelled", therapist_x)


def test_no_show_and_completed_only_after_the_start(
    session_type: SessionType, client_a: User, therapist_x: User, clock: Any
) -> None:
    appointment = direct_appointment(
        session_type, client_a, datetime(2030, 1, 8, 14, 0, tzinfo=UTC)
    )
    browser = signed_in(therapist_x)
    url = f"/appointments/{appointment.pk}/status/"
    assert "Record what happened" not in text(browser.get(f"/appointments/{appointment.pk}/"))
    response = browser.post(url, {"status": "no_show"}, follow=True)
    assert "This session has not started yet." in text(response)
    clock.move_to(datetime(2030, 1, 8, 14, 20, tzinfo=UTC))
    browser = signed_in(therapist_x)
    assert "Record what happened" in text(browser.get(f"/appointments/{appointment.pk}/"))
    browser.post(url, {"status": "no_show"})
    appointment.refresh_from_db()
    assert appointment.status == AppointmentStatus.NO_SHOW
    assert signed_in(client_a).post(url, {"status": "completed"}).status_code == 403


def test_the_join_control_appears_shortly_before_the_start_until_the_end(
    session_type: SessionType, client_a: User, clock: Any
) -> None:
    appointment = direct_appointment(
        session_type, client_a, datetime(2030, 1, 8, 14, 0, tzinfo=UTC)
    )
    url = f"/appointments/{appointment.pk}/"
    assert "You can join from Tuesday 8 January, 05:50" in text(signed_in(client_a).get(url))
    for moment, shown in [
        (datetime(2030, 1, 8, 13, 49, tzinfo=UTC), False),
        (datetime(2030, 1, 8, 13, 50, tzinfo=UTC), True),
        (datetime(2030, 1, 8, 14, 49, tzinfo=UTC), True),
        (datetime(2030, 1, 8, 14, 50, tzinfo=UTC), False),
    ]:
        clock.move_to(moment)
        assert ("Join the session" in text(signed_in(client_a).get(url))) is shown, moment
    clock.move_to(datetime(2030, 1, 8, 13, 55, tzinfo=UTC))
    assert "Join" in text(signed_in(client_a).get("/sessions/"))


def test_other_peoples_appointments_are_404_everywhere(
    session_type: SessionType, client_a: User, client_b: User, therapist_y: User
) -> None:
    appointment = direct_appointment(
        session_type, client_a, datetime(2030, 1, 8, 14, 0, tzinfo=UTC)
    )
    for person in (client_b, therapist_y):
        browser = signed_in(person)
        for path in ("", "cancel/", "reschedule/"):
            assert browser.get(f"/appointments/{appointment.pk}/{path}").status_code == 404
        assert browser.post(f"/appointments/{appointment.pk}/cancel/").status_code == 404
        assert (
            browser.post(
                f"/appointments/{appointment.pk}/reschedule/", {"slot": FIRST_OPEN}
            ).status_code
            == 404
        )
    assert signed_in(client_a).get("/appointments/99999999/").status_code == 404
    appointment.refresh_from_db()
    assert (appointment.status, appointment.revision) == ("confirmed", 0)


def test_my_sessions_lists_upcoming_and_past(session_type: SessionType, client_a: User) -> None:
    direct_appointment(
        session_type, client_a, datetime(2030, 1, 3, 14, 0, tzinfo=UTC), status="completed"
    )
    direct_appointment(session_type, client_a, datetime(2030, 1, 9, 14, 0, tzinfo=UTC))
    body = text(signed_in(client_a).get("/sessions/"))
    upcoming, past = body.split("Past and cancelled")
    assert "Wednesday 9 January, 06:00" in upcoming
    assert "Thursday 3 January 2030, 06:00" in past
    assert "Completed" in past


def test_homes_show_the_next_sessions_and_todays(
    session_type: SessionType, client_a: User, therapist_x: User, clock: Any
) -> None:
    appointment = direct_appointment(
        session_type, client_a, datetime(2030, 1, 8, 14, 0, tzinfo=UTC)
    )
    client_home = text(signed_in(client_a).get("/"))
    assert "Tue 8 Jan, 06:00 Individual session" in client_home
    assert "Book a session" in client_home
    clock.move_to(datetime(2030, 1, 8, 11, 0, tzinfo=UTC))
    therapist_home = signed_in(therapist_x).get("/")
    assert "09:00-09:50 Alice Client" in text(therapist_home)
    assert f'href="/appointments/{appointment.pk}/"' in page(therapist_home)


# --- Consent ---------------------------------------------------------------------------------


def test_admin_publishes_versions_and_sees_signature_counts(
    admin: User, client_a: User, therapist_x: User
) -> None:
    browser = signed_in(admin)
    assert "Nothing published yet" in text(browser.get("/practice/consent/"))
    response = browser.post(
        "/practice/consent/", {"title": "Telehealth consent", "body": "Sessions are online."}
    )
    assert response.status_code == 302
    first = ConsentDocument.objects.get()
    ConsentSignature.objects.create(client=client_a, document=first, typed_name="Alice Client")
    # Sending the same text again (a double submit) publishes nothing.
    response = browser.post(
        "/practice/consent/", {"title": "Telehealth consent", "body": "Sessions are online."}
    )
    assert "This is the current version already" in text(response)
    assert ConsentDocument.objects.count() == 1
    browser.post(
        "/practice/consent/", {"title": "Telehealth consent", "body": "Sessions are online. v2"}
    )
    versions = text(browser.get("/practice/consent/"))
    assert re.search(r"2 current Telehealth consent .* 0 1 Telehealth consent .* 1", versions)
    assert AuditEvent.objects.filter(action="consent.published").count() == 2

    therapist = signed_in(therapist_x)
    caseload = text(therapist.get("/clients/"))
    assert "Not signed" in caseload
    record = text(therapist.get(f"/clients/{client_a.pk}/"))
    assert "Not signed (version 2)" in record


def test_client_signs_with_their_typed_name(admin: User, client_a: User, therapist_x: User) -> None:
    document = consent_version(admin)
    browser = signed_in(client_a)
    body = text(browser.get("/consent/"))
    assert "Telehealth consent v1" in body
    assert "Sessions happen over video" in body
    for name in ["", "Someone Else", "x" * 200]:
        response = browser.post("/consent/", {"document": document.pk, "typed_name": name})
        assert response.status_code == 200
    assert not ConsentSignature.objects.exists()

    response = browser.post(
        "/consent/",
        {"document": document.pk, "typed_name": "  alice   client ", "next": "https://evil.test/"},
    )
    assert response["Location"] == "/"
    signature = ConsentSignature.objects.get()
    assert signature.typed_name == "alice client"
    assert signature.ip_address == "127.0.0.1"
    assert "You signed this version" in text(browser.get("/consent/"))
    therapist = signed_in(therapist_x)
    assert "Signed (version 1)" in text(therapist.get(f"/clients/{client_a.pk}/"))
    assert "Signed" in text(therapist.get("/clients/"))


def test_a_version_published_while_reading_must_be_read_first(admin: User, client_a: User) -> None:
    old = consent_version(admin)
    browser = signed_in(client_a)
    browser.get("/consent/")
    new = consent_version(admin)
    response = browser.post("/consent/", {"document": old.pk, "typed_name": "Alice Client"})
    assert response.status_code == 200
    assert "A newer version of the consent was published" in text(response)
    assert f'name="document" value="{new.pk}"' in page(response)
    assert not ConsentSignature.objects.exists()


def test_malformed_and_oversized_ids_are_answers_not_errors(
    session_type: SessionType, client_a: User, therapist_x: User
) -> None:
    huge = "9" * 25
    browser = signed_in(client_a)
    assert browser.get(f"/book/?type={huge}").status_code == 200
    response = browser.post("/book/", {"session_type": huge, "modality": "video", "slot": "x"})
    assert response.status_code == 200
    assert browser.get(f"/appointments/{huge}/").status_code == 404
    therapist = signed_in(therapist_x)
    assert therapist.post(f"/schedule/availability/hours/{huge}/delete/").status_code == 404
    assert therapist.post("/schedule/book/", {"client": huge}).status_code == 200
    assert therapist.get("/schedule/week/2030-1-7/").status_code == 404
    assert not Appointment.objects.exists()
