"""The calendar: a therapist's day, week and month grids, moving a session from them (the form a
keyboard uses; the drag is in tests/browser/test_calendar.py), the practice's day for admins,
daylight-saving weeks, and the pages' fixed cost.

Time is frozen on Monday 7 January 2030, 12:00 UTC (07:00 in New York). therapist_x works Monday
to Friday 09:00-17:00 New York time.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import pytest
import time_machine
from django_tasks_db.models import DBTaskResult

from rapport.accounts.models import User
from rapport.audit.models import AuditEvent
from rapport.scheduling.calendar import Conflict, conflicts_of
from rapport.scheduling.models import (
    Appointment,
    AppointmentStatus,
    AvailabilityChange,
    SessionType,
    WeeklyWindow,
)
from tests.conftest import signed_in
from tests.scheduling_data import at, consent_version, direct_appointment, ready_client

NOW = datetime(2030, 1, 7, 12, 0, tzinfo=UTC)
NEW_YORK = "America/New_York"


@pytest.fixture(autouse=True)
def clock() -> Iterator[Any]:
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


@pytest.fixture
def session_type(therapist_x: User, client_a: User) -> SessionType:
    User.objects.filter(pk=therapist_x.pk).update(time_zone=NEW_YORK)
    therapist_x.time_zone = NEW_YORK
    WeeklyWindow.objects.bulk_create(
        WeeklyWindow(
            therapist=therapist_x,
            weekday=day,
            start_time=time(9),
            end_time=time(17),
            time_zone=NEW_YORK,
        )
        for day in range(5)
    )
    return SessionType.objects.create(
        therapist=therapist_x, name="Individual session", minutes=50, buffer_minutes=10
    )


def page(response: Any) -> str:
    return str(response.content.decode())


def main(response: Any) -> str:
    """The text of the page's main region, tags removed, whitespace collapsed, en dash as -."""
    body = page(response).split("<main", 1)[1].split("</main>", 1)[0]
    words = re.sub(r"<[^>]+>", " ", body).replace("\N{EN DASH}", "-")
    return " ".join(words.split())


def block_of(response: Any, appointment: Appointment) -> str:
    """The HTML of one session's block on a calendar grid."""
    found = re.search(
        rf'<div class="cal-appt [^"]*">(?:(?!<div class="cal-appt).)*?/appointments/'
        rf"{appointment.pk}/.*?</div>",
        page(response),
        re.S,
    )
    assert found, f"no block for appointment {appointment.pk}"
    return found.group(0)


# --- Day, week and month ---------------------------------------------------------------------


def test_week_grid_shades_working_hours_places_sessions_and_flags_conflicts(
    session_type: SessionType, therapist_x: User, client_a: User
) -> None:
    morning = direct_appointment(session_type, client_a, at(date(2030, 1, 8), time(9), NEW_YORK))
    other = ready_client(therapist_x, "bo@example.test", name="Bo Brown")
    evening = direct_appointment(
        session_type, other, at(date(2030, 1, 9), time(19, 30), NEW_YORK), modality="audio"
    )
    cancelled = direct_appointment(
        session_type,
        other,
        at(date(2030, 1, 10), time(11), NEW_YORK),
        status=AppointmentStatus.CANCELLED,
    )
    response = signed_in(therapist_x).get("/schedule/week/2030-01-07/")
    assert response.status_code == 200
    text = main(response)
    assert "Week of 7 January to 13 January 2030" in text
    assert "2 sessions this week." in text
    assert "1 conflict to resolve." in text
    assert "Times in America/New_York." in text
    # Each session is a link with its full text; the grid rows are 15 minutes from 08:00 (row 1).
    assert "Tue 8 Jan, 09:00-09:50, Individual session with Alice Client, Video" in text
    morning_block = block_of(response, morning)
    assert 'class="cal-appt at-5 len-4"' in morning_block
    assert 'draggable="true"' in morning_block
    assert f"/appointments/{morning.pk}/reschedule/?next=/schedule/week/2030-01-07/" in (
        morning_block
    )
    # 19:30 is outside working hours: flagged in words, and the grid stretches to 21:00.
    evening_block = block_of(response, evening)
    assert "conflict" in evening_block.split('"', 2)[1]
    assert (
        "Wed 9 Jan, 19:30-20:20, Individual session with Bo Brown, Audio only, "
        "Conflict: outside working hours"
    ) in main(response)
    assert 'data-rows="52"' in page(response)  # 08:00 to 21:00
    # A cancelled session stays on the grid, marked, neither movable nor a conflict.
    cancelled_block = block_of(response, cancelled)
    assert "inactive" in cancelled_block and "Cancelled" in cancelled_block
    assert 'draggable="false"' in cancelled_block and "reschedule" not in cancelled_block
    # Working hours shaded (09:00 to 17:00 is rows 5 to 36) on weekdays only, today marked.
    assert page(response).count('class="cal-open at-5 len-32"') == 5
    assert main(response).count("Working hours 09:00-17:00") == 5
    assert 'aria-current="date">Mon 7 Jan</a> <span class="badge">Today</span>' in page(response)
    assert 'href="/schedule/week/2029-12-31/"' in page(response)
    assert 'href="/schedule/week/2030-01-14/"' in page(response)


