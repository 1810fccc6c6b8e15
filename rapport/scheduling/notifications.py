"""What happens after an appointment changes: emails with calendar invitations, and reminders.

``appointment_changed`` runs inside the change's transaction and queues background tasks
(``rapport.scheduling.tasks``) that commit with it, or roll back with it: nobody is told about
a rolled-back change, and no committed change goes untold. The functions here that those tasks
call decide whether a message is still true when the worker gets to it, and write it.

Emails name no diagnosis and no clinical detail: the time (in the recipient's zone, and the other
person's when it differs), the therapist's name, the modality and the join link.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from email.message import MIMEPart

from django.core.mail import EmailMessage, EmailMultiAlternatives
from django.db import transaction
from django.template.loader import render_to_string
from django.utils import timezone, translation
from django.utils.formats import date_format
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from rapport.accounts.models import Practice, User
from rapport.core import clock as clocks
from rapport.core import outbox
from rapport.core.clock import clock
from rapport.push import services as push
from rapport.push.models import NoticeKind
from rapport.scheduling import ical
from rapport.scheduling.models import (
    LIVE_STATUSES,
    Appointment,
    AppointmentStatus,
    ReminderDelivery,
)
from rapport.scheduling.tasks import send_appointment_email, send_reminder, send_start_notice

logger = logging.getLogger(__name__)

CHANGES = ("booked", "moved", "cancelled")
# The push notice "Your session starts in 10 minutes" (rapport.push), to both people.
START_NOTICE_MINUTES = 10
RECIPIENTS = ("client", "therapist")


def appointment_changed(appointment_id: int, change: str) -> None:
    """Queue the emails for ``change`` ("booked", "moved", "cancelled") and the reminders."""
    if change not in CHANGES:
        raise ValueError(f"unknown appointment change {change!r}")
    appointment = Appointment.objects.filter(pk=appointment_id).first()
    if appointment is None:
        return
    # All of it or none of it: a crash half-way must not leave one party uninformed.
    with transaction.atomic():
        for recipient in RECIPIENTS:
            send_appointment_email.enqueue(appointment.pk, change, appointment.revision, recipient)
        if change != "cancelled" and appointment.is_live:
            queue_reminders(appointment)


def queue_reminders(appointment: Appointment) -> None:
    """One deferred task per practice reminder offset that is still ahead.

    Reminders queued for an earlier time of a moved appointment stay in the queue and do
    nothing when they run: ``deliver_reminder`` checks the time they were queued for.
    """
    now = timezone.now()
    for minutes in Practice.get().reminder_offsets:
        run_after = appointment.starts_at - timedelta(minutes=minutes)
        if run_after <= now:
            continue
        send_reminder.using(run_after=run_after).enqueue(
            appointment.pk, minutes, appointment.starts_at.isoformat()
        )
    notice_at = appointment.starts_at - timedelta(minutes=START_NOTICE_MINUTES)
    if notice_at > now:
        send_start_notice.using(run_after=notice_at).enqueue(
            appointment.pk, appointment.starts_at.isoformat()
        )


# --- Worker side ---------------------------------------------------------------------------------


def _load(appointment_id: int, *, lock: bool = False) -> Appointment | None:
    rows = Appointment.objects.select_related("therapist", "client")
    if lock:
        rows = rows.select_for_update(of=("self",))
    return rows.filter(pk=appointment_id).first()


def _still_true(appointment: Appointment, change: str) -> bool:
    """Whether the state a change email would describe is the appointment's state now."""
    if change == "cancelled":
        return appointment.status == AppointmentStatus.CANCELLED
    return appointment.status in LIVE_STATUSES


def deliver_change(appointment_id: int, change: str, revision: int, recipient: str) -> bool:
    """Email one party about a change, unless a newer change superseded it. True if sent.

    Only the newest state is mailed: when the appointment moved on (its revision went up), the
    newer change has its own email queued, with a calendar entry that replaces this one.
    """
    appointment = _load(appointment_id)
    if appointment is None or appointment.revision != revision:
        return False
    if not _still_true(appointment, change):
        return False
    person = appointment.client if recipient == "client" else appointment.therapist
    if not person.is_active or not person.email:
        return False
    message = change_email(appointment, change, person)
    key = f"appointment:{appointment.pk}:{revision}:{change}:{recipient}"
    delivery = outbox.record(message, key=key, kind=f"appointment {change}")
    return delivery is not None and outbox.send(delivery, message)


def deliver_reminder(appointment_id: int, minutes_before: int, starts_at_iso: str) -> bool:
    """Remind the client once, if the appointment is still booked for that time. True if sent.

    The delivery rows (this reminder's and the outbox's) are written in one transaction; the
    email is sent after it commits (``rapport.core.outbox``): any later run of this reminder (a
    restarted worker, a duplicate task) finds the row and sends nothing.
    """
    starts_at = datetime.fromisoformat(starts_at_iso)
    now = timezone.now()
    # A worker that was down for a while: the closer reminder says it better ("in 1 hour",
    # not "in 24 hours" an hour before).
    closer = [m for m in Practice.get().reminder_offsets if m < minutes_before]
    if any(now >= starts_at - timedelta(minutes=m) for m in closer):
        return False
    with transaction.atomic():
        appointment = _load(appointment_id, lock=True)
        if appointment is None or not appointment.is_live:
            return False
        if appointment.starts_at != starts_at or appointment.starts_at <= now:
            return False
        client = appointment.client
        if not client.is_active or not client.email:
            return False
        _delivery, created = ReminderDelivery.objects.get_or_create(
            appointment=appointment, minutes_before=minutes_before, starts_at=starts_at
        )
        if not created:
            return False
        message = reminder_email(appointment, minutes_before, client)
        key = f"reminder:{appointment.pk}:{minutes_before}:{starts_at_iso}"
        delivery = outbox.record(message, key=key, kind="appointment reminder")
    return delivery is not None and outbox.send(delivery, message)


