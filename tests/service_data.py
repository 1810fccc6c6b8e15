"""Sessions, bookings and timelines in bulk for the service-quality and research-export tests."""

from __future__ import annotations

import random
from datetime import datetime, timedelta

from rapport.accounts.models import User
from rapport.care.models import CareRelationship
from rapport.measures.instruments import definition_of, feedback_instrument
from rapport.measures.models import MeasureTask, TaskStatus
from rapport.outcomes.episodes import refresh_client
from rapport.scheduling.models import AppointmentStatus, SessionType
from rapport.visits.models import EventKind, Visit, VisitEvent, VisitStatus
from tests.measures_data import answers_near, response
from tests.scheduling_data import direct_appointment, ready_client


def clients_of(therapist: User, count: int, prefix: str) -> list[User]:
    return [ready_client(therapist, f"{prefix}{n}@example.test") for n in range(count)]


def booking(
    session_type: SessionType,
    client: User,
    starts_at: datetime,
    *,
    status: str = AppointmentStatus.COMPLETED,
    modality: str = "video",
    late: bool = False,
) -> None:
    appointment = direct_appointment(
        session_type, client, starts_at, status=status, modality=modality
    )
    if late:
        appointment.late_cancellation = True
        appointment.save(update_fields=["late_cancellation"])


def held_session(
    therapist: User,
    client: User,
    at: datetime,
    *,
    modality: str = "video",
    step_down: bool = False,
    reconnect_seconds: list[float] | None = None,
    client_poor: bool = False,
    feedback_share: float | None = None,
) -> Visit:
    """An ended 50-minute session with the timeline lines the technical figures read, and its
    facts built."""
    relationship = CareRelationship.objects.get(therapist=therapist, client=client, ended_at=None)
    visit = Visit.objects.create(
        relationship=relationship,
        therapist=therapist,
        client=client,
        planned_modality=modality,
        modality=modality,
        status=VisitStatus.ENDED,
        created_by=therapist,
        created_at=at,
        started_at=at,
        client_admitted_at=at,
        ended_at=at + timedelta(minutes=50),
        ended_by=therapist,
    )
    lines = []
    if step_down:
        lines.append(
            VisitEvent(
                visit=visit,
                at=at + timedelta(minutes=10),
                actor=therapist,
                kind=EventKind.MODALITY,
                modality="audio" if modality == "video" else "text",
                reason="connection",
            )
        )
    for n, seconds in enumerate(reconnect_seconds or []):
        lines.append(
            VisitEvent(
                visit=visit,
                at=at + timedelta(minutes=20 + n * 5),
                actor=client,
                kind=EventKind.RECONNECTED,
                seconds=seconds,
            )
        )
    if client_poor:
        lines.append(
            VisitEvent(
                visit=visit, at=at + timedelta(minutes=5), actor=client, kind=EventKind.QUALITY_POOR
            )
        )
    VisitEvent.objects.bulk_create(lines)
    if feedback_share is not None:
        instrument = feedback_instrument()
        assert instrument is not None
        task = MeasureTask.objects.create(
            client=client,
            therapist=therapist,
            instrument=instrument,
            visit=visit,
            due_at=at,
            status=TaskStatus.DONE,
        )
        answers = answers_near(definition_of(instrument), feedback_share, random.Random(1))
        made = response(client, instrument, answers, at=at + timedelta(minutes=55), save=False)
        made.task = task
        made.save()
    # As the end of a real visit does (``rapport.outcomes.signals.visit_ended``): the session's
    # facts are built with the client's episodes.
    refresh_client(client.pk)
    return visit
