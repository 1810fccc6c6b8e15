"""The shape every app gives its part of a client's record in.

Each app that holds part of the clinical record (visits, measures, intake, notes, diagnoses,
plans, ...) offers, in its own ``record.py``:

- ``entries(client, *, viewer, export=False) -> list[RecordEntry]``: its rows for the record
  timeline and (``export=True``) the readable PDF export, read with a fixed number of queries
  whatever their number;
- ``fhir_resources(client, *, viewer, export=True) -> list[dict]``: its FHIR R4 resources, each
  with an ``id`` from :func:`fhir_id` and references written as ``fhir_reference(kind, key)``, so
  that references between apps resolve inside one Bundle without either app importing the other.

``viewer`` has already been let through ``rapport.care.access.access_client``; ``export`` says the
entries leave Rapport (what must never leave, such as unreleased psychotherapy notes, stays out).
``rapport.records`` composes them; the permission check (who may see the record, and which kinds
of entry) happens there and in each app's own accessor, never here.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime

from django.utils.crypto import salted_hmac

# Rapport's own code systems, extensions and naming systems live under this base (docs/fhir.md).
CANONICAL_BASE = "https://rapport.example/fhir"
UCUM = "http://unitsofmeasure.org"


@dataclass(frozen=True)
class RecordEntry:
    """One row of a client's record: what the timeline lists and the readable export prints."""

    kind: str  # "session", "note", "measure", "alert", "plan", "intake", "diagnosis", ...
    at: datetime
    title: str  # the row's headline in the therapist's words ("Progress note (SOAP)")
    summary: str = ""  # one line under the title
    url: str = ""  # where the full entry lives, for those allowed to open it
    status: str = ""  # "signed", "draft", "open", ... as words
    details: tuple[tuple[str, str], ...] = field(default=())  # labelled full text for exports


def fhir_id(kind: str, key: object) -> str:
    """A stable id for one row that reveals nothing about it (valid as a FHIR id and a UUID).

    ``kind`` is the FHIR resource type in lower case ("encounter", "condition", ...), ``key`` the
    row's primary key; the same pair always gives the same id.
    """
    digest = salted_hmac("rapport.measures.fhir", f"{kind}:{key}", algorithm="sha256").digest()
    return str(uuid.UUID(bytes=digest[:16], version=4))


def fhir_reference(kind: str, key: object) -> str:
    """How one resource refers to another inside a record Bundle (the target's fullUrl)."""
    return f"urn:uuid:{fhir_id(kind, key)}"