def test_day_and_month_views(session_type: SessionType, therapist_x: User, client_a: User) -> None:
    direct_appointment(session_type, client_a, at(date(2030, 1, 8), time(9), NEW_YORK))
    direct_appointment(session_type, client_a, at(date(2030, 1, 26), time(10), NEW_YORK))
    browser = signed_in(therapist_x)
    day = browser.get("/schedule/day/2030-01-08/")
    assert "Tuesday 8 January 2030" in main(day)
    assert "1 session." in main(day)
    assert "Tue 8 Jan, 09:00-09:50, Individual session with Alice Client" in main(day)
    assert page(day).count('class="cal-day') == 1
    assert 'href="/schedule/day/2030-01-09/"' in page(day)

    month = browser.get("/schedule/month/2030-01-19/")
    text = main(month)
    assert month.status_code == 200
    assert "January 2030" in text
    assert "Tue 8 Jan, 09:00-09:50, Individual session with Alice Client" in text
    # Saturday 26 January is outside the weekly hours: a conflict, in words.
    assert (
        "Sat 26 Jan, 10:00-10:50, Individual session with Alice Client, Video, "
        "Conflict: outside working hours"
    ) in text
    assert "2 sessions in these weeks." in text
    # Weeks from Monday 31 December to Sunday 3 February, with weekday headers.
    assert page(month).count("<tr>") == 1 + 5
    assert '<th scope="col"><abbr title="Monday">Mon</abbr></th>' in page(month)
    assert 'href="/schedule/day/2029-12-31/"' in page(month)
    assert 'href="/schedule/month/2029-12-01/"' in page(month)
    assert 'href="/schedule/month/2030-02-01/"' in page(month)
    assert 'class=" is-today"' in page(month)
    assert browser.get("/schedule/month/").status_code == 200
    assert browser.get("/schedule/month/2030-02-30/").status_code == 404


def test_overlapping_sessions_are_both_flagged(session_type: SessionType) -> None:
    """Overlaps cannot be written on PostgreSQL (an exclusion constraint refuses them), so the
    check is shown on appointments as a page would hold them, not saved."""
    therapist = session_type.therapist
    first = Appointment(
        pk=1,
        therapist=therapist,
        starts_at=datetime(2030, 1, 8, 14, 0, tzinfo=UTC),
        ends_at=datetime(2030, 1, 8, 14, 50, tzinfo=UTC),
    )
    second = Appointment(
        pk=2,
        therapist=therapist,
        starts_at=datetime(2030, 1, 8, 14, 30, tzinfo=UTC),
        ends_at=datetime(2030, 1, 8, 15, 20, tzinfo=UTC),
    )
    after = Appointment(
        pk=3,
        therapist=therapist,
        starts_at=datetime(2030, 1, 8, 15, 20, tzinfo=UTC),
        ends_at=datetime(2030, 1, 8, 16, 10, tzinfo=UTC),
    )
    gone = Appointment(
        pk=4,
        therapist=therapist,
        starts_at=datetime(2030, 1, 8, 15, 0, tzinfo=UTC),
        ends_at=datetime(2030, 1, 8, 15, 50, tzinfo=UTC),
        status=AppointmentStatus.CANCELLED,
    )
    working = {
        therapist.pk: [(datetime(2030, 1, 8, 14, tzinfo=UTC), datetime(2030, 1, 8, 16, tzinfo=UTC))]
    }
    found = conflicts_of([first, second, after, gone], working)
    assert found == {
        1: (Conflict.OVERLAP,),
        2: (Conflict.OVERLAP,),
        3: (Conflict.OUTSIDE,),  # ends at 16:10, after working time
    }


