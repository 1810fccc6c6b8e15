"""Writing notes: start one (from a visit, with its facts, or standing alone), save a draft,
sign and lock it, add an addendum, release a psychotherapy note, co-sign a supervisee's note.

Every function runs in one transaction and refuses what the rules refuse with ``NoteError``
(clear words), before the database triggers would (they are the last line, not the first).
Callers have already reached the note or visit through ``rapport.notes.access``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext as _

from rapport.accounts.models import User
from rapport.audit.services import Action, record
from rapport.homework.services import since_last_session
from rapport.measures.progress import progress_of
from rapport.notes.models import (
    Addendum,
    CoSignature,
    Note,
    NoteContact,
    NoteKind,
    NoteStatus,
    Release,
    Supervision,
)
from rapport.notes.note_templates import Template, template_for
from rapport.visits.models import Visit
from rapport.visits.services import current_checkin, summary

DEFAULT_TEMPLATE = "soap"
TEXT_LIMIT = 20_000


class NoteError(ValidationError):
    """A change the rules refuse, in words for the person who tried it."""


@dataclass(frozen=True)
class VisitFacts:
    date_of_service: date
    started_at: datetime | None
    ended_at: datetime | None
    minutes: dict[str, float]
    client_location: str
    attendees: str


def visit_facts(visit: Visit) -> VisitFacts:
    """What a note about ``visit`` starts with: when, how long in each modality, where the client
    said they were, and who was there."""
    events = list(visit.events.all())
    checkin = current_checkin(visit)
    facts = summary(visit, events, checkin)
    people = [visit.therapist.full_name]
    if visit.client_admitted_at is not None:
        people.append(visit.client.full_name)
    when = visit.started_at or visit.created_at
    return VisitFacts(
        date_of_service=timezone.localdate(when),
        started_at=visit.started_at,
        ended_at=visit.ended_at,
        minutes=facts.minutes,
        client_location=facts.location,
        attendees=", ".join(people),
    )


def trail_client(note: Note) -> User | None:
    """The client an audit event about ``note`` is filed under. Psychotherapy notes are filed
    under nobody, so "Who saw my record" and its counts never hint that one exists; the trail
    names the object only as a "Note", whatever its kind."""
    return None if note.is_psychotherapy else note.client


def sections_of(note: Note) -> list[dict[str, Any]]:
    data = json.loads(note.content) if note.content else {}
    sections: list[dict[str, Any]] = data.get("sections", [])
    return sections


def measures_of(note: Note) -> list[dict[str, str]]:
    rows: list[dict[str, str]] = json.loads(note.measures) if note.measures else []
    return rows


def latest_measures(client: User) -> list[dict[str, str]]:
    """The latest score of each instrument, with its band and change since the baseline."""
    progress, _feedback = progress_of(client, sessions_of=None, chart_prefix="note", clinical=False)
    rows = []
    for instrument in progress:
        latest = instrument.latest
        if latest is None:
            continue
        rows.append(
            {
                "instrument": instrument.definition.short_name,
                "at": latest.at.isoformat(),
                "when": latest.when,
                "score": latest.score_text,
                "band": latest.score.band or "",
                "change": latest.change_text,
            }
        )
    return rows


def _content(template: Template, texts: dict[str, str]) -> str:
    sections = [
        {
            "key": s.key,
            "label": s.label,
            "help": s.help,
            "required": s.required,
            "text": texts.get(s.key, "").strip()[:TEXT_LIMIT],
        }
        for s in template.sections
    ]
    return json.dumps({"sections": sections}, ensure_ascii=False)


def prefill(
    template: Template, client: User, author: User, *, before: datetime, on: date
) -> dict[str, str]:
    """What a new note's sections start with: in the first, the homework due since the
    author's last session with the client before ``before`` (done or not done)."""
    last = (
        Visit.objects.filter(client=client, therapist=author, started_at__lt=before)
        .order_by("-started_at")
        .values_list("started_at", flat=True)
        .first()
    )
    words = since_last_session(client, last_session=last, until=on)
    if not words or not template.sections:
        return {}
    return {template.sections[0].key: words}


def _template(key: str) -> Template:
    template = template_for(key or DEFAULT_TEMPLATE)
    if template is None:
        raise NoteError(_("There is no note template “%(key)s”.") % {"key": key})
    return template


