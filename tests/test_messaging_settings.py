"""Messaging settings page, quiet hours, office hours and what clients are told about replies."""

from __future__ import annotations

from datetime import UTC, datetime, time
from zoneinfo import ZoneInfo

import pytest
from django.core.exceptions import ValidationError
from django.test import Client
from django.urls import reverse

from rapport.accounts.models import User
from rapport.audit.models import AuditEvent
from rapport.audit.services import Action
from rapport.messaging.models import MessagingSettings, OfficeHours
from rapport.messaging.office_hours import describe_hours, expectation
from rapport.messaging.preferences import (
    Window,
    quiet_hours_end,
    save_messaging_settings,
    settings_for,
)
from tests.conftest import signed_in

URL = "/settings/messages/"
NEW_YORK = ZoneInfo("America/New_York")
BERLIN = ZoneInfo("Europe/Berlin")
LONDON = ZoneInfo("Europe/London")
WEEKDAYS_9_TO_5 = [Window(day, time(9), time(17)) for day in range(5)]


def therapist_form(**changes: str) -> dict[str, str]:
    data = {
        "email_when_unread": "on",
        "email_delay_minutes": "15",
        "quiet_from": "22:00",
        "quiet_until": "07:00",
        "response_hours": "72",
    }
    for day in range(5):
        data[f"day{day}_starts"], data[f"day{day}_ends"] = "09:00", "17:00"
    return data | changes


def set_zone(user: User, zone: str) -> None:
    User.objects.filter(pk=user.pk).update(time_zone=zone)
    user.refresh_from_db()


def set_hours(therapist: User, windows: list[Window]) -> None:
    OfficeHours.objects.filter(therapist=therapist).delete()
    for w in windows:
        OfficeHours.objects.create(
            therapist=therapist, weekday=w.weekday, starts=w.starts, ends=w.ends
        )


# --- The page ------------------------------------------------------------------------------------


def test_url_and_roles(client_a: User, therapist_x: User, admin: User) -> None:
    assert reverse("messaging_settings") == URL
    assert Client().get(URL)["Location"].startswith("/accounts/login/")
    assert signed_in(admin).get(URL).status_code == 403
    page = signed_in(client_a).get(URL)
    assert page.status_code == 200
    html = page.content.decode()
    assert 'name="email_delay_minutes"' in html and 'name="quiet_from"' in html
    # Clients have no office hours or reply time to set.
    assert "day0_starts" not in html and "response_hours" not in html
    html = signed_in(therapist_x).get(URL).content.decode()
    assert 'name="day6_ends"' in html and 'name="response_hours"' in html
    assert '<label for="id_day0_starts">Monday from' in html
    assert signed_in(client_a).delete(URL).status_code == 405


def test_account_page_links_to_it(client_a: User, admin: User) -> None:
    assert URL in signed_in(client_a).get("/settings/").content.decode()
    assert URL not in signed_in(admin).get("/settings/").content.decode()


def test_therapist_saves_everything_audited(therapist_x: User) -> None:
    browser = signed_in(therapist_x)
    response = browser.post(URL, therapist_form(day5_starts="10:00", day5_ends="12:00"))
    assert response.status_code == 302 and response["Location"] == URL
    prefs = MessagingSettings.objects.get(user=therapist_x)
    assert (prefs.email_when_unread, prefs.email_delay_minutes, prefs.response_hours) == (
        True,
        15,
        72,
    )
    assert (prefs.quiet_from, prefs.quiet_until) == (time(22), time(7))
    rows = list(
        OfficeHours.objects.filter(therapist=therapist_x).values_list("weekday", "starts", "ends")
    )
    assert rows == [(d, time(9), time(17)) for d in range(5)] + [(5, time(10), time(12))]
    event = AuditEvent.objects.get(action=Action.MESSAGING_SETTINGS_CHANGED)
    assert event.actor_id == therapist_x.pk
    assert event.detail["fields"] == [
        "email_delay_minutes",
        "quiet_from",
        "quiet_until",
        "response_hours",
        "office_hours",
    ]
    # The page shows what was saved; saving it unchanged records nothing.
    html = browser.get(URL).content.decode()
    assert 'value="10:00"' in html and 'value="72"' in html
    browser.post(URL, therapist_form(day5_starts="10:00", day5_ends="12:00"))
    assert AuditEvent.objects.filter(action=Action.MESSAGING_SETTINGS_CHANGED).count() == 1
    # Emptying a day closes it.
    browser.post(URL, therapist_form(day4_starts="", day4_ends=""))
    assert not OfficeHours.objects.filter(therapist=therapist_x, weekday=4).exists()


def test_client_turns_emails_off(client_a: User) -> None:
    response = signed_in(client_a).post(
        URL,
        {"email_delay_minutes": "10", "quiet_from": "", "quiet_until": "", "response_hours": "1"},
    )
    assert response.status_code == 302
    prefs = settings_for(client_a)
    assert prefs.email_when_unread is False
    assert prefs.response_hours == 48  # not a client's setting: ignored
    assert not OfficeHours.objects.exists()


