"""The shape every app gives its part of a client's record in.

Each app that holds part of the clinical record (visits, measures, intake, notes, diagnoses,
plans, ...) offers, in its own ``record.py``:

- ``entries(client, *, viewer, export=False, window=WHOLE) -> list[RecordEntry]``: its rows for
  the record timeline and (``export=True``) the readable PDF export, read with a fixed number of
  queries whatever their number. ``window`` (a :class:`Window`) asks for one page of the
  timeline: a provider whose rows are many or costly narrows each of its queries with
  ``window.narrow``; one whose rows are few may ignore it (the composer cuts to the window);
- ``KINDS``: the entry kinds it gives, so that a filtered timeline asks only the providers it
  needs;
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
from typing import TypeVar

from django.db.models import Model, QuerySet
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


M = TypeVar("M", bound=Model)


@dataclass(frozen=True)
class Window:
    """A stretch of the record: entries at or after ``start`` and before ``end``, and of those
    only the newest ``limit``. The default is the whole record."""

    start: datetime | None = None
    end: datetime | None = None
    limit: int | None = None

    def narrow(self, rows: QuerySet[M], at: str) -> QuerySet[M]:
        """``rows`` within the window by their time field (or annotation) ``at``: the newest
        ``limit`` of them, newest first. Call it last: a limited query cannot be filtered."""
        if self.start is not None:
            rows = rows.filter(**{f"{at}__gte": self.start})
        if self.end is not None:
            rows = rows.filter(**{f"{at}__lt": self.end})
        if self.limit is not None:
            rows = rows.order_by(f"-{at}", "-pk")[: self.limit]
        return rows

    def holds(self, moment: datetime) -> bool:
        return (self.start is None or moment >= self.start) and (
            self.end is None or moment < self.end
        )


WHOLE = Window()


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
