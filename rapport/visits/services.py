"""Every change to a visit: opening, check-in, presence, admission, modality, chat, the end.

Each function runs in its own transaction with the visit row locked, re-checks who may do what,
and appends to the visit's timeline. The socket consumer calls these; it never writes models
itself. Live notifications go out after commit.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext as _

from rapport.accounts.models import Practice, User
from rapport.audit.services import Action, record
from rapport.care.access import active_relationship, clients_of, in_active_care, therapists_of
from rapport.care.models import ClientProfile
from rapport.core import realtime
from rapport.crisis.signals import StatedCountry
from rapport.messaging.access import conversation_for as conversation_of_relationship
from rapport.messaging.models import Conversation, Message
from rapport.messaging.services import store_visit_chat
from rapport.push import services as push
from rapport.push.models import NoticeKind
from rapport.scheduling.models import Appointment, AppointmentStatus, Modality
from rapport.visits import signals
from rapport.visits.models import EventKind, SafetyCheckIn, Visit, VisitEvent, VisitStatus

THERAPIST = "therapist"
CLIENT = "client"
MODALITIES = [str(m) for m in Modality]
SWITCH_REASONS = ("user", "connection")


class VisitError(ValidationError):
    """A change the visit's state does not allow; the message is for the person."""


def role_in(visit: Visit, user: User) -> str | None:
    if user.pk == visit.therapist_id:
        return THERAPIST
    if user.pk == visit.client_id:
        return CLIENT
    return None


def join_window(appointment: Appointment) -> tuple[datetime, datetime]:
    opens = appointment.starts_at - timedelta(minutes=Practice.get().join_opens_minutes)
    return opens, appointment.ends_at


def allowed_modalities(visit: Visit) -> list[str]:
    """What the session may use: the appointment type's modalities; live text always."""
    if visit.appointment_id is None:
        return MODALITIES
    allowed = visit.appointment.session_type.modalities  # type: ignore[union-attr]
    return [m for m in MODALITIES if m in allowed or m == Modality.TEXT]


def _event(
    visit: Visit, kind: str, actor: User | None = None, *, at: datetime | None = None, **fields: Any
) -> VisitEvent:
    return VisitEvent.objects.create(
        visit=visit, kind=kind, actor=actor, at=at or timezone.now(), **fields
    )


def _locked(visit_id: int) -> Visit:
    return Visit.objects.select_for_update().select_related("therapist", "client").get(pk=visit_id)


def _open(
    actor: User,
    therapist: User,
    client: User,
    appointment: Appointment | None,
    modality: str,
    now: datetime | None = None,
) -> Visit:
    now = now or timezone.now()
    relationship = active_relationship(therapist, client)
    if relationship is None:
        raise PermissionDenied("no active care relationship")
    existing = Visit.objects.filter(relationship=relationship).exclude(status=VisitStatus.ENDED)
    try:
        with transaction.atomic():
            current = existing.select_for_update().first()
            if current is not None:
                if appointment is None or current.appointment_id == appointment.pk:
                    return current
                if current.therapist_channel or current.client_channel:
                    raise VisitError(
                        _("Another session with this person is still going on. End it first."),
                        code="busy",
                    )
                # A room left open and empty (nobody ended it): close it as abandoned.
                _close_abandoned(current)
            visit = Visit.objects.create(
                relationship=relationship,
                therapist=therapist,
                client=client,
                appointment=appointment,
                planned_modality=modality,
                modality=modality,
                created_by=actor,
                created_at=now,
            )
            _event(visit, EventKind.CREATED, actor, at=now, modality=modality)
            record(Action.VISIT_OPENED, actor=actor, obj=visit, client=client)
            return visit
    except IntegrityError:
        # Someone else opened it at the same moment: theirs is the one.
        current = existing.first()
        if current is None:
            raise
        return current