def test_a_week_with_a_daylight_saving_change_keeps_wall_clock_rows(
    session_type: SessionType, therapist_x: User, client_a: User
) -> None:
    """New York moves its clocks forward on Sunday 10 March 2030: the 10:00 sessions on Friday
    (15:00 UTC) and Sunday (14:00 UTC) sit on the same row, as do their working hours."""
    AvailabilityChange.objects.create(
        therapist=therapist_x,
        kind=AvailabilityChange.Kind.EXTRA,
        starts_at=at(date(2030, 3, 10), time(9), NEW_YORK),
        ends_at=at(date(2030, 3, 10), time(12), NEW_YORK),
    )
    friday = direct_appointment(session_type, client_a, datetime(2030, 3, 8, 15, 0, tzinfo=UTC))
    sunday = direct_appointment(session_type, client_a, datetime(2030, 3, 10, 14, 0, tzinfo=UTC))
    browser = signed_in(therapist_x)
    response = browser.get("/schedule/week/2030-03-04/")
    assert 'class="cal-appt at-9 len-4"' in block_of(response, friday)
    assert 'class="cal-appt at-9 len-4"' in block_of(response, sunday)
    text = main(response)
    assert "Fri 8 Mar, 10:00-10:50" in text
    assert "Sun 10 Mar, 10:00-10:50" in text
    assert "conflict" not in text.lower()
    assert 'class="cal-open at-5 len-12"' in page(response)  # Sunday's extra 09:00-12:00
    assert page(response).count('class="cal-open at-5 len-32"') == 5
    # The same on the day itself and in the month around it.
    assert 'class="cal-appt at-9 len-4"' in block_of(
        browser.get("/schedule/day/2030-03-10/"), sunday
    )
    assert "Sun 10 Mar, 10:00-10:50" in main(browser.get("/schedule/month/2030-03-01/"))


# --- Moving a session from the calendar (the keyboard's way: the Move link and its form) ------


def test_move_form_from_the_calendar_goes_through_the_reschedule_service(
    session_type: SessionType, therapist_x: User, client_a: User
) -> None:
    appointment = direct_appointment(
        session_type, client_a, at(date(2030, 1, 8), time(9), NEW_YORK)
    )
    browser = signed_in(therapist_x)
    week = "/schedule/week/2030-01-07/"
    move = f"/appointments/{appointment.pk}/reschedule/?next={week}"
    form = browser.get(move)
    assert 'value="2030-01-08"' in page(form) and 'value="09:00"' in page(form)
    assert f'<a href="{week}">Back to the calendar</a>' in page(form)
    response = browser.post(move, {"day": "2030-01-10", "start_time": "11:15"})
    assert response.status_code == 302 and response["Location"] == week
    appointment.refresh_from_db()
    assert appointment.starts_at == at(date(2030, 1, 10), time(11, 15), NEW_YORK)
    assert appointment.revision == 1
    assert AuditEvent.objects.filter(action="appointment.moved", object_id=str(appointment.pk))
    notices = [
        r.args_kwargs["args"]
        for r in DBTaskResult.objects.filter(task_path__endswith="send_appointment_email")
    ]
    assert [appointment.pk, "moved", 1, "client"] in notices
    after = browser.get(week)
    assert "Moved 1 session." in main(after)
    assert "Thu 10 Jan, 11:15-12:05" in main(after)


def test_move_form_refuses_bad_input_and_clashes_and_changes_nothing(
    session_type: SessionType, therapist_x: User, client_a: User
) -> None:
    appointment = direct_appointment(
        session_type, client_a, at(date(2030, 1, 8), time(9), NEW_YORK)
    )
    other = ready_client(therapist_x, "bo@example.test", name="Bo Brown")
    direct_appointment(session_type, other, at(date(2030, 1, 9), time(10), NEW_YORK))
    browser = signed_in(therapist_x)
    url = f"/appointments/{appointment.pk}/reschedule/"
    week = "/schedule/week/2030-01-07/"
    for data, message in [
        ({"day": "2030-02-30", "start_time": "10:00"}, "Enter a valid date"),
        ({"day": "2030-01-09", "start_time": "25:99"}, "Enter a valid time"),
        ({"day": "", "start_time": ""}, "This field is required"),
        ({"day": "9999-01-01", "start_time": "10:00"}, "Enter a date from"),
        ({"day": "2030-01-01", "start_time": "10:00"}, "already passed"),
        ({"day": "2030-01-08", "start_time": "09:00"}, "already at that time"),
        (
            {"day": "2030-01-09", "start_time": "10:30"},
            "That time was just taken by another booking",
        ),
    ]:
        response = browser.post(url, {**data, "next": week})
        assert response.status_code == 200, data
        assert message in main(response), (data, main(response)[:400])
        assert f'name="next" value="{week}"' in page(response)
    appointment.refresh_from_db()
    assert appointment.starts_at == at(date(2030, 1, 8), time(9), NEW_YORK)
    assert appointment.revision == 0
    assert not AuditEvent.objects.filter(action="appointment.moved").exists()
    # A "next" that is not one of this site's calendar pages is ignored.
    for elsewhere in ("https://example.test/schedule/", "//example.test/schedule/", "/inbox/"):
        response = browser.post(
            url, {"day": "2030-01-10", "start_time": "09:00", "next": elsewhere}
        )
        assert response["Location"] == f"/appointments/{appointment.pk}/", elsewhere
        browser.post(url, {"day": "2030-01-08", "start_time": "09:00"})


