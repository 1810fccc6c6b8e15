"""The demo practice: an admin, three therapists, six clients, their care relationships.

Scheduling too: working hours and session types for every therapist, a telehealth consent signed
by every client but Sam Rivera (so the demo login walks through signing), and two weeks of past
and upcoming sessions in each therapist's own time zone. Messaging: office hours for every
therapist and a short, read exchange between Dr. Okafor and Jordan Chen. History
(``rapport.home.demo_history``): Jordan Chen's past course of therapy (weekly visits, session
feedback, PHQ-9 and GAD-7 improving reliably) and Sam Rivera's first questionnaires. Record
(``rapport.home.demo_record``): Jordan Chen's clinical record, homework and journal. Billing
(``rapport.home.demo_billing``): the fee schedule, the practice's and Dr. Okafor's billing
details, and Jordan Chen's lines, invoices and a payment. Matching (``rapport.home.demo_matching``):
the therapists' profiles, self-registration switched on, and Noor Haddad's new request waiting on
a therapist's answer.

Each part is a small function called from ``_seed_parts``; a part that finds its data already
there does nothing, so running the seeding again keeps what visitors changed.
"""

from __future__ import annotations

import uuid
import zoneinfo
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import Any

from django.db import transaction
from django.utils import timezone

from rapport.accounts.models import Practice, Role, User
from rapport.care.models import CareRelationship, ClientProfile
from rapport.care.services import start_care
from rapport.home import demo_billing, demo_history, demo_matching, demo_record
from rapport.lib.intervals import local_to_utc
from rapport.messaging import services
from rapport.messaging.access import conversation_for
from rapport.messaging.models import Message, MessagingSettings, OfficeHours
from rapport.scheduling.models import (
    Appointment,
    AppointmentStatus,
    ConsentDocument,
    ConsentSignature,
    SessionType,
    WeeklyWindow,
)

DEMO_PASSWORD = "rapport-demo-password"  # noqa: S105 (published demo login, demo mode only)


@dataclass(frozen=True)
class DemoPerson:
    email: str
    full_name: str
    role: str
    time_zone: str


ADMIN = DemoPerson("admin@demo.rapport.test", "Alex Admin", Role.ADMIN, "Europe/London")
THERAPISTS = [
    DemoPerson(
        "therapist@demo.rapport.test", "Dr. Maya Okafor", Role.THERAPIST, "America/New_York"
    ),
    DemoPerson(
        "t.lindqvist@demo.rapport.test", "Erik Lindqvist", Role.THERAPIST, "Europe/Stockholm"
    ),
    DemoPerson("p.ramos@demo.rapport.test", "Paula Ramos", Role.THERAPIST, "America/Chicago"),
]
CLIENTS = [
    DemoPerson("client@demo.rapport.test", "Sam Rivera", Role.CLIENT, "America/Los_Angeles"),
    DemoPerson("j.chen@demo.rapport.test", "Jordan Chen", Role.CLIENT, "America/New_York"),
    DemoPerson("a.nowak@demo.rapport.test", "Anna Nowak", Role.CLIENT, "Europe/Warsaw"),
    DemoPerson("k.mensah@demo.rapport.test", "Kofi Mensah", Role.CLIENT, "Europe/London"),
    DemoPerson("l.garcia@demo.rapport.test", "Lucía García", Role.CLIENT, "America/Mexico_City"),
    DemoPerson("r.patel@demo.rapport.test", "Riya Patel", Role.CLIENT, "Asia/Kolkata"),
]
# Therapist index → client indexes.
CASELOADS = {0: [0, 1], 1: [2, 3], 2: [4, 5]}
# Each client's weekly session: weekday (Monday = 0) and hour, on their therapist's clock.
WEEKLY_SESSIONS = {0: (1, 10), 1: (3, 14), 2: (0, 9), 3: (2, 15), 4: (4, 11), 5: (1, 16)}
WORKING_HOURS = [(time(9), time(12)), (time(13), time(17))]
UNSIGNED_CLIENT = 0  # Sam Rivera: signs the consent on their first booking
NO_SHOW_CLIENT = 1  # their latest past session was a no-show
LATE_CANCEL_CLIENT = 3  # their latest past session was cancelled late
HISTORY_CLIENT = 1  # Jordan Chen: eleven weeks of therapy behind them
SHORT_HISTORY_CLIENT = 0  # Sam Rivera: two weeks into care
CONSENT_TEXT = """Rapport sessions happen over video, audio or live text instead of in a room.

What to expect: your therapist joins from a private space. Please join from somewhere you can talk \
freely. Sessions are not recorded.

Risks: a connection can drop or be overheard. If a session is interrupted, your therapist will try \
to reach you by phone.

In an emergency, call your local emergency number: online sessions are not a crisis service.

You may stop online sessions at any time and ask for other arrangements."""


