"""The daily check-in reminder, through the real worker and a real SMTP server with the clock
moved: off unless switched on; then one content-free email at the chosen time on the client's
own clock, none once a mood is logged that day, none twice, none to an inactive account, after
the client's quiet hours, at the same wall-clock time across daylight saving. Also: bad input
gets clear errors, and a change is audited as other preference changes are."""

from __future__ import annotations

from datetime import datetime, time
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.urls import reverse
from django_tasks_db.models import DBTaskResult

from rapport.accounts.models import User
from rapport.audit.models import AuditEvent
from rapport.audit.services import Action
from rapport.core.models import EmailDelivery
from rapport.journal import services
from rapport.journal.models import MoodReminder
from rapport.messaging.preferences import settings_for
from tests.conftest import signed_in
from tests.mail import Inbox, body_of
from tests.worker import run_task_worker

UTC = ZoneInfo("UTC")
# Monday 2 March 2026, 07:00 in New York (EST, UTC-5): the client's zone in these tests.
MONDAY = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
WORDS = "Slept badly again REMINDER-WORDS"


@pytest.fixture
def new_yorker(client_a: User) -> User:
    client_a.time_zone = "America/New_York"
    client_a.save(update_fields=["time_zone"])
    return client_a


def _switch(user: User, data: dict[str, str]) -> str:
    response = signed_in(user).post(reverse("journal_reminder"), data)
    assert response.status_code == 302, response.content.decode()
    return str(response["Location"])


def _waiting_reminders() -> int:
    return DBTaskResult.objects.filter(
        task_path__endswith="send_mood_reminder", status="READY"
    ).count()


@pytest.mark.django_db(transaction=True)
def test_no_reminder_unless_the_client_switches_it_on(
    new_yorker: User, therapist_x: User, smtp: Inbox
) -> None:
    page = signed_in(new_yorker).get(reverse("my_journal")).content.decode()
    assert 'name="enabled"' in page and 'name="enabled" checked' not in page
    with time_machine.travel(MONDAY, tick=False) as clock:
        services.write_entry(new_yorker, mood=None, text="Just words, no mood")
        clock.move_to(datetime(2026, 3, 3, 1, 30, tzinfo=UTC))  # 20:30 in New York
        run_task_worker()
    assert smtp.take() == []
    assert not MoodReminder.objects.exists()
    assert _waiting_reminders() == 0


@pytest.mark.django_db(transaction=True)
def test_one_content_free_reminder_at_the_chosen_time_until_a_mood_is_logged(
    new_yorker: User, therapist_x: User, smtp: Inbox
) -> None:
    with time_machine.travel(MONDAY, tick=False) as clock:
        assert _switch(new_yorker, {"enabled": "on", "remind_at": "20:00"}) == reverse("my_journal")
        services.write_entry(new_yorker, mood=None, text=WORDS)  # words only: not a check-in
        clock.move_to(datetime(2026, 3, 3, 0, 59, tzinfo=UTC))  # 19:59 in New York
        run_task_worker()
        assert smtp.take() == []
        clock.move_to(datetime(2026, 3, 3, 1, 0, tzinfo=UTC))  # 20:00
        run_task_worker()
        [mail] = smtp.take()
        assert mail["To"] == new_yorker.email
        assert "A reminder you asked for" in str(mail["Subject"])
        text = body_of(mail) + str(mail["Subject"])
        assert "the daily reminder you asked for" in text
        assert reverse("my_journal") in text
        for words in [WORDS, "mood", "Mood", "journal entry", therapist_x.full_name]:
            assert words not in text
        run_task_worker()
        assert smtp.take() == []  # once a day
        # Tuesday: a mood logged in the morning, so no reminder that evening.
        clock.move_to(datetime(2026, 3, 3, 14, 0, tzinfo=UTC))  # 09:00 in New York
        services.write_entry(new_yorker, mood=4, mood_words=WORDS)
        clock.move_to(datetime(2026, 3, 4, 1, 0, tzinfo=UTC))
        run_task_worker()
        assert smtp.take() == []
        # Wednesday: yesterday's mood does not count for today.
        clock.move_to(datetime(2026, 3, 5, 1, 0, tzinfo=UTC))
        run_task_worker()
        assert len(smtp.take()) == 1
    keys = sorted(EmailDelivery.objects.filter(kind="journal").values_list("key", flat=True))
    assert keys == [
        f"mood-reminder:{new_yorker.pk}:2026-03-02",
        f"mood-reminder:{new_yorker.pk}:2026-03-04",
    ]
    assert _waiting_reminders() == 1  # Thursday's, and only that


@pytest.mark.django_db(transaction=True)
def test_the_reminder_waits_for_quiet_hours(new_yorker: User, smtp: Inbox) -> None:
    prefs = settings_for(new_yorker)
    prefs.quiet_from, prefs.quiet_until = time(19), time(21, 30)
    prefs.save()
    with time_machine.travel(MONDAY, tick=False) as clock:
        services.set_reminder(new_yorker, enabled=True, at=time(20))
        clock.move_to(datetime(2026, 3, 3, 1, 0, tzinfo=UTC))  # 20:00: quiet
        run_task_worker()
        assert smtp.take() == []
        clock.move_to(datetime(2026, 3, 3, 2, 29, tzinfo=UTC))
        run_task_worker()
        assert smtp.take() == []
        clock.move_to(datetime(2026, 3, 3, 2, 30, tzinfo=UTC))  # 21:30: the quiet hours end
        run_task_worker()
        assert len(smtp.take()) == 1
        run_task_worker()
        assert smtp.take() == []
    assert _waiting_reminders() == 1  # the next day's, not two of them


