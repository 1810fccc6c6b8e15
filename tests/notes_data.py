"""Sessions and notes for the notes tests."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import time_machine
from django.utils import timezone

from rapport.accounts.models import User
from rapport.notes import services
from rapport.notes.models import Note
from rapport.visits import services as visits
from rapport.visits.models import Visit


def ended_session(therapist: User, client: User, *, at: datetime | None = None) -> Visit:
    """A 45-minute session: checked in from "Home", 20 minutes of video then text, ended."""
    start = (at or timezone.now() - timedelta(hours=1)).replace(microsecond=0)
    with time_machine.travel(start - timedelta(minutes=1), tick=False):
        visit = visits.start_unscheduled(therapist, client)
        visits.check_in(
            visit,
            client,
            location="Home, Leeds",
            callback_phone="555 0100",
            emergency_contact="Sam",
        )
    with time_machine.travel(start, tick=False):
        Visit.objects.filter(pk=visit.pk).update(client_channel="specific.x")
        visits.admit(visit.pk, therapist)
    with time_machine.travel(start + timedelta(minutes=20), tick=False):
        visits.switch_modality(visit.pk, therapist, "text", reason="user")
    with time_machine.travel(start + timedelta(minutes=45), tick=False):
        visits.end(visit.pk, therapist)
    return Visit.objects.get(pk=visit.pk)


SOAP = {
    "subjective": "Slept better this week.",
    "objective": "Calm, engaged.",
    "assessment": "Improving.",
    "plan": "Continue weekly.",
}


def signed_note(therapist: User, client: User, **kwargs: Any) -> Note:
    visit = ended_session(therapist, client)
    note, _created = services.start_for_visit(therapist, visit, **kwargs)
    services.save_draft(note.pk, therapist, SOAP)
    return services.sign(note.pk, therapist)