def _person(person: DemoPerson) -> User:
    from allauth.account.models import EmailAddress

    user = User.objects.filter(email=person.email).first()
    if user is None:
        user = User.objects.create_user(
            person.email,
            DEMO_PASSWORD,
            full_name=person.full_name,
            role=person.role,
            time_zone=person.time_zone,
        )
    EmailAddress.objects.get_or_create(
        user=user, email=user.email, defaults={"verified": True, "primary": True}
    )
    return user


def seed_demo() -> bool:
    """Create the demo practice if it is not there yet. Returns True when it created anything."""
    if User.objects.filter(email=ADMIN.email).exists():
        # A demo practice from before a part existed gets that part now.
        with transaction.atomic():
            return _seed_parts()
    with transaction.atomic():
        practice = Practice.get()
        practice.name = "Riverside Counselling (demo)"
        practice.save(update_fields=["name"])
        admin = _person(ADMIN)
        therapists = [_person(p) for p in THERAPISTS]
        clients = [_person(p) for p in CLIENTS]
        for t_index, c_indexes in CASELOADS.items():
            for c_index in c_indexes:
                therapist, client = therapists[t_index], clients[c_index]
                if not CareRelationship.objects.filter(therapist=therapist, client=client).exists():
                    start_care(therapist, client, actor=admin)
        for number, client in enumerate(clients, start=1):
            profile, _ = ClientProfile.objects.get_or_create(client=client)
            profile.preferred_name = client.full_name.split()[0]
            profile.phone = f"+1 555 010 {number:04d}"
            profile.emergency_contact = f"Demo contact {number} (friend), +1 555 020 {number:04d}"
            profile.intake_notes = "Demo record. Self-referred for low mood and sleep problems."
            profile.country = "US"  # their crisis resources: the shipped US ones, tap to call
            profile.save()
        _seed_messaging(therapists, clients)
        _seed_parts()
    return True


def _seed_parts() -> bool:
    """The parts of the demo after its people, in the order they depend on each other. Each
    returns whether it created anything (and creates nothing when its data is there)."""
    created = _seed_scheduling()
    created = _seed_history() or created
    created = _seed_record() or created
    created = _seed_between_sessions() or created
    created = _seed_billing() or created
    created = _seed_matching() or created
    return created


def _seed_matching() -> bool:
    """Therapists' profiles, self-registration, a new client's request (``demo_matching``).
    False if the profiles are there."""
    therapists = [User.objects.get(email=p.email) for p in THERAPISTS]
    if demo_matching.has_profiles(therapists):
        return False
    admin = User.objects.get(email=ADMIN.email)
    demo_matching.seed_matching(admin, therapists, DEMO_PASSWORD)
    return True