# --- The practice's day ----------------------------------------------------------------------


def test_practice_day_shows_every_therapist_with_initials_only(
    session_type: SessionType,
    therapist_x: User,
    therapist_y: User,
    client_a: User,
    client_b: User,
    admin: User,
) -> None:
    User.objects.filter(pk=admin.pk).update(time_zone=NEW_YORK)
    direct_appointment(session_type, client_a, at(date(2030, 1, 8), time(9), NEW_YORK))
    theirs = SessionType.objects.create(therapist=therapist_y, name="Couples work", minutes=60)
    direct_appointment(theirs, client_b, at(date(2030, 1, 8), time(22), NEW_YORK))
    browser = signed_in(admin)
    response = browser.get("/practice/schedule/2030-01-08/")
    text = main(response)
    assert "Practice schedule, Tuesday 8 January 2030" in text
    assert therapist_x.full_name in text and therapist_y.full_name in text
    assert f"09:00-09:50, client {client_a.initials}, Video, Confirmed" in text
    assert (
        f"22:00-23:00, client {client_b.initials}, Video, Confirmed, "
        "Conflict: outside working hours"
    ) in text
    for hidden in (client_a.full_name, client_b.full_name, "Couples work", "Individual session"):
        assert hidden not in text
    assert "/appointments/" not in page(response)
    assert 'class="cal-open at-5 len-32"' in page(response)  # therapist_x's hours, shaded

    only_y = page(browser.get(f"/practice/schedule/2030-01-08/?therapist={therapist_y.pk}"))
    headings = re.findall(r'<h2 class="cal-head" id="col-\d+">([^<]*)', only_y)
    assert [h.strip() for h in headings] == [therapist_y.full_name]
    assert f"client {client_b.initials}" in only_y
    assert f'<option value="{therapist_y.pk}" selected>' in only_y
    for bad in ("abc", "999999", str(client_a.pk)):
        refused = browser.get(f"/practice/schedule/2030-01-08/?therapist={bad}")
        assert refused.status_code == 200
        assert "Choose a therapist from the list." in main(refused)
        assert therapist_x.full_name in main(refused)  # all therapists, as without a filter


def test_practice_week_shows_each_therapists_days_without_clients(
    session_type: SessionType,
    therapist_x: User,
    therapist_y: User,
    client_a: User,
    client_b: User,
    admin: User,
) -> None:
    User.objects.filter(pk=admin.pk).update(time_zone=NEW_YORK)
    # therapist_x works 9-17 on weekdays (New York): two sessions on Tuesday, one at 22:00 on
    # Wednesday (a conflict: outside working time), one cancelled on Thursday (not counted).
    direct_appointment(session_type, client_a, at(date(2030, 1, 8), time(9), NEW_YORK))
    direct_appointment(session_type, client_a, at(date(2030, 1, 8), time(11), NEW_YORK))
    direct_appointment(session_type, client_a, at(date(2030, 1, 9), time(22), NEW_YORK))
    cancelled = direct_appointment(session_type, client_a, at(date(2030, 1, 10), time(9), NEW_YORK))
    Appointment.objects.filter(pk=cancelled.pk).update(status=AppointmentStatus.CANCELLED)
    theirs = SessionType.objects.create(therapist=therapist_y, name="Couples work", minutes=60)
    direct_appointment(theirs, client_b, at(date(2030, 1, 12), time(10), NEW_YORK))

    browser = signed_in(admin)
    response = browser.get("/practice/schedule/week/2030-01-09/")  # a Wednesday: its week
    text = main(response)
    assert "Practice week from Monday 7 January 2030" in text
    rows = {
        " ".join(re.sub(r"<[^>]+>", " ", row).split())
        for row in re.findall(r"<tr>(.*?)</tr>", page(response), re.S)
    }
    x_row = next(r for r in rows if r.startswith(therapist_x.full_name))
    assert x_row == (
        f"{therapist_x.full_name} 0 sessions 0 of 8 h 2 sessions 1.7 of 8 h "
        "1 session 0.8 of 8 h 1 conflict 0 sessions 0 of 8 h 0 sessions 0 of 8 h "
        "not working not working"
    )
    y_row = next(r for r in rows if r.startswith(therapist_y.full_name))
    assert "1 session 1 of 0 h 1 conflict" in y_row  # a Saturday session, no working hours
    assert (
        "Practice 0 sessions 2 sessions 1 session 1 conflict 0 sessions 0 sessions "
        "1 session 1 conflict" in " ".join(rows)
    )
    for hidden in (client_a.full_name, client_b.full_name, "Couples work", client_a.initials):
        assert hidden not in text
    day_link = f"/practice/schedule/2030-01-08/?therapist={therapist_x.pk}"
    assert day_link in page(response)
    assert "/practice/schedule/week/2029-12-31/" in page(response)  # the week before

    only_y = page(browser.get(f"/practice/schedule/week/2030-01-07/?therapist={therapist_y.pk}"))
    heads = re.findall(r'<th scope="row">([^<]*)</th>', only_y)
    assert heads == [therapist_y.full_name, "Practice"]
    refused = browser.get("/practice/schedule/week/2030-01-07/?therapist=abc")
    assert "Choose a therapist from the list." in main(refused)


