"""Measures in the client's record: each result (instrument, total, band, prorated or not) and
each safety alert (kind, opened, acknowledged). FHIR: the same resources as the measures export
(``rapport.measures.fhir``), so the record bundle and the measures bundle agree.

Two queries whatever the number of rows: the responses (with their instruments' names), and the
alerts.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from django.db.models import F
from django.urls import reverse
from django.utils.translation import gettext as _

from rapport.accounts.models import User
from rapport.core.record import WHOLE, RecordEntry, Window, fhir_reference
from rapport.measures import fhir
from rapport.measures.definitions import Definition
from rapport.measures.instruments import definition_of
from rapport.measures.models import AlertKind, Instrument, Response, SafetyAlert
from rapport.measures.results import band_for_client

KINDS = {"measure", "alert"}


def _stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def _words() -> dict[str, str]:
    """The entries' words, looked up once per record rather than once per row."""
    return {
        "no_total": _("No total (too few answers)"),
        "prorated_total": _("Total %(total)s (prorated)"),
        "total_is": _("Total %(total)s"),
        "instrument": _("Instrument"),
        "prorated": _("Prorated"),
        "correction": _("Correction"),
        "corrects": _("This result corrects an earlier submission."),
        "title": _("%(instrument)s result"),
        "corrected": _("corrected"),
    }


def _result_entry(
    response: Response, words: dict[str, str], *, corrected: bool, client_bands: Bands | None
) -> RecordEntry:
    result = response.result_data()
    total = result.get("total")
    prorated = bool(result.get("prorated"))
    if total is None:
        summary = words["no_total"]
    elif prorated:
        summary = words["prorated_total"] % {"total": total}
    else:
        summary = words["total_is"] % {"total": total}
    band = result.get("band") or ""
    if client_bands is not None:  # the client's own record: the words for clients
        definition = client_bands.get(response.instrument_id)
        band = (
            ""
            if definition is None
            else band_for_client(definition, band, risk_positive=bool(result.get("risk_items")))
        )
    if band:
        summary = f"{summary} · {band}"
    # The time, total and band are the entry's own time and summary.
    details = [(words["instrument"], response.instrument_name)]  # type: ignore[attr-defined]
    if prorated:
        details.append((words["prorated"], fhir.prorated_note(len(result.get("missing") or []))))
    if corrected:
        details.append((words["correction"], words["corrects"]))
    return RecordEntry(
        kind="measure",
        at=response.submitted_at,
        title=words["title"] % {"instrument": response.short_name},  # type: ignore[attr-defined]
        summary=summary,
        url=reverse("measure_result", args=[response.pk]),
        status=words["corrected"] if corrected else "",
        details=tuple(details),
    )


def _alert_entry(alert: SafetyAlert, *, linked: bool) -> RecordEntry:
    kind = str(dict(AlertKind.choices).get(alert.kind, alert.kind))
    details = [(_("Kind"), kind), (_("Opened"), _stamp(alert.opened_at))]
    if alert.acknowledged_at is not None:
        details.append((_("Acknowledged"), _stamp(alert.acknowledged_at)))
    return RecordEntry(
        kind="alert",
        at=alert.opened_at,
        title=_("Safety alert: %(kind)s") % {"kind": kind},
        summary=_("open") if alert.is_open else _("acknowledged"),
        url=reverse("alert_detail", args=[alert.pk]) if linked else "",
        status=_("open") if alert.is_open else _("acknowledged"),
        details=tuple(details),
    )


Bands = dict[int, Definition]


def _definitions(responses: list[Response]) -> Bands:
    """The definitions of the responses' instruments, in one query: the client's own record
    words bands as clients read them (``band_for_client``)."""
    instruments = Instrument.objects.filter(pk__in={r.instrument_id for r in responses})
    return {instrument.pk: definition_of(instrument) for instrument in instruments}


def entries(
    client: User, *, viewer: User, export: bool = False, window: Window = WHOLE
) -> list[RecordEntry]:
    # The answers stay encrypted: the record shows the result, and the answers are a click away.
    responses = (
        Response.objects.filter(client=client)
        .only("pk", "submitted_at", "result", "corrects_id", "instrument_id")
        .annotate(instrument_name=F("instrument__name"), short_name=F("instrument__short_name"))
    )
    fetched: list[Response] = list(window.narrow(responses, "submitted_at"))
    words = _words()
    client_bands = _definitions(fetched) if viewer.pk == client.pk else None
    rows = [
        _result_entry(r, words, corrected=r.corrects_id is not None, client_bands=client_bands)
        for r in fetched
    ]
    alerts = window.narrow(
        SafetyAlert.objects.filter(client=client).only(
            "pk", "kind", "opened_at", "acknowledged_at"
        ),
        "opened_at",
    )
    # The alert page is the clinician's (the client reads the result instead).
    rows.extend(_alert_entry(alert, linked=viewer.pk != client.pk) for alert in alerts)
    return rows


def fhir_resources(client: User, *, viewer: User, export: bool = True) -> list[dict[str, Any]]:
    patient_url = fhir_reference("patient", client.pk)
    return [entry.resource for entry in fhir.client_entries(client, patient_url=patient_url)]