def _seed_billing() -> bool:
    """The fee schedule, the practice's billing details and Jordan Chen's account
    (``demo_billing``). False if the practice already has a fee schedule."""
    if demo_billing.has_billing():
        return False
    admin = User.objects.get(email=ADMIN.email)
    therapists = [User.objects.get(email=p.email) for p in THERAPISTS]
    client = User.objects.get(email=CLIENTS[HISTORY_CLIENT].email)
    sliding = User.objects.get(email=CLIENTS[SHORT_HISTORY_CLIENT].email)
    demo_billing.seed_billing(admin, therapists, client, sliding)
    return True


def _seed_record() -> bool:
    """Jordan Chen's intake, diagnoses, plan and notes (``demo_record``). False if there."""
    therapist = User.objects.get(email=THERAPISTS[0].email)
    client = User.objects.get(email=CLIENTS[HISTORY_CLIENT].email)
    if demo_record.has_record(client):
        return False
    demo_record.seed_record(therapist, client)
    return True


def _seed_between_sessions() -> bool:
    """Jordan Chen's homework and journal (``demo_record``). False if there."""
    therapist = User.objects.get(email=THERAPISTS[0].email)
    client = User.objects.get(email=CLIENTS[HISTORY_CLIENT].email)
    if demo_record.has_between_sessions(client):
        return False
    demo_record.seed_between_sessions(therapist, client)
    return True


def _seed_history() -> bool:
    """Past sessions and questionnaires (``demo_history``). False if already there."""
    therapist = User.objects.get(email=THERAPISTS[0].email)
    main = User.objects.get(email=CLIENTS[HISTORY_CLIENT].email)
    short = User.objects.get(email=CLIENTS[SHORT_HISTORY_CLIENT].email)
    if demo_history.has_history(main):
        return False
    now = timezone.now().replace(second=0, microsecond=0)
    demo_history.seed_course(
        demo_history.Course(therapist, main, WEEKLY_SESSIONS[HISTORY_CLIENT]), now
    )
    if not demo_history.has_history(short):
        demo_history.seed_short(
            demo_history.Course(therapist, short, WEEKLY_SESSIONS[SHORT_HISTORY_CLIENT]), now
        )
    return True


def _seed_messaging(therapists: list[User], clients: list[User]) -> None:
    """Office hours (weekdays 9 to 17, a reply within a day) and a short exchange between Dr. Okafor
    and Jordan Chen, both read (Sam Rivera's conversation starts empty)."""
    for therapist in therapists:
        MessagingSettings.objects.update_or_create(user=therapist, defaults={"response_hours": 24})
        for weekday in range(5):
            OfficeHours.objects.get_or_create(
                therapist=therapist, weekday=weekday, starts=time(9), ends=time(17)
            )
    therapist, client = therapists[0], clients[1]
    relationship = CareRelationship.objects.get(therapist=therapist, client=client)
    conversation = conversation_for(relationship)
    lines = [
        (client, "Hi Dr. Okafor, could we spend some time on sleep next week? It got worse."),
        (therapist, "Thanks for telling me, Jordan. Yes, let's start with that on Tuesday."),
        (client, "Great, thank you. I tried the wind-down routine twice this week."),
    ]
    earlier = timezone.now() - timedelta(days=2)
    for number, (sender, text) in enumerate(lines):
        outcome = services.send_message(sender, conversation.uid, uuid.uuid4(), text)
        if outcome.message is not None:
            Message.objects.filter(pk=outcome.message.pk).update(
                created_at=earlier + timedelta(hours=3 * number)
            )
    for person in (therapist, client):
        services.mark_read(person, conversation.uid, conversation.last_seq + len(lines))