@pytest.mark.parametrize(
    ("changes", "field", "error"),
    [
        ({"email_delay_minutes": "4"}, "email_delay_minutes", "greater than or equal to 5"),
        ({"email_delay_minutes": "1441"}, "email_delay_minutes", "less than or equal to 1440"),
        ({"quiet_until": ""}, "quiet_until", "Give both ends of the quiet hours"),
        ({"quiet_from": ""}, "quiet_from", "Give both ends of the quiet hours"),
        ({"quiet_until": "22:00"}, "quiet_until", "another time than they start"),
        ({"quiet_from": "25:00"}, "quiet_from", "Enter a valid time"),
        ({"response_hours": "0"}, "response_hours", "greater than or equal to 1"),
        ({"response_hours": "337"}, "response_hours", "less than or equal to 336"),
        ({"day2_ends": ""}, "day2_ends", "Wednesday: give both times"),
        ({"day0_ends": "08:00"}, "day0_ends", "Monday: office hours must end after they start"),
        ({"day1_ends": "09:00"}, "day1_ends", "Tuesday: office hours must end after they start"),
    ],
)
def test_refused_input(therapist_x: User, changes: dict[str, str], field: str, error: str) -> None:
    response = signed_in(therapist_x).post(URL, therapist_form(**changes))
    assert response.status_code == 200
    form = response.context["form"]
    assert any(error in e for e in form.errors[field]), form.errors
    html = response.content.decode()
    # The summary links to the field; nothing was saved.
    assert 'id="error-summary"' in html and f'href="#id_{field}"' in html
    assert not MessagingSettings.objects.filter(user=therapist_x, email_delay_minutes=15).exists()
    assert not OfficeHours.objects.exists()
    assert not AuditEvent.objects.filter(action=Action.MESSAGING_SETTINGS_CHANGED).exists()


def test_overlapping_office_hours_are_refused(therapist_x: User) -> None:
    with pytest.raises(ValidationError, match="overlap"):
        save_messaging_settings(
            therapist_x,
            email_when_unread=True,
            email_delay_minutes=10,
            quiet_from=None,
            quiet_until=None,
            office_hours=[Window(0, time(9), time(12)), Window(0, time(11), time(14))],
        )
    with pytest.raises(ValidationError, match="both ends"):
        save_messaging_settings(
            therapist_x,
            email_when_unread=True,
            email_delay_minutes=10,
            quiet_from=time(22),
            quiet_until=None,
        )
    assert not OfficeHours.objects.exists()
    # Two windows that touch are fine.
    save_messaging_settings(
        therapist_x,
        email_when_unread=True,
        email_delay_minutes=10,
        quiet_from=None,
        quiet_until=None,
        office_hours=[Window(0, time(9), time(12)), Window(0, time(12), time(14))],
    )
    assert OfficeHours.objects.filter(therapist=therapist_x).count() == 2


def test_database_refuses_backwards_office_hours(therapist_x: User) -> None:
    from django.db import IntegrityError, transaction

    with pytest.raises(IntegrityError), transaction.atomic():
        OfficeHours.objects.create(therapist=therapist_x, weekday=0, starts=time(17), ends=time(9))


# --- Quiet hours ---------------------------------------------------------------------------------


def quiet(start: time | None, end: time | None) -> MessagingSettings:
    return MessagingSettings(quiet_from=start, quiet_until=end)


@pytest.mark.parametrize(
    ("local", "expected"),
    [
        (datetime(2030, 1, 16, 21, 59, tzinfo=BERLIN), None),
        (datetime(2030, 1, 16, 22, 0, tzinfo=BERLIN), datetime(2030, 1, 17, 7, 0, tzinfo=BERLIN)),
        (datetime(2030, 1, 16, 23, 30, tzinfo=BERLIN), datetime(2030, 1, 17, 7, 0, tzinfo=BERLIN)),
        (datetime(2030, 1, 17, 3, 0, tzinfo=BERLIN), datetime(2030, 1, 17, 7, 0, tzinfo=BERLIN)),
        (datetime(2030, 1, 17, 7, 0, tzinfo=BERLIN), None),
        (datetime(2030, 1, 17, 12, 0, tzinfo=BERLIN), None),
    ],
)
def test_quiet_hours_across_midnight(local: datetime, expected: datetime | None) -> None:
    prefs = quiet(time(22), time(7))
    assert quiet_hours_end(prefs, BERLIN, local) == expected


def test_quiet_hours_within_a_day_and_none() -> None:
    lunch = quiet(time(12), time(13))
    assert quiet_hours_end(lunch, LONDON, datetime(2030, 6, 3, 12, 30, tzinfo=LONDON)) == datetime(
        2030, 6, 3, 13, tzinfo=LONDON
    )
    assert quiet_hours_end(lunch, LONDON, datetime(2030, 6, 3, 13, 0, tzinfo=LONDON)) is None
    assert quiet_hours_end(quiet(None, None), LONDON, datetime(2030, 6, 3, tzinfo=UTC)) is None


