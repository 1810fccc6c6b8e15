"""The journal's part of a client's record (contract in ``rapport.core.record``): the entries
the client shared, and nothing else, whoever reads or exports the record (the client keeps their
private entries on their journal page). An entry per shared entry and a FHIR ``Observation``
for each, in one query whatever their number.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from django.utils.translation import gettext as _

from rapport.accounts.models import User
from rapport.core.record import CANONICAL_BASE, WHOLE, RecordEntry, Window, fhir_id, fhir_reference
from rapport.journal.access import shared_of
from rapport.journal.models import JournalEntry

KINDS = {"journal"}
MOOD_CODE = {
    "coding": [{"system": f"{CANONICAL_BASE}/CodeSystem/journal", "code": "mood"}],
    "text": "Self-reported mood, 0 (worst) to 10 (best)",
}
ENTRY_CODE = {
    "coding": [{"system": f"{CANONICAL_BASE}/CodeSystem/journal", "code": "entry"}],
    "text": "Journal entry the client shared",
}


def _rows(client: User, window: Window) -> list[JournalEntry]:
    return list(window.narrow(shared_of(client).order_by("written_at", "pk"), "written_at"))


def entries(
    client: User, *, viewer: User, export: bool = False, window: Window = WHOLE
) -> list[RecordEntry]:
    result = []
    for e in _rows(client, window):
        details: list[tuple[str, str]] = []
        if export:
            if e.mood is not None:
                details.append((_("Mood"), f"{e.mood} / 10"))
            if e.mood_words:
                details.append((_("About the mood"), e.mood_words))
            if e.tags:
                details.append((_("Tags"), e.tags))
            if e.text:
                details.append((_("Entry"), e.text))
        summary = _("mood %(mood)d of 10") % {"mood": e.mood} if e.mood is not None else ""
        result.append(
            RecordEntry(
                kind="journal",
                at=e.written_at,
                title=_("Shared journal entry"),
                summary=summary,
                details=tuple(details),
            )
        )
    return result


def _instant(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def observation(e: JournalEntry) -> dict[str, Any]:
    resource: dict[str, Any] = {
        "resourceType": "Observation",
        "id": fhir_id("observation-journal", e.pk),
        "status": "final",
        "code": MOOD_CODE if e.mood is not None else ENTRY_CODE,
        "subject": {"reference": fhir_reference("patient", e.client_id)},
        "effectiveDateTime": _instant(e.written_at),
    }
    if e.mood is not None:
        resource["valueInteger"] = e.mood
    words = [w for w in (e.mood_words, e.tags, e.text) if w]
    if words:
        resource["note"] = [{"text": w} for w in words]
    return resource


def fhir_resources(client: User, *, viewer: User, export: bool = True) -> list[dict[str, Any]]:
    return [observation(e) for e in _rows(client, WHOLE)]
