"""Taking the record away: the FHIR Bundle and the readable PDF, each export audited.

The caller has let ``viewer`` through ``rapport.records.access.access_record``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import weasyprint
from django.db import transaction
from django.http import HttpRequest
from django.template.loader import render_to_string
from django.utils import timezone

from rapport.accounts.models import Practice, User
from rapport.audit.services import Action, record
from rapport.care.access import Reach, profile_of
from rapport.core.record import RecordEntry
from rapport.records import fhir
from rapport.records.timeline import KINDS, record_entries

PRINT_CSS = str(Path(__file__).parent / "static" / "records" / "record_print.css")


@dataclass(frozen=True)
class Export:
    content: bytes
    content_type: str
    filename: str


def _audit(
    viewer: User, client: User, how: str, fmt: str, entries: int, request: HttpRequest | None
) -> None:
    record(
        Action.RECORD_EXPORTED,
        actor=viewer,
        request=request,
        obj=client,
        client=client,
        format=fmt,
        entries=entries,
        via=how,
    )


def export_fhir(
    viewer: User, client: User, how: str, *, request: HttpRequest | None = None
) -> Export:
    now = timezone.now()
    with transaction.atomic():
        named = how in {Reach.SELF, Reach.CARE}
        bundle = fhir.record_bundle(client, viewer=viewer, named=named, now=now)
        _audit(viewer, client, how, "fhir-r4", len(bundle["entry"]), request)
    return Export(
        json.dumps(bundle, ensure_ascii=False).encode("utf-8"),
        fhir.MEDIA_TYPE,
        f"rapport-record-{now.date().isoformat()}.json",
    )


# A detail this short (and on one line) shares a line with the others like it in the PDF: the time
# WeasyPrint takes grows with the lines it lays out, and "Ended: …", "Who attended: …" read well
# side by side. Longer ones (a note's sections) keep lines of their own.
SHORT_DETAIL = 60


def _print_rows(entry: RecordEntry) -> tuple[RecordEntry, str, list[str]]:
    """(the entry, its short details joined on one line, each longer detail as a line)."""
    short: list[str] = []
    long: list[str] = []
    for label, text in entry.details:
        line = f"{label}: {text}"
        (short if len(line) <= SHORT_DETAIL and "\n" not in text else long).append(line)
    return entry, " · ".join(short), long


def record_html(viewer: User, client: User, *, named: bool = False) -> tuple[str, int]:
    """The print layout of the whole record (what the PDF is made from) and its entry count.
    ``named`` (the client themselves, their clinician) adds the date of birth and postal address,
    as the FHIR Patient does."""
    entries = record_entries(client, viewer=viewer, export=True)
    html = render_to_string(
        "records/record_pdf.html",
        {
            "practice": Practice.get(),
            "client": client,
            "profile": profile_of(client) if named else None,
            "entries": entries,
            "rows": [_print_rows(entry) for entry in entries],
            "kinds": KINDS,
            "generated_at": timezone.now(),
        },
    )
    return html, len(entries)


def export_pdf(
    viewer: User, client: User, how: str, *, request: HttpRequest | None = None
) -> Export:
    now = timezone.now()
    with transaction.atomic():
        html, count = record_html(viewer, client, named=how in {Reach.SELF, Reach.CARE})
        _audit(viewer, client, how, "pdf", count, request)
    content = weasyprint.HTML(string=html).write_pdf(
        stylesheets=[weasyprint.CSS(filename=PRINT_CSS)]
    )
    if content is None:  # write_pdf returns None only when given a target to write to
        raise RuntimeError("WeasyPrint made no PDF")
    return Export(content, "application/pdf", f"rapport-record-{now.date().isoformat()}.pdf")
