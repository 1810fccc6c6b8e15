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
from rapport.measures.models import AlertKind, Response, SafetyAlert

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


def _result_entry(response: Response, words: dict[str, str], *, corrected: bool) -> RecordEntry:
    result = response.result_data()
    total = result.get("total")
    prorated = bool(result.get("prorated"))
    if total is None:
        summary = words["no_total"]
    elif prorated:
        summary = words["prorated_total"] % {"total": total}
    else:
        summary = words["total_is"] % {"total": total}
    if result.get("band"):
        summary = f"{summary} · {result['band']}"
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


def entries(
    client: User, *, viewer: User, export: bool = False, window: Window = WHOLE
) -> list[RecordEntry]:
    # The answers stay encrypted: the record shows the result, and the answers are a click away.
    responses = (
        Response.objects.filter(client=client)
        .only("pk", "submitted_at", "result", "corrects_id")
        .annotate(instrument_name=F("instrument__name"), short_name=F("instrument__short_name"))
    )
    responses = window.narrow(responses, "submitted_at")
    words = _words()
    rows = [_result_entry(r, words, corrected=r.corrects_id is not None) for r in responses]
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
