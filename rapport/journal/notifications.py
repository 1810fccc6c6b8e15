"""The daily check-in reminder: one content-free email a day, at the time the client chose in
their own zone, on each day they have not yet logged a mood. It names no mood, no entry and no
therapist; it says this is the reminder they asked for and links to their journal page.

Decided when the worker runs, as the homework reminder is: nothing once the client switched it
off or changed it (a newer ``revision`` carries on), for an inactive account, or once a mood is
logged that day; in the client's quiet hours it waits for them to end. The ``EmailDelivery`` key
(client and day) makes it go out at most once a day. Each day's reminder queues the next day's,
so a chain of one queued task per client carries the reminder from day to day.
"""

from __future__ import annotations

import zoneinfo
from datetime import date, datetime, time, timedelta

from django.conf import settings
from django.core.mail import EmailMessage
from django.db import transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone, translation

from rapport.accounts.models import Practice
from rapport.core import outbox
from rapport.journal import tasks
from rapport.journal.models import JournalEntry, MoodReminder
from rapport.messaging.preferences import quiet_hours_end, settings_for, wall_clock, zone_of


def next_day(at: time, zone: zoneinfo.ZoneInfo, now: datetime) -> date:
    """The first day whose ``at`` (on the clocks of ``zone``) is still ahead of ``now``."""
    day = now.astimezone(zone).date()
    while wall_clock(day, at, zone) <= now:
        day += timedelta(days=1)
    return day


def queue(reminder: MoodReminder, day: date, zone: zoneinfo.ZoneInfo) -> None:
    """Queue ``day``'s reminder for the chosen time, inside the caller's transaction."""
    tasks.send_mood_reminder.using(run_after=wall_clock(day, reminder.at, zone)).enqueue(
        reminder.client_id, day.isoformat(), reminder.revision
    )


def deliver_mood_reminder(
    client_id: int, day: date, revision: int, *, first: bool = True, now: datetime | None = None
) -> bool:
    """Remind the client to check in on ``day``. True if this call sent the email."""
    now = now or timezone.now()
    with transaction.atomic():
        reminder = (
            MoodReminder.objects.select_for_update(of=("self",))
            .select_related("client")
            .filter(client_id=client_id)
            .first()
        )
        if reminder is None or not reminder.enabled or reminder.revision != revision:
            return False  # switched off, or changed: the newer revision's chain carries on
        client = reminder.client
        zone = zone_of(client)
        if first:
            if wall_clock(day, reminder.at, zone) > now:
                # The client moved to a zone where it is not that time yet: wait for it.
                queue(reminder, day, zone)
                return False
            # Tomorrow's, or the first still ahead after a worker that was down for days.
            queue(reminder, next_day(reminder.at, zone, now), zone)
        if now.astimezone(zone).date() > day + timedelta(days=1):
            return False  # a day long gone (the worker was down): no stale reminders
        if not (client.is_active and client.is_client and client.email):
            return False
        if JournalEntry.objects.filter(
            client=client, mood__isnull=False, written_at__gte=wall_clock(day, time(0), zone)
        ).exists():
            return False  # checked in already
        quiet_end = quiet_hours_end(settings_for(client), zone, now)
        if quiet_end is not None:
            tasks.send_mood_reminder.using(run_after=quiet_end).enqueue(
                client.pk, day.isoformat(), revision, False
            )
            return False
        with translation.override(client.language):
            context = {
                "practice": Practice.get(),
                "person": client,
                "link": f"{settings.SITE_URL}{reverse('my_journal')}",
            }
            subject = render_to_string("journal/email/reminder_subject.txt", context)
            body = render_to_string("journal/email/reminder.txt", context)
        message = EmailMessage(
            subject=" ".join(subject.split()),
            body=body,
            to=[client.email],
            headers={"Auto-Submitted": "auto-generated"},
        )
        delivery = outbox.record(
            message, key=f"mood-reminder:{client.pk}:{day.isoformat()}", kind="journal"
        )
    return delivery is not None and outbox.send(delivery, message)
