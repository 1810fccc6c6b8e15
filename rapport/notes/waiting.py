"""What waits on a therapist: late drafts, sessions with no note yet, notes to co-sign.

Read for the therapist's own home page; each list is one query however long it is.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db.models import Exists, OuterRef
from django.utils import timezone

from rapport.accounts.models import Practice, User
from rapport.care.models import CareRelationship
from rapport.notes.models import Note, NoteKind, NoteStatus
from rapport.visits.models import Visit, VisitStatus

# Sessions ended longer ago than this are not chased for a note (older history predates notes).
LOOK_BACK = timedelta(days=30)


@dataclass(frozen=True)
class Waiting:
    client_name: str
    at: datetime  # when the note became due: its draft started, or the session ended
    hours_late: int  # 0 while within the practice's limit
    url_name: str
    url_arg: object
    has_draft: bool


def waiting_notes(therapist: User, now: datetime | None = None) -> list[Waiting]:
    """The therapist's unsigned progress notes and ended sessions without a progress note,
    oldest first, each with how many hours it is past the practice's limit."""
    now = now or timezone.now()
    limit = timedelta(hours=Practice.get().late_note_hours)
    in_care = CareRelationship.objects.filter(
        therapist=therapist, status=CareRelationship.Status.ACTIVE, client__is_active=True
    ).values("client")
    # Only the columns the list shows: the home page reads these on every visit.
    drafts = Note.objects.filter(
        author=therapist, status=NoteStatus.DRAFT, kind=NoteKind.PROGRESS, client__in=in_care
    ).values("pk", "client__full_name", "visit__ended_at", "created_at")
    noted = Note.objects.filter(visit=OuterRef("pk"), author=therapist, kind=NoteKind.PROGRESS)
    sessions = (
        Visit.objects.filter(
            therapist=therapist,
            status=VisitStatus.ENDED,
            started_at__isnull=False,
            ended_at__gte=now - LOOK_BACK,
            client__in=in_care,
        )
        .filter(~Exists(noted))
        .values("uid", "client__full_name", "ended_at")
    )
    rows = []
    for note in drafts:
        due = note["visit__ended_at"] or note["created_at"]
        rows.append(_row(note["client__full_name"], due, now, limit, "note", note["pk"], True))
    for visit in sessions:
        due = visit["ended_at"] or now
        rows.append(
            _row(visit["client__full_name"], due, now, limit, "visit_note", visit["uid"], False)
        )
    return sorted(rows, key=lambda w: w.at)


def _row(
    name: str,
    at: datetime,
    now: datetime,
    limit: timedelta,
    url_name: str,
    arg: object,
    draft: bool,
) -> Waiting:
    late = now - at - limit
    hours = int(late.total_seconds() // 3600) if late > timedelta(0) else 0
    return Waiting(name, at, hours, url_name, arg, draft)