# --- The pages' cost ------------------------------------------------------------------------


def _many_sessions(session_type: SessionType, count: int, first: date) -> None:
    """``count`` half-hour sessions from ``first`` on, round the clock, with eight clients."""
    therapist = session_type.therapist
    clients = [ready_client(therapist, f"c{n}@example.test") for n in range(8)]
    short = SessionType.objects.create(
        therapist=therapist, name="Short", minutes=30, buffer_minutes=0
    )
    start = at(first, time(0), NEW_YORK)
    for n in range(count):
        direct_appointment(short, clients[n % 8], start + timedelta(minutes=30 * n))


@pytest.mark.parametrize("count", [1, 200])
@pytest.mark.parametrize(
    "url",
    ["/schedule/week/2030-01-14/", "/schedule/day/2030-01-14/", "/schedule/month/2030-01-01/"],
)
def test_calendar_pages_make_a_fixed_number_of_queries(
    session_type: SessionType,
    therapist_x: User,
    admin: User,
    count: int,
    url: str,
    django_assert_num_queries: Any,
) -> None:
    consent_version(admin)
    _many_sessions(session_type, count, date(2030, 1, 14))
    browser = signed_in(therapist_x)
    browser.get(url)  # the session is settled; what follows is the page's own cost
    with django_assert_num_queries(CALENDAR_QUERIES):
        response = browser.get(url)
    assert response.status_code == 200
    expected = {"week": count, "day": min(count, 48), "month": count}[url.split("/")[2]]
    assert page(response).count('class="cal-link"') == expected


@pytest.mark.parametrize("therapists", [1, 12])
def test_practice_day_and_week_make_a_fixed_number_of_queries(
    session_type: SessionType, admin: User, therapists: int, django_assert_num_queries: Any
) -> None:
    _many_sessions(session_type, 40, date(2030, 1, 14))
    for n in range(therapists - 1):
        extra = User.objects.create_user(
            f"t{n}@example.test", None, full_name=f"T{n}", role="therapist"
        )
        WeeklyWindow.objects.create(
            therapist=extra, weekday=0, start_time=time(9), end_time=time(17), time_zone="UTC"
        )
    browser = signed_in(admin)
    url = "/practice/schedule/2030-01-14/"
    browser.get(url)
    with django_assert_num_queries(PRACTICE_QUERIES):
        response = browser.get(url)
    assert page(response).count('class="cal-day') == therapists
    week = "/practice/schedule/week/2030-01-14/"
    with django_assert_num_queries(PRACTICE_QUERIES):
        response = browser.get(week)
    assert page(response).count('<th scope="row">') == therapists + 1  # and the practice's line


# Session, the user with their second factor, practice, appointments, consent version,
# signatures, weekly windows, availability changes; 1 for the unread-messages badge in the
# navigation.
CALENDAR_QUERIES = 9
# Session, the user with their second factor, practice, therapists, appointments, weekly
# windows, changes, and the therapists of the filter's list.
PRACTICE_QUERIES = 8