def start_for_visit(
    author: User,
    visit: Visit,
    *,
    kind: str = NoteKind.PROGRESS,
    template_key: str = DEFAULT_TEMPLATE,
    request: HttpRequest | None = None,
) -> tuple[Note, bool]:
    """The author's note of this kind for ``visit``: the existing one, or a new draft with the
    visit's facts filled in. Returns (note, created)."""
    if visit.therapist_id != author.pk:
        raise NoteError(_("Only the session's therapist writes its note."))
    if kind not in NoteKind.values:
        raise NoteError(_("Unknown kind of note."))
    with transaction.atomic():
        existing = Note.objects.filter(visit=visit, author=author, kind=kind).first()
        if existing is not None:
            return existing, False
        template = _template(template_key)
        facts = visit_facts(visit)
        texts = prefill(
            template,
            visit.client,
            author,
            before=visit.started_at or visit.created_at,
            on=facts.date_of_service,
        )
        note = Note.objects.create(
            client=visit.client,
            author=author,
            visit=visit,
            kind=kind,
            contact=NoteContact.SESSION,
            template_key=template.key,
            template_version=template.version,
            content=_content(template, texts),
            date_of_service=facts.date_of_service,
            started_at=facts.started_at,
            ended_at=facts.ended_at,
            minutes_video=Decimal(str(facts.minutes.get("video", 0))),
            minutes_audio=Decimal(str(facts.minutes.get("audio", 0))),
            minutes_text=Decimal(str(facts.minutes.get("text", 0))),
            client_location=facts.client_location,
            attendees=facts.attendees,
        )
        record(
            Action.NOTE_STARTED, actor=author, request=request, obj=note, client=trail_client(note)
        )
    return note, True


def start_standalone(
    author: User,
    client: User,
    *,
    contact: str,
    date_of_service: date,
    kind: str = NoteKind.PROGRESS,
    template_key: str = DEFAULT_TEMPLATE,
    request: HttpRequest | None = None,
) -> Note:
    """A draft about a contact outside a visit (a phone call, a no-show, other)."""
    if contact not in NoteContact.values or contact == NoteContact.SESSION:
        raise NoteError(_("Choose what the contact was: a phone call, a no-show or other."))
    if kind not in NoteKind.values:
        raise NoteError(_("Unknown kind of note."))
    template = _template(template_key)
    texts = prefill(template, client, author, before=timezone.now(), on=date_of_service)
    with transaction.atomic():
        note = Note.objects.create(
            client=client,
            author=author,
            kind=kind,
            contact=contact,
            template_key=template.key,
            template_version=template.version,
            content=_content(template, texts),
            date_of_service=date_of_service,
            attendees=author.full_name,
        )
        record(
            Action.NOTE_STARTED, actor=author, request=request, obj=note, client=trail_client(note)
        )
    return note


def _editable(note_id: int, author: User) -> Note:
    note = Note.objects.select_for_update().filter(pk=note_id).first()
    if note is None or note.author_id != author.pk:
        raise NoteError(_("Only the note's author changes it."))
    if note.is_signed:
        raise NoteError(_("This note is signed and can no longer change; add an addendum."))
    return note


def _with_texts(note: Note, texts: dict[str, str]) -> str:
    sections = sections_of(note)
    for section in sections:
        if section["key"] in texts:
            section["text"] = str(texts[section["key"]]).strip()[:TEXT_LIMIT]
    return json.dumps({"sections": sections}, ensure_ascii=False)


def save_draft(
    note_id: int,
    author: User,
    texts: dict[str, str],
    *,
    client_location: str | None = None,
    attendees: str | None = None,
    include_measures: bool | None = None,
) -> Note:
    """Keep what the author typed so far. Drafts are not audited per keystroke save."""
    with transaction.atomic():
        note = _editable(note_id, author)
        note.content = _with_texts(note, texts)
        fields = ["content", "updated_at"]
        if client_location is not None:
            note.client_location = client_location.strip()[:300]
            fields.append("client_location")
        if attendees is not None:
            note.attendees = attendees.strip()[:300]
            fields.append("attendees")
        if include_measures is not None:
            note.measures = json.dumps(latest_measures(note.client)) if include_measures else ""
            fields.append("measures")
        note.updated_at = timezone.now()
        note.save(update_fields=fields)
    return note


def missing_sections(note: Note) -> list[str]:
    return [s["label"] for s in sections_of(note) if s.get("required") and not s.get("text")]


def sign(note_id: int, author: User, *, request: HttpRequest | None = None) -> Note:
    """Sign and lock the note: from now on nothing in its row changes."""
    with transaction.atomic():
        note = _editable(note_id, author)
        missing = missing_sections(note)
        if missing:
            raise NoteError(
                _("Write these sections before signing: %(names)s.") % {"names": ", ".join(missing)}
            )
        now = timezone.now()
        if note.measures:  # pulled in: frozen as they stand at signing
            note.measures = json.dumps(latest_measures(note.client))
        note.status, note.signed_at, note.signed_by, note.updated_at = (
            NoteStatus.SIGNED,
            now,
            author,
            now,
        )
        note.save(update_fields=["status", "signed_at", "signed_by", "updated_at", "measures"])
        record(
            Action.NOTE_SIGNED, actor=author, request=request, obj=note, client=trail_client(note)
        )
    return note


