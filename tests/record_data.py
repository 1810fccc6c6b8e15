"""A client's record in bulk, for the record tests and bench/record_timeline.py.

Each ``seed_*`` function adds one kind of entry with a few bulk inserts, so a record of hundreds
of rows is quick to make. Notes, plans, diagnoses and intake add their own function here and one
line in ``SEEDERS`` when their apps land.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime, timedelta

from rapport.accounts.models import User
from rapport.care.models import CareRelationship
from rapport.measures.models import SafetyAlert
from rapport.messaging.access import conversation_for
from rapport.messaging.models import Message
from rapport.scheduling.models import ConsentSignature
from rapport.visits.models import EventKind, SafetyCheckIn, Visit, VisitEvent, VisitStatus
from tests.measures_data import builtin_instrument, history, response
from tests.scheduling_data import consent_version

MODALITIES = ("video", "audio", "text")


def seed_sessions(relationship: CareRelationship, count: int, *, start: datetime) -> None:
    """``count`` weekly 50-minute sessions that switch modality once, each with a check-in."""
    therapist, client = relationship.therapist, relationship.client
    visits = Visit.objects.bulk_create(
        Visit(
            relationship=relationship,
            therapist=therapist,
            client=client,
            planned_modality=MODALITIES[n % 3],
            modality=MODALITIES[(n + 1) % 3],
            status=VisitStatus.ENDED,
            created_by=therapist,
            created_at=start + timedelta(weeks=n),
            started_at=start + timedelta(weeks=n),
            client_admitted_at=start + timedelta(weeks=n),
            ended_at=start + timedelta(weeks=n, minutes=50),
            ended_by=therapist,
        )
        for n in range(count)
    )
    if not visits or visits[0].pk is None:  # backends that return no keys from bulk_create
        visits = list(Visit.objects.filter(relationship=relationship).order_by("started_at"))
    VisitEvent.objects.bulk_create(
        VisitEvent(
            visit=visit,
            at=visit.created_at + timedelta(minutes=20),
            actor=therapist,
            kind=EventKind.MODALITY,
            modality=visit.modality,
            reason="choice",
        )
        for visit in visits
    )
    SafetyCheckIn.objects.bulk_create(
        SafetyCheckIn(
            visit=visit,
            client=client,
            location="Home office, Leeds",
            callback_phone="+44 113 000 0000",
            emergency_contact="Sam (partner) +44 7700 900000",
            confirmed_at=visit.created_at,
        )
        for visit in visits
    )


def seed_measures(relationship: CareRelationship, count: int, *, start: datetime) -> None:
    """``count`` PHQ-9 results, one a week, the first with an alert."""
    instrument = builtin_instrument("phq9")
    rows = history(relationship.client, [instrument], count, start=start)
    if rows and rows[0].pk is not None:
        SafetyAlert.objects.create(
            response=rows[0], client=relationship.client, therapist=relationship.therapist
        )


def seed_consent(relationship: CareRelationship, count: int, *, start: datetime) -> None:
    document = consent_version(relationship.therapist)
    ConsentSignature.objects.create(
        client=relationship.client,
        document=document,
        typed_name=relationship.client.full_name,
        signed_at=start,
    )


def seed_messages(relationship: CareRelationship, count: int, *, start: datetime) -> None:
    """``count`` messages, one a day, alternating between the two."""
    conversation = conversation_for(relationship)
    people = (relationship.client, relationship.therapist)
    Message.objects.bulk_create(
        Message(
            conversation=conversation,
            seq=n + 1,
            sender=people[n % 2],
            client_uid=uuid.uuid4(),
            body=f"message {n}",
            created_at=start + timedelta(days=n),
        )
        for n in range(count)
    )


def seed_notes(relationship: CareRelationship, count: int, *, start: datetime) -> None:
    """``count`` signed SOAP notes of phone calls, one a week, through the notes services."""
    from rapport.notes import services as notes

    therapist, client = relationship.therapist, relationship.client
    for n in range(count):
        note = notes.start_standalone(
            therapist, client, contact="phone", date_of_service=(start + timedelta(weeks=n)).date()
        )
        texts = {
            "subjective": f"Week {n}: sleep better, worry at work.",
            "objective": "Calm, engaged, on time.",
            "assessment": "Improving steadily.",
            "plan": "Keep the worry diary; review next week.",
        }
        notes.save_draft(note.pk, therapist, texts)
        notes.sign(note.pk, therapist)


def seed_diagnoses(relationship: CareRelationship, count: int, *, start: datetime) -> None:
    """One primary and ``count - 1`` secondary diagnoses, through the diagnoses services."""
    from rapport.diagnoses.services import record_diagnosis

    codes = ["F41.1", "F32.1", "F43.10", "Z63.0", "Z56.6", "F51.01", "F40.10", "Z60.2"]
    for n in range(count):
        record_diagnosis(
            relationship.therapist,
            relationship.client,
            code=codes[n % len(codes)],
            rank="primary" if n == 0 else "secondary",
            onset=start.date(),
        )


def seed_plans(relationship: CareRelationship, count: int, *, start: datetime) -> None:
    """``count`` finalised plan versions with a measure-tied goal each."""
    from rapport.plans.services import add_goal, finalise, start_draft

    for n in range(count):
        draft = start_draft(relationship.therapist, relationship.client)
        add_goal(
            relationship.therapist,
            draft,
            problem=f"Low mood {n}",
            description="Feel more like myself",
            instrument_key="phq9",
            comparison="lt",
            threshold=10,
            sustained_over=2,
        )
        finalise(relationship.therapist, draft)


Seeder = Callable[[CareRelationship, int, datetime], None]

# (function, how many rows for a "full" record: the 200 notes, 50 plan/diagnosis entries).
SEEDERS: list[tuple[Callable[..., None], int]] = [
    (seed_sessions, 200),
    (seed_measures, 300),
    (seed_consent, 1),
    (seed_messages, 60),
    (seed_notes, 200),
    (seed_diagnoses, 25),
    (seed_plans, 25),
]


def seed_record(relationship: CareRelationship, *, scale: float, start: datetime) -> None:
    """Every kind of entry, ``scale`` times its full count (at least one each)."""
    for seed, full in SEEDERS:
        seed(relationship, max(1, round(full * scale)), start=start)


def prorated_phq9(client: User, at: datetime) -> None:
    """A PHQ-9 with one item unanswered: a prorated total."""
    instrument = builtin_instrument("phq9")
    answers: dict[str, int | None] = {str(n): 2 for n in range(1, 10)}
    answers["1"] = None
    response(client, instrument, answers, at=at)
