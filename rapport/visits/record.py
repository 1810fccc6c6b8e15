"""Sessions in the client's record: when, how long in each modality, who attended, and where the
client said they were (FHIR ``Encounter``).

Two queries whatever the number of visits (three for an export): the visits, their modality
switches (the only events minutes are computed from) and, for an export, their check-ins. The
client's stated location is shown only in exports (the PDF a client or their clinician
downloads, which is itself audited): the timeline says that a location was confirmed, as opening
the check-in is a read of its own (``rapport.visits.access.access_checkin``).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from django.db.models import Exists, F, OuterRef, Prefetch
from django.utils.translation import gettext as _

from rapport.accounts.models import User
from rapport.core.record import (
    CANONICAL_BASE,
    UCUM,
    WHOLE,
    RecordEntry,
    Window,
    fhir_id,
    fhir_reference,
)
from rapport.scheduling.models import Modality
from rapport.visits.models import EventKind, SafetyCheckIn, Visit, VisitEvent, VisitStatus
from rapport.visits.services import summary

ACT_CODE = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
MODALITY_MINUTES = f"{CANONICAL_BASE}/StructureDefinition/modality-minutes"
MODALITY_SYSTEM = f"{CANONICAL_BASE}/CodeSystem/session-modality"


KINDS = {"session"}

# What the record shows of a visit (and the therapist's name, annotated): reading whole rows and
# whole therapists cost more than the rest of the timeline together.
VISIT_FIELDS = (
    "client_id",
    "status",
    "planned_modality",
    "created_at",
    "started_at",
    "ended_at",
    "client_admitted_at",
)


def _visits(client: User, *, with_location: bool = False, window: Window = WHOLE) -> list[Visit]:
    """The client's sessions that started, newest first, with what the summary needs: the
    modality switches, and whether the client checked in (with the location when exporting)."""
    switches = VisitEvent.objects.filter(kind=EventKind.MODALITY).only(
        "visit_id", "at", "kind", "modality", "reason"
    )
    visits = (
        Visit.objects.filter(client=client, started_at__isnull=False)
        .only(*VISIT_FIELDS)
        .annotate(therapist_name=F("therapist__full_name"))
        .prefetch_related(Prefetch("events", queryset=switches, to_attr="switches"))
        .order_by("-started_at", "-pk")
    )
    if with_location:
        checkins = SafetyCheckIn.objects.order_by("-confirmed_at", "-pk").only(
            "visit_id", "location", "confirmed_at"
        )
        visits = visits.prefetch_related(
            Prefetch("checkins", queryset=checkins, to_attr="checkin_rows")
        )
    else:  # whether there is one is enough, and decrypts nothing
        visits = visits.annotate(
            checked_in=Exists(SafetyCheckIn.objects.filter(visit=OuterRef("pk")))
        )
    return list(window.narrow(visits, "started_at"))


def _minutes(visit: Visit) -> dict[str, float]:
    return summary(visit, visit.switches, None).minutes  # type: ignore[attr-defined]


def _minutes_words(minutes: dict[str, float], labels: dict[str, str]) -> str:
    parts = [f"{labels[m]} {round(v)} min" for m, v in minutes.items() if v >= 0.5]
    return ", ".join(parts) or str(_("under a minute"))


def entries(
    client: User, *, viewer: User, export: bool = False, window: Window = WHOLE
) -> list[RecordEntry]:
    # Words looked up once, not once per session.
    labels = {str(value): str(label) for value, label in Modality.choices}
    words = {
        "ended": _("Ended"),
        "still": _("still in session"),
        "attended": _("Who attended"),
        "location": _("Client's stated location"),
        "confirmed": _("confirmed before the session"),
        "title": _("Session with %(therapist)s"),
        "status_ended": _("ended"),
        "status_live": _("in session"),
    }
    rows = []
    for visit in _visits(client, with_location=export, window=window):
        minutes_words = _minutes_words(_minutes(visit), labels)
        therapist: str = visit.therapist_name  # type: ignore[attr-defined]
        attended = [therapist]
        if visit.client_admitted_at is not None:
            attended.append(client.full_name)
        # The start is the entry's time and the minutes its summary: the details add the rest.
        details = [
            (words["ended"], _stamp(visit.ended_at) if visit.ended_at else words["still"]),
            (words["attended"], ", ".join(attended)),
        ]
        if export:
            checkins: list[SafetyCheckIn] = visit.checkin_rows  # type: ignore[attr-defined]
            if checkins:
                details.append((words["location"], checkins[0].location))
        elif visit.checked_in:  # type: ignore[attr-defined]
            details.append((words["location"], words["confirmed"]))
        rows.append(
            RecordEntry(
                kind="session",
                at=visit.started_at or visit.created_at,
                title=words["title"] % {"therapist": therapist},
                summary=minutes_words,
                status=words["status_ended"] if visit.is_ended else words["status_live"],
                details=tuple(details),
            )
        )
    return rows


def _stamp(moment: datetime | None) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC") if moment else ""


def _instant(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def encounter(visit: Visit, minutes: dict[str, float]) -> dict[str, Any]:
    """One session as an Encounter of class VR (virtual)."""
    started = visit.started_at or visit.created_at  # only started visits are read
    period = {"start": _instant(started)}
    if visit.ended_at is not None:
        period["end"] = _instant(visit.ended_at)
    resource: dict[str, Any] = {
        "resourceType": "Encounter",
        "id": fhir_id("encounter", visit.pk),
        "status": "finished" if visit.status == VisitStatus.ENDED else "in-progress",
        "class": {"system": ACT_CODE, "code": "VR", "display": "virtual"},
        "subject": {"reference": fhir_reference("patient", visit.client_id)},
        "period": period,
        "length": {
            "value": round(sum(minutes.values()), 1),
            "unit": "min",
            "system": UCUM,
            "code": "min",
        },
    }
    extensions = [
        {
            "url": MODALITY_MINUTES,
            "extension": [
                {"url": "modality", "valueCoding": {"system": MODALITY_SYSTEM, "code": m}},
                {"url": "minutes", "valueDecimal": value},
            ],
        }
        for m, value in minutes.items()
        if value > 0
    ]
    if extensions:
        resource["extension"] = extensions
    return resource


def fhir_resources(client: User, *, viewer: User, export: bool = True) -> list[dict[str, Any]]:
    return [encounter(visit, _minutes(visit)) for visit in _visits(client)]