def _close_abandoned(visit: Visit) -> None:
    visit.status = VisitStatus.ENDED
    visit.ended_at = timezone.now()
    visit.save(update_fields=["status", "ended_at"])
    _event(visit, EventKind.ENDED, None, reason="abandoned")
    record(Action.VISIT_ENDED, obj=visit, client=visit.client, reason="abandoned")


def open_for_appointment(
    actor: User, appointment: Appointment, now: datetime | None = None
) -> Visit:
    """The appointment's visit, opened when its join window is. Only its two people may."""
    if actor.pk not in (appointment.therapist_id, appointment.client_id):
        raise PermissionDenied("not a participant")
    if hasattr(appointment, "visit") and appointment.visit.is_ended:
        raise VisitError(_("This session has ended."), code="ended")
    now = now or timezone.now()
    opens, closes = join_window(appointment)
    if not appointment.is_live:
        raise VisitError(_("This session was cancelled or has finished."), code="not_live")
    if now < opens:
        raise VisitError(
            _("The session room opens %(minutes)s minutes before the start.")
            % {"minutes": Practice.get().join_opens_minutes},
            code="early",
        )
    if now >= closes:
        raise VisitError(_("This session's time is over."), code="late")
    return _open(
        actor, appointment.therapist, appointment.client, appointment, appointment.modality, now
    )


def start_unscheduled(therapist: User, client: User, modality: str = Modality.VIDEO) -> Visit:
    """A session the therapist starts now, without an appointment (reuses an open one)."""
    if not therapist.is_therapist:
        raise PermissionDenied("only therapists start sessions")
    return _open(therapist, therapist, client, None, modality)


def last_checkin_values(client: User) -> dict[str, str]:
    """What the check-in form starts with: the last check-in, else the client's profile."""
    last = SafetyCheckIn.objects.filter(client=client).first()
    profile = ClientProfile.objects.filter(client=client).first()
    home = profile.country if profile is not None else ""
    if last is not None:
        return {
            "location": last.location,
            "at_home": last.at_home,
            "country": last.country or home,
            "callback_phone": last.callback_phone,
            "emergency_contact": last.emergency_contact,
        }
    if profile is None:
        return {}
    return {
        "country": home,
        "callback_phone": profile.phone,
        "emergency_contact": profile.emergency_contact,
    }


def stated_country(client: User, **_kwargs: object) -> StatedCountry | None:
    """The country of the client's last check-in that gave one: the receiver of
    ``rapport.crisis.signals.country_stated`` (connected in ``VisitsConfig.ready``)."""
    for checkin in SafetyCheckIn.objects.filter(client=client)[:20]:
        if checkin.country:
            return StatedCountry(checkin.country, checkin.confirmed_at)
    return None


def current_checkin(visit: Visit) -> SafetyCheckIn | None:
    return SafetyCheckIn.objects.filter(visit=visit).first()


def check_in(
    visit: Visit,
    client: User,
    *,
    location: str,
    callback_phone: str,
    emergency_contact: str,
    country: str = "",
    geolocation: str = "",
    at_home: str = "",
    request: HttpRequest | None = None,
) -> SafetyCheckIn:
    with transaction.atomic():
        locked = _locked(visit.pk)
        if locked.client_id != client.pk:
            raise PermissionDenied("only the client checks in")
        if locked.is_ended:
            raise VisitError(_("This session has ended."), code="ended")
        checkin = SafetyCheckIn.objects.create(
            visit=locked,
            client=client,
            location=location,
            country=country,
            geolocation=geolocation,
            at_home=at_home,
            callback_phone=callback_phone,
            emergency_contact=emergency_contact,
        )
        _event(locked, EventKind.CHECKED_IN, client)
        record(Action.VISIT_CHECKED_IN, actor=client, request=request, obj=locked, client=client)
        payload = {"type": "visit.checkin", "role": CLIENT, "checkin": checkin.as_dict()}
        realtime.publish(visit_group(locked), payload)
    return checkin


# --- Presence ------------------------------------------------------------------------------------


