"""Notes in the client's record: timeline entries and FHIR DocumentReferences.

The contract is in ``rapport.core.record``. What each viewer gets:

- the client (``self``): their signed progress notes (and any psychotherapy note its author
  released), never drafts;
- a therapist in care: every progress note, drafts included on the timeline, and their own
  psychotherapy notes; another therapist's psychotherapy notes never appear;
- an admin through emergency access: progress notes only;
- any export (``export=True``): signed notes only, psychotherapy notes only once released.

A fixed number of queries however many notes: the reach check, the notes (with
whether each is co-signed and how many addenda it has; for exports, the addenda too), and the
current supervisions.
"""

from __future__ import annotations

import base64
from typing import Any

from django.db.models import Count, Exists, OuterRef, Prefetch, Q, QuerySet
from django.db.models.functions import Coalesce
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from rapport.accounts.models import User
from rapport.care.access import Reach, reach
from rapport.core.record import WHOLE, RecordEntry, Window, fhir_id, fhir_reference
from rapport.notes.models import Addendum, CoSignature, Note, NoteKind, NoteStatus, Supervision
from rapport.notes.services import sections_of

LOINC = "http://loinc.org"
PROGRESS_NOTE_LOINC = ("11506-3", "Progress note")
KINDS = {"note"}


# What the timeline shows of a note (its words, read only for exports, stay encrypted).
TIMELINE_FIELDS = (
    "client_id",
    "author_id",
    "kind",
    "status",
    "template_key",
    "contact",
    "minutes_video",
    "minutes_audio",
    "minutes_text",
)


def _notes(client: User, viewer: User, *, export: bool, window: Window = WHOLE) -> list[Note]:
    how = reach(viewer, client)
    notes: QuerySet[Note] = Note.objects.filter(client=client)
    released = Q(kind=NoteKind.PSYCHOTHERAPY, release__isnull=False)
    if how == Reach.SELF:
        notes = notes.filter(Q(kind=NoteKind.PROGRESS) | released, status=NoteStatus.SIGNED)
    elif how == Reach.CARE:
        own_process = Q(kind=NoteKind.PSYCHOTHERAPY, author=viewer)
        if export:
            notes = notes.filter(Q(kind=NoteKind.PROGRESS) | (own_process & released))
        else:
            notes = notes.filter(Q(kind=NoteKind.PROGRESS) | own_process)
    elif how == Reach.EMERGENCY:
        notes = notes.filter(kind=NoteKind.PROGRESS)
    else:
        return []
    notes = notes.annotate(
        record_at=Coalesce("started_at", "signed_at", "created_at"),
        cosigned=Exists(CoSignature.objects.filter(note=OuterRef("pk"))),
        addenda_count=Count("addenda"),
    ).order_by("date_of_service", "created_at", "pk")
    if export:  # signed notes with their words, addenda and signers
        notes = (
            notes.filter(status=NoteStatus.SIGNED)
            .select_related("author", "signed_by")
            .prefetch_related(
                Prefetch("addenda", queryset=Addendum.objects.select_related("author"))
            )
        )
    else:  # titles and facts only: the words stay encrypted in the database
        notes = notes.only(*TIMELINE_FIELDS)
    return list(window.narrow(notes, "record_at"))


def _supervised() -> set[int]:
    return set(
        Supervision.objects.filter(ended_at__isnull=True).values_list("supervisee_id", flat=True)
    )


def _title(note: Note) -> str:
    kind = _("Psychotherapy note") if note.is_psychotherapy else _("Progress note")
    return f"{kind} ({note.template_key.upper()})"


def _status(note: Note, supervised: set[int]) -> str:
    if not note.is_signed:
        return _("draft")
    if note.cosigned:  # type: ignore[attr-defined]
        return _("signed, co-signed")
    if not note.is_psychotherapy and note.author_id in supervised:
        return _("signed, awaiting co-signature")
    return _("signed")


def _details(note: Note) -> tuple[tuple[str, str], ...]:
    rows = [(str(s["label"]), str(s.get("text", ""))) for s in sections_of(note)]
    for addendum in note.addenda.all():
        when = timezone.localtime(addendum.signed_at).strftime("%Y-%m-%d %H:%M")
        rows.append(
            (
                _("Addendum, signed %(when)s by %(who)s")
                % {"when": when, "who": addendum.author.full_name},
                addendum.text,
            )
        )
    return tuple(rows)


def entries(
    client: User, *, viewer: User, export: bool = False, window: Window = WHOLE
) -> list[RecordEntry]:
    supervised = _supervised()
    rows = []
    for note in _notes(client, viewer, export=export, window=window):
        at = note.record_at  # type: ignore[attr-defined]
        minutes = note.minutes_video + note.minutes_audio + note.minutes_text
        summary = note.get_contact_display()
        if minutes:
            summary += " · " + _("%(n)s min") % {"n": minutes}
        if note.addenda_count:  # type: ignore[attr-defined]
            summary += " · " + _("%(n)s addenda") % {"n": note.addenda_count}  # type: ignore[attr-defined]
        rows.append(
            RecordEntry(
                kind="note",
                at=at,
                title=_title(note),
                summary=summary,
                url="" if export else reverse("note", args=[note.pk]),
                status=_status(note, supervised),
                details=_details(note) if export else (),
            )
        )
    return rows


def _text(note: Note) -> str:
    parts = [f"{label}\n{text}" for label, text in _details(note)]
    return "\n\n".join(parts)


def _document(note: Note) -> dict[str, Any]:
    signed_at = note.signed_at or note.updated_at
    resource: dict[str, Any] = {
        "resourceType": "DocumentReference",
        "id": fhir_id("documentreference", note.pk),
        "status": "current",
        "docStatus": "final",
        "type": {
            "coding": [
                {"system": LOINC, "code": PROGRESS_NOTE_LOINC[0], "display": PROGRESS_NOTE_LOINC[1]}
            ],
            "text": _title(note),
        },
        "subject": {"reference": fhir_reference("patient", note.client_id)},
        "date": signed_at.isoformat(),
        "author": [{"display": note.author.full_name}],
        "authenticator": {"display": note.signed_by.full_name if note.signed_by else ""},
        "content": [
            {
                "attachment": {
                    "contentType": "text/plain; charset=utf-8",
                    "language": "en",
                    "data": base64.b64encode(_text(note).encode("utf-8")).decode("ascii"),
                    "title": _title(note),
                    "creation": signed_at.isoformat(),
                }
            }
        ],
    }
    context: dict[str, Any] = {}
    if note.visit_id is not None:
        context["encounter"] = [{"reference": fhir_reference("encounter", note.visit_id)}]
    if note.started_at is not None:
        period = {"start": note.started_at.isoformat()}
        if note.ended_at is not None:
            period["end"] = note.ended_at.isoformat()
        context["period"] = period
    if context:
        resource["context"] = context
    return resource


def fhir_resources(client: User, *, viewer: User, export: bool = True) -> list[dict[str, Any]]:
    """A DocumentReference per signed note the viewer may take away (its addenda in its text)."""
    return [_document(note) for note in _notes(client, viewer, export=True) if note.is_signed]