def _seed_scheduling() -> bool:
    """Hours, session types, consent and two weeks either side of today. False if already there."""
    admin = User.objects.get(email=ADMIN.email)
    therapists = [User.objects.get(email=p.email) for p in THERAPISTS]
    clients = [User.objects.get(email=p.email) for p in CLIENTS]
    if SessionType.objects.filter(therapist__in=therapists).exists():
        return False
    now = timezone.now().replace(second=0, microsecond=0)
    session_types = {}
    for therapist in therapists:
        WeeklyWindow.objects.bulk_create(
            WeeklyWindow(
                therapist=therapist,
                weekday=weekday,
                start_time=start,
                end_time=end,
                time_zone=therapist.time_zone,
            )
            for weekday in range(5)
            for start, end in WORKING_HOURS
        )
        individual = SessionType.objects.create(
            therapist=therapist, name="Individual session", minutes=50, buffer_minutes=10
        )
        intake = SessionType.objects.create(
            therapist=therapist,
            name="Intake",
            minutes=60,
            allow_text=False,
            buffer_minutes=15,
            min_notice_hours=24,
        )
        session_types[therapist.pk] = (intake, individual)
    if not ConsentDocument.objects.exists():
        document = ConsentDocument.objects.create(
            version=1,
            title="Telehealth informed consent",
            body=CONSENT_TEXT,
            published_by=admin,
            published_at=now - timedelta(days=120),
        )
        ConsentSignature.objects.bulk_create(
            ConsentSignature(
                client=client,
                document=document,
                typed_name=client.full_name,
                signed_at=now - timedelta(days=110 - number),
            )
            for number, client in enumerate(clients)
            if number != UNSIGNED_CLIENT
        )
    for t_index, c_indexes in CASELOADS.items():
        therapist = therapists[t_index]
        for c_index in c_indexes:
            _seed_sessions(therapist, clients[c_index], c_index, session_types[therapist.pk], now)
    return True


def _seed_sessions(
    therapist: User, client: User, c_index: int, types: tuple[Any, Any], now: datetime
) -> None:
    """Weekly sessions from two weeks ago to two weeks ahead; the first one is the intake (but
    for the client with a course of therapy behind them)."""
    zone = zoneinfo.ZoneInfo(therapist.time_zone)
    weekday, hour = WEEKLY_SESSIONS[c_index]
    today = now.astimezone(zone).date()
    monday = today - timedelta(days=today.weekday())
    starts = [
        local_to_utc(monday + timedelta(weeks=week, days=weekday), time(hour), zone)
        for week in range(-2, 3)
    ]
    starts = [s for s in starts if now - timedelta(days=14) <= s <= now + timedelta(days=14)]
    past = [s for s in starts if s + timedelta(hours=1) <= now]
    for number, starts_at in enumerate(starts):
        kind = types[0] if number == 0 and c_index != HISTORY_CLIENT else types[1]
        ends_at = starts_at + timedelta(minutes=kind.minutes)
        status = AppointmentStatus.CONFIRMED
        cancelled_at = None
        if starts_at in past:
            status = AppointmentStatus.COMPLETED
            latest = starts_at == past[-1]
            if latest and c_index == NO_SHOW_CLIENT:
                status = AppointmentStatus.NO_SHOW
            elif latest and c_index == LATE_CANCEL_CLIENT:
                status, cancelled_at = AppointmentStatus.CANCELLED, starts_at - timedelta(hours=3)
        Appointment.objects.create(
            therapist=therapist,
            client=client,
            session_type=kind,
            modality="video" if number % 2 == 0 else "audio",
            starts_at=starts_at,
            ends_at=ends_at,
            busy_until=ends_at + timedelta(minutes=kind.buffer_minutes),
            status=status,
            booked_by=therapist,
            booked_at=starts[0] - timedelta(days=7),
            cancelled_by=client if cancelled_at else None,
            cancelled_at=cancelled_at,
            late_cancellation=cancelled_at is not None,
        )


def demo_logins() -> list[tuple[str, str, str]]:
    rows = [("Practice admin", ADMIN.email, DEMO_PASSWORD)]
    rows += [("Therapist", p.email, DEMO_PASSWORD) for p in THERAPISTS[:1]]
    rows += [("Client", p.email, DEMO_PASSWORD) for p in CLIENTS[:1]]
    rows += [("New client", demo_matching.NEW_CLIENT_EMAIL, DEMO_PASSWORD)]
    return rows