@dataclass
class Presence:
    present: bool
    state: str  # waiting | admitted | reconnecting | away
    connection: str


def presence_of(visit: Visit, role: str, now: datetime | None = None) -> Presence:
    now = now or timezone.now()
    if role == THERAPIST:
        if visit.therapist_channel:
            return Presence(True, "admitted", visit.therapist_connection)
        away = visit.therapist_away_since
        if visit.started_at is not None and away is not None and now - away <= rejoin_grace():
            return Presence(False, "reconnecting", "")
        return Presence(False, "away", "")
    if visit.client_channel:
        state = "admitted" if visit.client_is_admitted(now) else "waiting"
        return Presence(True, state, visit.client_connection)
    if visit.client_is_admitted(now):
        return Presence(False, "reconnecting", "")
    return Presence(False, "away", "")


@dataclass
class Joined:
    visit: Visit
    role: str
    state: str
    replaced_channel: str
    both_in: bool
    returned: bool


def connect(
    visit_id: int, user: User, channel: str, connection: str, *, now: datetime | None = None
) -> Joined:
    """A socket of ``user`` joined the room; it becomes their current one. ``now`` is for
    recording a past session (the demo's history); the live room never passes it."""
    now = now or timezone.now()
    with transaction.atomic():
        visit = _locked(visit_id)
        role = role_in(visit, user)
        if role is None or not in_active_care(visit.therapist, visit.client):
            raise PermissionDenied("not a participant")
        if visit.is_ended:
            raise VisitError(_("This session has ended."), code="ended")
        if role == THERAPIST:
            replaced = visit.therapist_channel
            returned = visit.therapist_away_since is not None
            visit.therapist_channel, visit.therapist_connection = channel, connection
            visit.therapist_away_since = None
            state = "admitted"
        else:
            replaced = visit.client_channel
            admitted = visit.client_is_admitted(now)
            returned = admitted and visit.client_away_since is not None
            visit.client_channel, visit.client_connection = channel, connection
            visit.client_away_since = None
            state = "admitted" if admitted else "waiting"
        visit.save()
        if state == "waiting":
            _event(visit, EventKind.WAITING, user, at=now)
            waiting = {
                "type": "visit.waiting",
                "visit": str(visit.uid),
                "client_name": visit.client.full_name,
                "url": visit.get_absolute_url(),
            }
            realtime.publish_to_user(visit.therapist_id, waiting)
            # Once per session: "A client is waiting for you", on the therapist's devices.
            push.notify(visit.therapist_id, NoticeKind.CLIENT_WAITING, f"waiting:{visit.pk}")
        else:
            _event(visit, EventKind.RECONNECTED if returned else EventKind.JOINED, user, at=now)
        both_in = bool(visit.therapist_channel) and bool(visit.client_channel)
        both_in = both_in and visit.client_is_admitted(now)
    return Joined(visit, role, state, replaced, both_in, returned)


def disconnect(visit_id: int, user: User, channel: str) -> Visit | None:
    """A socket closed. Returns the visit when it was the person's current socket."""
    now = timezone.now()
    with transaction.atomic():
        visit = _locked(visit_id)
        role = role_in(visit, user)
        if role == THERAPIST and visit.therapist_channel == channel:
            visit.therapist_channel, visit.therapist_connection = "", ""
            visit.therapist_away_since = now
        elif role == CLIENT and visit.client_channel == channel:
            visit.client_channel, visit.client_connection = "", ""
            visit.client_away_since = now
            if not visit.client_is_admitted(now) and not visit.is_ended:
                # The therapist's "waiting now" cue goes away with the client.
                left = {"type": "visit.left", "visit": str(visit.uid)}
                realtime.publish_to_user(visit.therapist_id, left)
        else:
            return None
        visit.save()
        if not visit.is_ended:
            _event(visit, EventKind.LEFT, user)
    return visit