def add_addendum(
    note_id: int, author: User, text: str, *, request: HttpRequest | None = None
) -> Addendum:
    """A signed, timestamped addition to a signed note, by its author."""
    text = text.strip()
    if not text:
        raise NoteError(_("Write the addendum first."))
    if len(text) > TEXT_LIMIT:
        raise NoteError(_("An addendum holds at most %(n)s characters.") % {"n": TEXT_LIMIT})
    with transaction.atomic():
        note = Note.objects.select_for_update().filter(pk=note_id).first()
        if note is None or note.author_id != author.pk:
            raise NoteError(_("Only the note's author adds an addendum."))
        if not note.is_signed:
            raise NoteError(_("Change the draft itself; addenda are for signed notes."))
        addendum = Addendum.objects.create(note=note, author=author, text=text)
        record(
            Action.NOTE_ADDENDUM, actor=author, request=request, obj=note, client=trail_client(note)
        )
    return addendum


def release(
    note_id: int, author: User, reason: str, *, request: HttpRequest | None = None
) -> Release:
    """The author releases a signed psychotherapy note into the record (and its exports)."""
    reason = reason.strip()
    if not reason:
        raise NoteError(
            _("Say why the note is released (for example, the client's authorisation).")
        )
    with transaction.atomic():
        note = Note.objects.select_for_update().filter(pk=note_id).first()
        if note is None or note.author_id != author.pk or not note.is_psychotherapy:
            raise NoteError(_("Only the author releases a psychotherapy note."))
        if not note.is_signed:
            raise NoteError(_("Sign the note before releasing it."))
        if Release.objects.filter(note=note).exists():
            raise NoteError(_("This note is already released."))
        released = Release.objects.create(note=note, released_by=author, reason=reason[:2000])
        # Only once released does the trail name a psychotherapy note.
        record(
            Action.NOTE_RELEASED, actor=author, request=request, obj=note, client=trail_client(note)
        )
    return released


def supervisor_of(therapist: User) -> User | None:
    row = (
        Supervision.objects.filter(supervisee=therapist, ended_at__isnull=True)
        .select_related("supervisor")
        .first()
    )
    return row.supervisor if row is not None else None


def cosign(note_id: int, supervisor: User, *, request: HttpRequest | None = None) -> CoSignature:
    """The supervisor co-signs a supervisee's signed progress note."""
    with transaction.atomic():
        note = Note.objects.select_for_update().select_related("author").filter(pk=note_id).first()
        if (
            note is None
            or note.is_psychotherapy
            or supervisor_of(note.author) is None
            or supervisor_of(note.author) != supervisor
        ):
            raise NoteError(_("Only the author's supervisor co-signs this note."))
        if not note.is_signed:
            raise NoteError(_("The note is not signed yet."))
        if CoSignature.objects.filter(note=note).exists():
            raise NoteError(_("This note is already co-signed."))
        cosigned = CoSignature.objects.create(note=note, supervisor=supervisor)
        record(
            Action.NOTE_COSIGNED,
            actor=supervisor,
            request=request,
            obj=note,
            client=trail_client(note),
        )
    return cosigned


def start_supervision(
    admin: User, supervisee: User, supervisor: User, *, request: HttpRequest | None = None
) -> Supervision:
    if not admin.is_practice_admin:
        raise NoteError(_("Only a practice admin sets supervision."))
    if not (supervisee.is_therapist and supervisor.is_therapist):
        raise NoteError(_("Both people must be therapists."))
    if supervisee.pk == supervisor.pk:
        raise NoteError(_("A therapist cannot supervise themselves."))
    with transaction.atomic():
        if Supervision.objects.filter(supervisee=supervisee, ended_at__isnull=True).exists():
            raise NoteError(
                _("%(name)s already has a supervisor; end that first.")
                % {"name": supervisee.full_name}
            )
        row = Supervision.objects.create(
            supervisee=supervisee, supervisor=supervisor, created_by=admin
        )
        record(Action.SUPERVISION_STARTED, actor=admin, request=request, obj=row)
    return row


def end_supervision(
    admin: User, supervision_id: int, *, request: HttpRequest | None = None
) -> Supervision:
    if not admin.is_practice_admin:
        raise NoteError(_("Only a practice admin ends supervision."))
    with transaction.atomic():
        row = Supervision.objects.select_for_update().filter(pk=supervision_id).first()
        if row is None or row.ended_at is not None:
            raise NoteError(_("This supervision has already ended."))
        row.ended_at = timezone.now()
        row.save(update_fields=["ended_at"])
        record(Action.SUPERVISION_ENDED, actor=admin, request=request, obj=row)
    return row
