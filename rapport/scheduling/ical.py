"""iCalendar for appointments: invitations in emails (REQUEST / CANCEL) and subscription feeds.

Nothing clinical goes into a calendar. The summary names the therapist (for the client) or the
client's initials (for the therapist, full name only if the practice chose so); the description
holds the modality and the join link, nothing else. An appointment keeps one UID for life and its
revision is the SEQUENCE, so calendar apps update their one entry instead of adding another.
Times carry the viewer's zone (TZID) with its VTIMEZONE, so a calendar shows what Rapport shows;
a session that touches the hour the clocks repeat is written in UTC instead, because a wall-clock
time in that hour names its first occurrence only (RFC 5545). A feed leaves out (and logs) an
event it cannot write rather than fail as a whole.
"""

from __future__ import annotations

import logging
import zoneinfo
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from email.utils import parseaddr

from django.conf import settings
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from icalendar import CLASS, STATUS, TRANSP, Calendar, Event, vCalAddress

from rapport.accounts.models import Practice, User
from rapport.scheduling.models import Appointment, AppointmentStatus

logger = logging.getLogger(__name__)

PRODID = "-//Rapport//Scheduling//EN"
# VTIMEZONE rules are written out for the span of the calendar plus this margin on each side.
ZONE_MARGIN = timedelta(days=31)
FEED_REFRESH = timedelta(hours=1)

EVENT_STATUS = {
    AppointmentStatus.REQUESTED: STATUS.TENTATIVE,
    AppointmentStatus.CANCELLED: STATUS.CANCELLED,
}


def event_uid(appointment: Appointment) -> str:
    return f"{appointment.uid}@rapport"


def appointment_link(appointment: Appointment) -> str:
    """Where the client (or therapist) opens and joins the session."""
    path = reverse("appointment_detail", kwargs={"appointment_id": appointment.pk})
    return f"{settings.SITE_URL}{path}"


def viewer_zone(user: User) -> zoneinfo.ZoneInfo:
    try:
        return zoneinfo.ZoneInfo(user.time_zone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return zoneinfo.ZoneInfo("UTC")


def is_repeated(moment: datetime) -> bool:
    """Whether the wall clock shows ``moment``'s local time twice (the night clocks go back)."""
    return moment.replace(fold=1 - moment.fold).utcoffset() != moment.utcoffset()


def other_party_label(appointment: Appointment, viewer: User, practice: Practice) -> str:
    """How ``viewer`` sees the other person: the therapist by name; the client by initials
    unless the practice shows full names in therapists' calendars."""
    if viewer.pk == appointment.therapist_id:
        client = appointment.client
        return client.full_name if practice.calendar_shows_client_names else client.initials
    return appointment.therapist.full_name


def summary(appointment: Appointment, viewer: User, practice: Practice) -> str:
    return _("Session with %(name)s") % {"name": other_party_label(appointment, viewer, practice)}


def _event(appointment: Appointment, viewer: User, practice: Practice, *, stamp: datetime) -> Event:
    zone = viewer_zone(viewer)
    start, end = appointment.starts_at.astimezone(zone), appointment.ends_at.astimezone(zone)
    if any(moment.fold and is_repeated(moment) for moment in (start, end)):
        # Written with TZID, the repeated hour's second pass would read as its first (the
        # session could end before it starts). UTC says the same instants without doubt.
        start, end = start.astimezone(UTC), end.astimezone(UTC)
    link = appointment_link(appointment)
    modality = appointment.get_modality_display()
    return Event.new(
        uid=event_uid(appointment),
        sequence=appointment.revision,
        stamp=stamp,
        start=start,
        end=end,
        summary=summary(appointment, viewer, practice),
        description=_("%(modality)s session. Join here: %(link)s")
        % {"modality": modality, "link": link},
        location=link,
        url=link,
        status=EVENT_STATUS.get(AppointmentStatus(appointment.status), STATUS.CONFIRMED),
        classification=CLASS.PRIVATE,
        transparency=TRANSP.OPAQUE,
    )


def _add_zones(calendar: Calendar, moments: Iterable[datetime]) -> None:
    moments = list(moments)
    if moments:
        calendar.add_missing_timezones(
            first_date=(min(moments) - ZONE_MARGIN).date(),
            last_date=(max(moments) + ZONE_MARGIN).date(),
        )


def invitation(appointment: Appointment, recipient: User, *, cancel: bool) -> str:
    """An iMIP invitation for ``recipient``: METHOD:REQUEST, or METHOD:CANCEL when ``cancel``.

    The organizer is the practice's sending address (replies do not reach either person's
    mailbox) and the only attendee is the recipient: neither party's address lands in the
    other's calendar.
    """
    practice = Practice.get()
    with translation.override(recipient.language):
        event = _event(appointment, recipient, practice, stamp=timezone.now())
    if cancel:
        event.status = STATUS.CANCELLED
    _sender_name, sender = parseaddr(settings.DEFAULT_FROM_EMAIL)
    event.organizer = vCalAddress.new(sender, cn=practice.name)
    event.attendees = [
        vCalAddress.new(
            recipient.email,
            cn=recipient.full_name,
            role="REQ-PARTICIPANT",
            partstat="ACCEPTED",
            rsvp=False,
        )
    ]
    calendar = Calendar.new(
        method="CANCEL" if cancel else "REQUEST", prodid=PRODID, subcomponents=[event]
    )
    _add_zones(calendar, [appointment.starts_at, appointment.ends_at])
    return str(calendar.to_ical().decode("utf-8"))


def feed(owner: User, appointments: Iterable[Appointment]) -> str:
    """The owner's subscription calendar (METHOD:PUBLISH), in the owner's zone and language."""
    practice = Practice.get()
    appointments = list(appointments)
    stamp = timezone.now()
    events = []
    with translation.override(owner.language):
        for appointment in appointments:
            try:
                event = _event(appointment, owner, practice, stamp=stamp)
                event.to_ical()
            except Exception as error:  # one event never takes down the feed
                # The appointment's id and the error's type only: its message may hold a name.
                logger.warning(
                    "calendar feed: left out appointment %s (%s)",
                    appointment.pk,
                    type(error).__name__,
                )
                continue
            events.append(event)
        calendar = Calendar.new(
            method="PUBLISH",
            prodid=PRODID,
            name=_("Sessions at %(practice)s") % {"practice": practice.name},
            refresh_interval=FEED_REFRESH,
            subcomponents=events,
        )
    _add_zones(calendar, [a.starts_at for a in appointments] + [a.ends_at for a in appointments])
    return str(calendar.to_ical().decode("utf-8"))