def admit(visit_id: int, therapist: User, *, now: datetime | None = None) -> Visit:
    now = now or timezone.now()
    with transaction.atomic():
        visit = _locked(visit_id)
        if visit.therapist_id != therapist.pk:
            raise PermissionDenied("only the therapist admits")
        if visit.is_ended:
            raise VisitError(_("This session has ended."), code="ended")
        if not visit.client_channel:
            raise VisitError(_("Your client is not in the waiting room."), code="not_waiting")
        if visit.client_is_admitted(now):
            return visit
        visit.client_admitted_at = now
        fields = ["client_admitted_at"]
        if visit.started_at is None:
            visit.started_at = now
            visit.status = VisitStatus.LIVE
            fields += ["started_at", "status"]
        visit.save(update_fields=fields)
        _event(visit, EventKind.ADMITTED, therapist, at=now)
        record(Action.VISIT_ADMITTED, actor=therapist, obj=visit, client=visit.client)
        if visit.appointment_id is not None:
            Appointment.objects.filter(
                pk=visit.appointment_id, status=AppointmentStatus.CONFIRMED
            ).update(status=AppointmentStatus.IN_PROGRESS)
        admitted = {"type": "visit.admitted", "visit": str(visit.uid)}
        realtime.publish_to_user(visit.therapist_id, admitted)
    return visit


def _participant(
    visit_id: int, user: User, *, admitted: bool = True, now: datetime | None = None
) -> tuple[Visit, str]:
    visit = _locked(visit_id)
    role = role_in(visit, user)
    if role is None or visit.is_ended:
        raise PermissionDenied("not in this session")
    if admitted and role == CLIENT and not visit.client_is_admitted(now):
        raise PermissionDenied("not admitted")
    return visit, role


def switch_modality(
    visit_id: int,
    user: User,
    modality: str,
    *,
    reason: str,
    detail: str = "",
    now: datetime | None = None,
) -> Visit:
    """Record a switch. ``reason`` "connection" and its ``detail`` come from the server's own
    reading of the call quality (``rapport.visits.quality``), never from a browser's words."""
    if reason not in SWITCH_REASONS:
        raise VisitError(_("That is not a reason to switch."), code="reason")
    with transaction.atomic():
        visit, _role = _participant(visit_id, user, now=now)
        if modality not in allowed_modalities(visit):
            raise VisitError(_("This session does not offer that."), code="modality")
        if visit.modality != modality:
            visit.modality = modality
            visit.save(update_fields=["modality"])
        _event(
            visit,
            EventKind.MODALITY,
            user,
            at=now,
            modality=modality,
            reason=reason,
            detail=detail[:200],
        )
    return visit


def note(
    visit_id: int,
    user: User,
    kind: str,
    *,
    reason: str = "",
    detail: str = "",
    seconds: float | None = None,
) -> None:
    """A timeline line reported by a browser: quality changes and reconnects (``seconds``: how
    long the call had no media, on the end of a media loss)."""
    with transaction.atomic():
        visit, _role = _participant(visit_id, user)
        _event(visit, kind, user, reason=reason, detail=detail[:200], seconds=seconds)


def signaling_outage(visit_id: int, user: User, *, started: datetime, ended: datetime) -> None:
    """``user``'s room socket was down from ``started`` to ``ended`` while their call's media
    kept flowing peer to peer: two timeline lines, lost and back. When the other person's
    report of the same outage is there already, the pair narrows to the time both sockets were
    down (a signaling server that was away for everyone) and says "both"."""
    with transaction.atomic():
        visit, role = _participant(visit_id, user)
        lines = VisitEvent.objects.filter(
            visit=visit, kind__in=[EventKind.SIGNALING_LOST, EventKind.SIGNALING_BACK]
        ).order_by("-at", "-pk")
        last = list(lines[:2])
        if (
            len(last) == 2
            and [e.kind for e in last] == [EventKind.SIGNALING_BACK, EventKind.SIGNALING_LOST]
            and last[0].reason not in (role, "both")
            and last[1].at < ended
            and started < last[0].at
        ):
            back, lost = last
            lost.at, back.at = max(lost.at, started), min(back.at, ended)
            lost.reason = back.reason = "both"
            lost.actor = back.actor = None
            back.detail = _seconds(back.at - lost.at)
            lost.save(update_fields=["at", "reason", "actor"])
            back.save(update_fields=["at", "reason", "actor", "detail"])
            return
        _event(visit, EventKind.SIGNALING_LOST, user, at=started, reason=role)
        _event(
            visit,
            EventKind.SIGNALING_BACK,
            user,
            at=ended,
            reason=role,
            detail=_seconds(ended - started),
        )