def test_quiet_hours_end_on_the_wall_clock_across_a_daylight_saving_change() -> None:
    # Clocks in New York go forward on Sunday 10 March 2030: 7:00 is 11:00 UTC, not 12:00.
    prefs = quiet(time(22), time(7))
    saturday_night = datetime(2030, 3, 9, 23, 0, tzinfo=NEW_YORK)
    end = quiet_hours_end(prefs, NEW_YORK, saturday_night)
    assert end == datetime(2030, 3, 10, 11, 0, tzinfo=UTC)
    assert end is not None and end.astimezone(NEW_YORK).hour == 7


# --- Office hours and expectations ---------------------------------------------------------------


def test_describe_hours() -> None:
    windows = [*WEEKDAYS_9_TO_5, Window(5, time(10), time(12, 30))]
    assert describe_hours(windows) == "Monday–Friday 09:00–17:00; Saturday 10:00–12:30"  # noqa: RUF001
    split = [
        Window(0, time(9), time(12)),
        Window(0, time(13), time(17)),
        Window(2, time(9), time(12)),
    ]
    assert describe_hours(split) == "Monday 09:00–12:00, 13:00–17:00; Wednesday 09:00–12:00"  # noqa: RUF001


def test_without_office_hours_only_the_reply_time(therapist_x: User, client_a: User) -> None:
    at = datetime(2030, 3, 9, 3, 0, tzinfo=UTC)
    assert expectation(therapist_x, at).open_now
    assert expectation(therapist_x, at).next_opening is None
    told = expectation(therapist_x, at, viewer=client_a)
    assert told.open_now and not told.away and not told.has_office_hours
    assert told.response_hours == 48
    assert told.sentence == "Xena Therapist usually replies within 2 days."


def test_across_zones_and_a_daylight_saving_change(therapist_x: User, client_a: User) -> None:
    set_zone(therapist_x, "America/New_York")
    set_zone(client_a, "Europe/Berlin")
    set_hours(therapist_x, WEEKDAYS_9_TO_5)
    prefs = settings_for(therapist_x)
    prefs.response_hours = 24
    prefs.save()

    # Friday 8 March 2030, 18:00 in New York (EST): closed for the weekend, during which the
    # clocks go forward. Monday 9:00 EDT is 13:00 UTC, 14:00 in Berlin (still winter time).
    friday_evening = datetime(2030, 3, 8, 18, 0, tzinfo=NEW_YORK)
    monday_nine = datetime(2030, 3, 11, 13, 0, tzinfo=UTC)
    assert not expectation(therapist_x, friday_evening).open_now
    assert expectation(therapist_x, friday_evening).next_opening == monday_nine
    told = expectation(therapist_x, friday_evening, viewer=client_a)
    assert told.away and not told.open_now and told.next_opening == monday_nine
    assert told.sentence == (
        "Xena Therapist reads messages Monday–Friday 09:00–17:00 (America/New_York time). "  # noqa: RUF001
        "Xena Therapist usually replies within 24 hours. "
        "Xena Therapist is away now: expect an answer from Monday 11 March at 14:00, your time."
    )

    # Before and after the change, 9:00 on the therapist's clock is open, 8:59 is not.
    assert expectation(therapist_x, datetime(2030, 3, 8, 14, 0, tzinfo=UTC)).open_now  # 9:00 EST
    assert not expectation(
        therapist_x, datetime(2030, 3, 11, 12, 59, tzinfo=UTC)
    ).open_now  # 8:59 EDT
    assert expectation(therapist_x, monday_nine).open_now
    assert not expectation(
        therapist_x, datetime(2030, 3, 11, 21, 0, tzinfo=UTC)
    ).open_now  # 17:00 EDT

    # Open now: no "away" part; the next opening is now.
    during = datetime(2030, 3, 12, 15, 0, tzinfo=UTC)
    told = expectation(therapist_x, during, viewer=client_a)
    assert told.open_now and told.next_opening == during
    assert "away" not in told.sentence


def test_same_zone_today_and_tomorrow(therapist_x: User, client_a: User) -> None:
    set_zone(therapist_x, "Europe/London")
    set_zone(client_a, "Europe/London")
    set_hours(therapist_x, WEEKDAYS_9_TO_5)
    early = datetime(2030, 6, 4, 7, 30, tzinfo=LONDON)  # a Tuesday
    told = expectation(therapist_x, early, viewer=client_a)
    assert "(Europe/London time)" not in told.sentence
    assert told.sentence.endswith("expect an answer from today at 09:00, your time.")
    late = datetime(2030, 6, 4, 17, 0, tzinfo=LONDON)
    told = expectation(therapist_x, late, viewer=client_a)
    assert told.sentence.endswith("expect an answer from tomorrow at 09:00, your time.")
    assert told.next_opening == datetime(2030, 6, 5, 8, 0, tzinfo=UTC)


def test_a_week_with_one_window(therapist_x: User) -> None:
    set_hours(therapist_x, [Window(2, time(10), time(11))])  # Wednesdays only, UTC
    wednesday_after = datetime(2030, 6, 5, 11, 0, tzinfo=UTC)
    assert expectation(therapist_x, wednesday_after).next_opening == datetime(
        2030, 6, 12, 10, 0, tzinfo=UTC
    )
