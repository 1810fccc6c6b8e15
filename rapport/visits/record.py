"""Sessions in the client's record: when, how long in each modality, who attended, and where the
client said they were (FHIR ``Encounter``).

Three queries whatever the number of visits: the visits, their modality switches (the only events
minutes are computed from) and their safety check-ins. The client's stated location is shown only
in exports (the PDF a client or their clinician downloads, which is itself audited): the timeline
says that a location was confirmed, as opening the check-in is a read of its own
(``rapport.visits.access.access_checkin``).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from django.db.models import Prefetch
from django.utils.translation import gettext as _

from rapport.accounts.models import User
from rapport.core.record import CANONICAL_BASE, UCUM, RecordEntry, fhir_id, fhir_reference
from rapport.scheduling.models import Modality
from rapport.visits.models import EventKind, SafetyCheckIn, Visit, VisitEvent, VisitStatus
from rapport.visits.services import summary

ACT_CODE = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
MODALITY_MINUTES = f"{CANONICAL_BASE}/StructureDefinition/modality-minutes"
MODALITY_SYSTEM = f"{CANONICAL_BASE}/CodeSystem/session-modality"


def _visits(client: User) -> list[Visit]:
    """The client's sessions that started, newest first, with what the summary needs."""
    switches = VisitEvent.objects.filter(kind=EventKind.MODALITY).only(
        "visit_id", "at", "kind", "modality", "reason"
    )
    checkins = SafetyCheckIn.objects.order_by("-confirmed_at", "-pk")
    return list(
        Visit.objects.filter(client=client, started_at__isnull=False)
        .select_related("therapist")
        .prefetch_related(
            Prefetch("events", queryset=switches, to_attr="switches"),
            Prefetch("checkins", queryset=checkins, to_attr="checkin_rows"),
        )
        .order_by("-started_at", "-pk")
    )


def _minutes(visit: Visit) -> dict[str, float]:
    checkins: list[SafetyCheckIn] = visit.checkin_rows  # type: ignore[attr-defined]
    return summary(visit, visit.switches, checkins[0] if checkins else None).minutes  # type: ignore[attr-defined]


def _minutes_words(minutes: dict[str, float]) -> str:
    labels = dict(Modality.choices)
    parts = [f"{labels[m]} {round(v)} min" for m, v in minutes.items() if v >= 0.5]
    return ", ".join(parts) or _("under a minute")


def entries(client: User, *, viewer: User, export: bool = False) -> list[RecordEntry]:
    rows = []
    for visit in _visits(client):
        minutes = _minutes(visit)
        checkins: list[SafetyCheckIn] = visit.checkin_rows  # type: ignore[attr-defined]
        attended = [visit.therapist.full_name]
        if visit.client_admitted_at is not None:
            attended.append(client.full_name)
        details = [
            (_("Started"), _stamp(visit.started_at)),
            (_("Ended"), _stamp(visit.ended_at) if visit.ended_at else _("still in session")),
            (_("Minutes per modality"), _minutes_words(minutes)),
            (_("Who attended"), ", ".join(attended)),
        ]
        if checkins:
            location = checkins[0].location if export else _("confirmed before the session")
            details.append((_("Client's stated location"), location))
        rows.append(
            RecordEntry(
                kind="session",
                at=visit.started_at or visit.created_at,
                title=_("Session with %(therapist)s") % {"therapist": visit.therapist.full_name},
                summary=_minutes_words(minutes),
                status=_("ended") if visit.is_ended else _("in session"),
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