def _seconds(span: timedelta) -> str:
    return f"{span.total_seconds():.1f} s"


def wait_message(visit_id: int, therapist: User) -> Visit:
    with transaction.atomic():
        visit, role = _participant(visit_id, therapist)
        if role != THERAPIST:
            raise PermissionDenied("only the therapist writes to the waiting room")
        # The text itself goes to the client only; the timeline notes that one was sent.
        _event(visit, EventKind.WAIT_MESSAGE, therapist)
    return visit


def conversation_for(visit: Visit) -> Conversation:
    return conversation_of_relationship(visit.relationship)


def store_chat(visit_id: int, user: User, message_id: uuid.UUID, text: str) -> tuple[Message, bool]:
    """Store a chat line once in the relationship's conversation (a retried id returns the stored
    message); the conversation's other open pages hear of it after commit. A line the other
    person sees live in the room is not unread for them in Messages."""
    with transaction.atomic():
        visit, role = _participant(visit_id, user)
        # The other person in the room now is shown the line live: it is read for them.
        peer = presence_of(visit, CLIENT if role == THERAPIST else THERAPIST)
        seen_live = peer.present and peer.state == "admitted"
        outcome = store_visit_chat(
            conversation_for(visit), user, message_id, text, visit, seen_live=seen_live
        )
        realtime.publish_all(outcome.events)
    stored = outcome.message
    if stored is None:  # _store always sets it; keeps the type checker honest
        raise ValidationError("the message was not stored")
    return stored, outcome.created


def chat_history(visit: Visit, limit: int = 200) -> list[Message]:
    rows = Message.objects.filter(visit=visit).select_related("sender").order_by("-seq")
    return list(reversed(rows[:limit]))


def end(
    visit_id: int,
    user: User,
    *,
    request: HttpRequest | None = None,
    reason: str = "therapist",
    now: datetime | None = None,
) -> Visit:
    """The therapist ends the session for both. Ending an ended visit changes nothing."""
    now = now or timezone.now()
    with transaction.atomic():
        visit = _locked(visit_id)
        if visit.therapist_id != user.pk:
            raise PermissionDenied("only the therapist ends the session")
        if visit.is_ended:
            return visit
        visit.status = VisitStatus.ENDED
        visit.ended_at, visit.ended_by = now, user
        visit.save(update_fields=["status", "ended_at", "ended_by"])
        _event(visit, EventKind.ENDED, user, at=now, reason=reason)
        record(Action.VISIT_ENDED, actor=user, request=request, obj=visit, client=visit.client)
        if visit.appointment_id is not None and visit.started_at is not None:
            Appointment.objects.filter(
                pk=visit.appointment_id,
                status__in=[AppointmentStatus.CONFIRMED, AppointmentStatus.IN_PROGRESS],
            ).update(status=AppointmentStatus.COMPLETED)
        ended = {"type": "visit.ended", "by": THERAPIST, "at": now.isoformat()}
        realtime.publish(visit_group(visit), ended)
        gone = {"type": "visit.ended", "visit": str(visit.uid)}
        realtime.publish_to_user(visit.therapist_id, gone)
        # Other apps react after the end commits (measures: the client's feedback form).
        visit_id = visit.pk
        transaction.on_commit(
            lambda: signals.visit_ended.send(Visit, visit_id=visit_id), robust=True
        )
    return visit