@pytest.mark.django_db(transaction=True)
def test_the_reminder_keeps_its_wall_clock_time_across_daylight_saving(
    new_yorker: User, smtp: Inbox
) -> None:
    """New York's clocks go forward on Sunday 8 March 2026: 20:00 is 01:00 UTC before, 00:00
    after."""
    with time_machine.travel(datetime(2026, 3, 7, 12, 0, tzinfo=UTC), tick=False) as clock:
        services.set_reminder(new_yorker, enabled=True, at=time(20))
        clock.move_to(datetime(2026, 3, 8, 1, 0, tzinfo=UTC))
        run_task_worker()
        assert len(smtp.take()) == 1
        clock.move_to(datetime(2026, 3, 8, 23, 59, tzinfo=UTC))  # 19:59 EDT
        run_task_worker()
        assert smtp.take() == []
        clock.move_to(datetime(2026, 3, 9, 0, 0, tzinfo=UTC))  # 20:00 EDT
        run_task_worker()
        assert len(smtp.take()) == 1


@pytest.mark.django_db(transaction=True)
def test_switching_off_or_changing_the_time_leaves_one_reminder_or_none(
    new_yorker: User, smtp: Inbox
) -> None:
    with time_machine.travel(MONDAY, tick=False) as clock:
        services.set_reminder(new_yorker, enabled=True, at=time(20))
        services.set_reminder(new_yorker, enabled=True, at=time(6))  # changed: 06:00 now
        services.set_reminder(new_yorker, enabled=True, at=time(6))  # the same again
        clock.move_to(datetime(2026, 3, 3, 1, 0, tzinfo=UTC))  # Monday 20:00: the old time
        run_task_worker()
        assert smtp.take() == []
        clock.move_to(datetime(2026, 3, 3, 11, 0, tzinfo=UTC))  # Tuesday 06:00
        run_task_worker()
        assert len(smtp.take()) == 1
        assert _waiting_reminders() == 1
        _switch(new_yorker, {"remind_at": "06:00"})  # unticked: off
        clock.move_to(datetime(2026, 3, 4, 11, 0, tzinfo=UTC))
        run_task_worker()
        assert smtp.take() == []
        assert _waiting_reminders() == 0  # the chain stopped
    reminder = MoodReminder.objects.get(client=new_yorker)
    assert (reminder.enabled, reminder.at, reminder.revision) == (False, time(6), 3)


@pytest.mark.django_db(transaction=True)
def test_no_reminder_to_an_inactive_account(new_yorker: User, smtp: Inbox) -> None:
    with time_machine.travel(MONDAY, tick=False) as clock:
        services.set_reminder(new_yorker, enabled=True, at=time(20))
        User.objects.filter(pk=new_yorker.pk).update(is_active=False)
        clock.move_to(datetime(2026, 3, 3, 1, 0, tzinfo=UTC))
        run_task_worker()
        assert smtp.take() == []
        # Back in use: the reminder they asked for carries on the next day.
        User.objects.filter(pk=new_yorker.pk).update(is_active=True)
        clock.move_to(datetime(2026, 3, 4, 1, 0, tzinfo=UTC))
        run_task_worker()
        assert len(smtp.take()) == 1


def test_bad_reminder_input_gets_clear_errors_and_saves_nothing(
    client_a: User, therapist_x: User
) -> None:
    browser = signed_in(client_a)
    cases = {
        "Choose the time of day for the reminder.": {"enabled": "on", "remind_at": ""},
        "Enter a time of day as hours and minutes, such as 20:00.": {
            "enabled": "on",
            "remind_at": "25:99",
        },
    }
    for error, data in cases.items():
        response = browser.post(reverse("journal_reminder"), data)
        page = response.content.decode()
        assert response.status_code == 400
        assert error in page
        assert 'class="error-summary"' in page
    assert browser.get(reverse("journal_reminder")).status_code == 405
    assert not MoodReminder.objects.exists()
    with pytest.raises(services.JournalError, match="Only clients"):
        services.set_reminder(therapist_x, enabled=True, at=time(20))
    with pytest.raises(services.JournalError, match="time of day"):
        services.set_reminder(client_a, enabled=True, at=None)
    assert not MoodReminder.objects.exists()


def test_a_change_is_audited_with_the_fields_only(client_a: User) -> None:
    _switch(client_a, {"enabled": "on", "remind_at": "07:15"})
    _switch(client_a, {"enabled": "on", "remind_at": "07:15"})  # no change: no event
    _switch(client_a, {"enabled": "on", "remind_at": "21:00"})
    events = AuditEvent.objects.filter(action=Action.JOURNAL_REMINDER_CHANGED).order_by("pk")
    assert [e.detail["fields"] for e in events] == [["at", "enabled"], ["at"]]
    assert all(e.actor_id == client_a.pk for e in events)
    page = signed_in(client_a).get(reverse("my_journal")).content.decode()
    assert 'value="21:00"' in page and "checked" in page