def deliver_start_notice(appointment_id: int, starts_at_iso: str) -> int:
    """Push "Your session starts in 10 minutes" to both people, once, if the appointment is
    still booked for that time. Returns how many notices were recorded."""
    starts_at = datetime.fromisoformat(starts_at_iso)
    with transaction.atomic():
        appointment = _load(appointment_id, lock=True)
        if appointment is None or not appointment.is_live:
            return 0
        if appointment.starts_at != starts_at or appointment.starts_at <= timezone.now():
            return 0
        recorded = 0
        for person in (appointment.client, appointment.therapist):
            if person.is_active:
                key = f"starting:{appointment.pk}:{starts_at_iso}:{person.pk}"
                recorded += push.notify(person.pk, NoticeKind.SESSION_STARTING, key) is not None
    return recorded


# --- Writing the messages ------------------------------------------------------------------------


def _when(appointment: Appointment, person: User) -> str:
    """The session's date and time as ``person`` reads it, in their zone."""
    zone = ical.viewer_zone(person)
    start = appointment.starts_at.astimezone(zone)
    end = appointment.ends_at.astimezone(zone)
    start_time, end_time = clock(start, convert=False), clock(end, convert=False)
    if ical.is_repeated(start) or ical.is_repeated(end):
        # The night clocks go back: "1:30 BST – 1:20 GMT" says which 1:20.  # noqa: RUF003
        start_time, end_time = f"{start_time} {start.tzname()}", f"{end_time} {end.tzname()}"
    return _("%(weekday)s, %(date)s, %(start)s – %(end)s (%(zone)s)") % {  # noqa: RUF001
        "weekday": date_format(start, "l"),
        "date": date_format(start, "DATE_FORMAT"),
        "start": start_time,
        "end": end_time,
        "zone": zone.key,
    }


def _other(appointment: Appointment, person: User) -> User:
    return appointment.therapist if person.pk == appointment.client_id else appointment.client


def _context(appointment: Appointment, person: User, practice: Practice) -> dict[str, object]:
    other = _other(appointment, person)
    other_when = None
    if ical.viewer_zone(other).key != ical.viewer_zone(person).key:
        other_when = _when(appointment, other)
    return {
        "practice": practice,
        "person": person,
        "is_therapist": person.pk == appointment.therapist_id,
        "other_name": ical.other_party_label(appointment, person, practice),
        "therapist_name": appointment.therapist.full_name,
        "when": _when(appointment, person),
        "other_when": other_when,
        "modality": appointment.get_modality_display(),
        "link": ical.appointment_link(appointment),
        "join_opens_minutes": practice.join_opens_minutes,
        "requested": appointment.status == AppointmentStatus.REQUESTED,
        "cancelled_by_you": appointment.cancelled_by_id == person.pk,
    }


def _calendar_part(text: str, method: str) -> MIMEPart:
    """An iMIP part: ``text/calendar; method=...`` is what makes mail apps offer the event."""
    part = MIMEPart()
    part.set_content(
        text,
        subtype="calendar",
        charset="utf-8",
        params={"method": method},
        disposition="attachment",
        filename="invite.ics",
    )
    return part


def change_email(appointment: Appointment, change: str, person: User) -> EmailMultiAlternatives:
    """The booked / moved / cancelled email for ``person``, with its calendar invitation."""
    practice = Practice.get()
    cancel = change == "cancelled"
    with translation.override(person.language), clocks.override(person.clock):
        context = {**_context(appointment, person, practice), "change": change}
        subject = render_to_string("scheduling/email/appointment_subject.txt", context)
        body = render_to_string("scheduling/email/appointment.txt", context)
    message = EmailMultiAlternatives(
        subject=" ".join(subject.split()),
        body=body,
        to=[person.email],
        headers={"Auto-Submitted": "auto-generated"},
    )
    try:
        invitation = ical.invitation(appointment, person, cancel=cancel)
    except Exception as error:  # the email still tells the time, without the calendar file
        logger.warning(
            "appointment email: no calendar file for appointment %s (%s)",
            appointment.pk,
            type(error).__name__,
        )
    else:
        message.attach(_calendar_part(invitation, "CANCEL" if cancel else "REQUEST"))
    return message


def lead_time(minutes: int) -> str:
    """How long before the session, in words: 24 hours, 1 hour, 2 days, 30 minutes."""
    if minutes % 1440 == 0 and minutes >= 2880:
        days = minutes // 1440
        return ngettext("%(count)d day", "%(count)d days", days) % {"count": days}
    if minutes % 60 == 0:
        hours = minutes // 60
        return ngettext("%(count)d hour", "%(count)d hours", hours) % {"count": hours}
    return ngettext("%(count)d minute", "%(count)d minutes", minutes) % {"count": minutes}


def reminder_email(appointment: Appointment, minutes_before: int, person: User) -> EmailMessage:
    practice = Practice.get()
    with translation.override(person.language), clocks.override(person.clock):
        context = {
            **_context(appointment, person, practice),
            "lead_time": lead_time(minutes_before),
        }
        subject = render_to_string("scheduling/email/reminder_subject.txt", context)
        body = render_to_string("scheduling/email/reminder.txt", context)
    return EmailMessage(
        subject=" ".join(subject.split()),
        body=body,
        to=[person.email],
        headers={"Auto-Submitted": "auto-generated"},
    )