# --- Live fan-out --------------------------------------------------------------------------------


def visit_group(visit: Visit) -> str:
    return f"visit-{visit.uid.hex}"


# --- Reading ------------------------------------------------------------------------------------


def waiting_visits(therapist: User) -> list[Visit]:
    """Visits with a client in the waiting room right now (checked in, connected, not admitted)."""
    visits = Visit.objects.filter(therapist=therapist, client__in=clients_of(therapist))
    visits = visits.exclude(status=VisitStatus.ENDED)
    visits = visits.exclude(client_channel="").select_related("client")
    now = timezone.now()
    return [v for v in visits if not v.client_is_admitted(now)]


def open_visits(client: User) -> list[Visit]:
    """The client's open sessions with therapists who still treat them."""
    therapists = therapists_of(client).filter(is_active=True)
    return list(
        Visit.objects.filter(client=client, therapist__in=therapists)
        .exclude(status=VisitStatus.ENDED)
        .select_related("therapist")
    )


@dataclass
class Summary:
    minutes: dict[str, float]
    location: str
    reconnects: int
    connection_switches: int
    minutes_lost: float  # with no media (either page's losses, overlaps counted once)


def summary(visit: Visit, events: list[VisitEvent], checkin: SafetyCheckIn | None) -> Summary:
    """Minutes per modality from the admission to the end; where the client said they were."""
    minutes = {m: 0.0 for m in MODALITIES}
    start = visit.started_at
    if start is not None:
        end_at = visit.ended_at or timezone.now()
        current, since = visit.planned_modality, start
        for event in events:
            if event.kind == EventKind.MODALITY and event.modality:
                at = max(event.at, start)
                if at > since:
                    minutes[current] += (at - since).total_seconds() / 60
                current, since = event.modality, max(since, at)
        if end_at > since:
            minutes[current] += (end_at - since).total_seconds() / 60
    health = call_health(events)
    return Summary(
        minutes={m: round(v, 1) for m, v in minutes.items()},
        location=checkin.location if checkin is not None else "",
        reconnects=health.reconnects,
        connection_switches=health.connection_switches,
        minutes_lost=health.minutes_lost,
    )


@dataclass(frozen=True)
class CallHealth:
    reconnects: int
    connection_switches: int  # steps down "because of the connection"
    minutes_lost: float  # with no media (either page's losses, overlaps counted once)


def call_health(events: Iterable[VisitEvent]) -> CallHealth:
    """How the call held up, from its timeline (the practice's service figures read this too)."""
    events = list(events)
    return CallHealth(
        reconnects=sum(1 for e in events if e.kind == EventKind.RECONNECTED),
        connection_switches=sum(
            1 for e in events if e.kind == EventKind.MODALITY and e.reason == "connection"
        ),
        minutes_lost=round(_seconds_lost(events) / 60, 1),
    )


def _seconds_lost(events: list[VisitEvent]) -> float:
    """The union of the media losses the pages reported: each ends at its ``reconnected`` event
    and lasted its ``seconds``; both pages usually report the same blackout."""
    spans = sorted(
        (e.at - timedelta(seconds=e.seconds), e.at)
        for e in events
        if e.kind == EventKind.RECONNECTED and e.seconds is not None
    )
    total = 0.0
    current: tuple[datetime, datetime] | None = None
    for start, end in spans:
        if current is not None and start <= current[1]:
            current = (current[0], max(current[1], end))
            continue
        if current is not None:
            total += (current[1] - current[0]).total_seconds()
        current = (start, end)
    if current is not None:
        total += (current[1] - current[0]).total_seconds()
    return total


def rejoin_grace() -> timedelta:
    return timedelta(seconds=settings.RAPPORT_VISIT_REJOIN_GRACE_SECONDS)
