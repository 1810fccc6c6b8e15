"""Who may read and write notes: the one permission check for them.

- A progress note: the client's therapists in active care; the author's current supervisor
  (to co-sign); a practice admin holding emergency access to the client. The client reads their
  signed progress notes in their record and its export, not on these pages.
- A psychotherapy note: its author alone, while in active care with the client. To anyone else
  it does not exist (404, like an unknown note), whatever their reach.
Every granted read is audited as a read of the client's record with the purpose "note"; a
psychotherapy note's reads are filed under no client (see ``services.trail_client``).
"""

from __future__ import annotations

from django.db.models import Q, QuerySet
from django.http import Http404, HttpRequest

from rapport.accounts.models import User
from rapport.audit.services import Action, record
from rapport.care.access import Reach, reach
from rapport.notes.models import Note, NoteKind, Supervision
from rapport.notes.services import trail_client


class Role:
    AUTHOR = "author"
    CARE = "care"  # another of the client's therapists
    SUPERVISOR = "supervisor"
    EMERGENCY = "emergency"


def _supervises(user: User, therapist_id: int) -> bool:
    return Supervision.objects.filter(
        supervisor=user, supervisee_id=therapist_id, ended_at__isnull=True
    ).exists()


def role_for(user: User, note: Note) -> str | None:
    """How ``user`` may read ``note``, or None."""
    if not user.is_active:
        return None
    how = reach(user, note.client)
    if note.kind == NoteKind.PSYCHOTHERAPY:
        return Role.AUTHOR if how == Reach.CARE and note.author_id == user.pk else None
    if how == Reach.CARE:
        return Role.AUTHOR if note.author_id == user.pk else Role.CARE
    if how == Reach.EMERGENCY:
        return Role.EMERGENCY
    if user.is_therapist and note.client.is_active and _supervises(user, note.author_id):
        return Role.SUPERVISOR
    return None


def access_note(
    user: User, note_id: int, *, request: HttpRequest | None = None, audit: bool = True
) -> tuple[Note, str]:
    """The note and how ``user`` reaches it; otherwise 404. Audits the read."""
    note = Note.objects.select_related("client", "author", "visit").filter(pk=note_id).first()
    role = role_for(user, note) if note is not None else None
    if note is None or role is None:
        raise Http404("No such note.")
    if audit:
        record(
            Action.CLIENT_RECORD_VIEWED,
            actor=user,
            request=request,
            obj=note,
            client=trail_client(note),
            purpose="note",
            via=role,
        )
    return note, role


def visible_notes(user: User, client: User, how: str) -> QuerySet[Note]:
    """The notes of ``client`` that ``user`` (who reached them ``how``, through
    ``rapport.care.access``) may see in lists: no one else's psychotherapy notes, ever; the
    client only their signed progress notes."""
    notes = Note.objects.filter(client=client)
    if how == Reach.SELF:
        return notes.filter(kind=NoteKind.PROGRESS, status="signed")
    if how == Reach.CARE:
        return notes.exclude(Q(kind=NoteKind.PSYCHOTHERAPY) & ~Q(author=user))
    return notes.filter(kind=NoteKind.PROGRESS)


def awaiting_cosignature(supervisor: User) -> QuerySet[Note]:
    """Signed progress notes of the supervisor's current supervisees not yet co-signed."""
    supervisees = Supervision.objects.filter(supervisor=supervisor, ended_at__isnull=True).values(
        "supervisee"
    )
    return (
        Note.objects.filter(
            author__in=supervisees,
            kind=NoteKind.PROGRESS,
            status="signed",
            cosignature__isnull=True,
            client__is_active=True,
        )
        .select_related("author", "client")
        .order_by("signed_at")
    )
