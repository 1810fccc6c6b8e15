"""The diagnoses' part of a client's record (contract in ``rapport.core.record``): a timeline
entry per diagnosis and a FHIR ``Condition`` for each, in one query whatever their number.

Entered-in-error diagnoses stay in the record with that status (nothing is deleted), as FHIR's
``verificationStatus`` ``entered-in-error``, which carries no clinical status.
"""

from __future__ import annotations

from typing import Any

from django.urls import reverse
from django.utils.translation import gettext as _

from rapport.accounts.models import User
from rapport.core.record import WHOLE, RecordEntry, Window, fhir_id, fhir_reference
from rapport.diagnoses.models import Diagnosis, Rank, Status

ICD_10_CM = "http://hl7.org/fhir/sid/icd-10-cm"
CLINICAL = "http://terminology.hl7.org/CodeSystem/condition-clinical"
VERIFICATION = "http://terminology.hl7.org/CodeSystem/condition-ver-status"
CATEGORY = "http://terminology.hl7.org/CodeSystem/condition-category"


KINDS = {"diagnosis"}


def _rows(client: User) -> list[Diagnosis]:
    return list(
        Diagnosis.objects.filter(client=client)
        .select_related("recorded_by")
        .order_by("recorded_at", "pk")
    )


def entries(
    client: User, *, viewer: User, export: bool = False, window: Window = WHOLE
) -> list[RecordEntry]:
    """One entry per diagnosis, at the time it was recorded (one query)."""
    # Few rows: the whole record is read and the composer cuts it to the window.
    url = "" if viewer.pk == client.pk else reverse("client_diagnoses", args=[client.pk])
    result = []
    for d in _rows(client):
        details: list[tuple[str, str]] = []
        if export:  # the timeline shows the title and summary; exports every detail
            details = [
                (_("Code"), f"{d.code} (ICD-10-CM)"),
                (_("Description"), d.description),
                (_("Rank"), str(d.get_rank_display())),
                (_("Status"), str(d.get_status_display())),
                (_("Onset"), d.onset.isoformat() if d.onset else "—"),
                (_("Resolved"), d.resolved_on.isoformat() if d.resolved_on else "—"),
                (_("Recorded by"), d.recorded_by.full_name),
            ]
            if d.notes:
                details.append((_("Notes"), d.notes))
        result.append(
            RecordEntry(
                kind="diagnosis",
                at=d.recorded_at,
                title=_("Diagnosis %(code)s") % {"code": d.code},
                summary=f"{d.description} · {d.get_rank_display()}",
                url=f"{url}#diagnosis-{d.pk}" if url else "",
                status=str(d.get_status_display()),
                details=tuple(details),
            )
        )
    return result


def condition(d: Diagnosis) -> dict[str, Any]:
    """A diagnosis as a FHIR R4 ``Condition``."""
    resource: dict[str, Any] = {
        "resourceType": "Condition",
        "id": fhir_id("condition", d.pk),
        "verificationStatus": {
            "coding": [
                {
                    "system": VERIFICATION,
                    "code": "entered-in-error"
                    if d.status == Status.ENTERED_IN_ERROR
                    else "confirmed",
                }
            ]
        },
        "category": [
            {
                "coding": [
                    {
                        "system": CATEGORY,
                        "code": "problem-list-item",
                        "display": "Problem List Item",
                    }
                ]
            }
        ],
        "code": {
            "coding": [{"system": ICD_10_CM, "code": d.code, "display": d.description}],
            "text": d.description,
        },
        "subject": {"reference": fhir_reference("patient", d.client_id)},
        "recordedDate": d.recorded_at.isoformat(),
        "recorder": {"display": d.recorded_by.full_name},
    }
    if d.status != Status.ENTERED_IN_ERROR:  # FHIR: no clinical status on a mistake
        clinical = "resolved" if d.status == Status.RESOLVED else "active"
        resource["clinicalStatus"] = {"coding": [{"system": CLINICAL, "code": clinical}]}
    if d.onset:
        resource["onsetDateTime"] = d.onset.isoformat()
    if d.resolved_on:
        resource["abatementDateTime"] = d.resolved_on.isoformat()
    notes = [_("Primary diagnosis")] if d.rank == Rank.PRIMARY else []
    if d.notes:
        notes.append(d.notes)
    if notes:
        resource["note"] = [{"text": text} for text in notes]
    return resource


def fhir_resources(client: User, *, viewer: User, export: bool = True) -> list[dict[str, Any]]:
    """A ``Condition`` per diagnosis (one query)."""
    return [condition(d) for d in _rows(client)]
