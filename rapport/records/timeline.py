"""The client's record as one timeline, composed from every app that holds part of it.

Each provider is a module with ``entries(client, *, viewer, export=False)`` and
``fhir_resources(client, *, viewer, export=True)`` (the contract in ``rapport.core.record``).
Adding a part of the record is one line in ``PROVIDERS``. Each provider reads with a fixed
number of queries, so the timeline's count does not grow with the record's length.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from types import ModuleType

from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from rapport.accounts.models import User
from rapport.core.record import RecordEntry
from rapport.diagnoses import record as diagnoses
from rapport.intake import record as intake
from rapport.measures import record as measures
from rapport.messaging import record as messaging
from rapport.notes import record as notes
from rapport.plans import record as plans
from rapport.scheduling import record as scheduling
from rapport.visits import record as visits

# Every part of the record, in no particular order (entries are sorted by time).
PROVIDERS: list[ModuleType] = [
    visits,
    notes,
    measures,
    intake,
    diagnoses,
    plans,
    scheduling,
    messaging,
]

# The kinds the filter offers, in the therapist's words; a kind not listed is still shown.
KINDS = {
    "session": _("Sessions"),
    "note": _("Notes"),
    "measure": _("Measures"),
    "alert": _("Safety alerts"),
    "plan": _("Treatment plans"),
    "diagnosis": _("Diagnoses"),
    "intake": _("Intake"),
    "consent": _("Consent"),
    "messages": _("Messages"),
}


def record_entries(
    client: User,
    *,
    viewer: User,
    export: bool = False,
    kinds: set[str] | None = None,
    since: date | None = None,
    until: date | None = None,
) -> list[RecordEntry]:
    """Every provider's entries for ``client``, newest first, narrowed to ``kinds`` and to the
    days from ``since`` to ``until`` (both included, in the current time zone)."""
    rows = [
        entry
        for provider in PROVIDERS
        for entry in provider.entries(client, viewer=viewer, export=export)
    ]
    zone = timezone.get_current_timezone()
    start = datetime.combine(since, time(), zone) if since else None
    end = datetime.combine(until, time(), zone) + timedelta(days=1) if until else None
    rows = [
        entry
        for entry in rows
        if (not kinds or entry.kind in kinds)
        and (start is None or entry.at >= start)
        and (end is None or entry.at < end)
    ]
    rows.sort(key=lambda entry: entry.at, reverse=True)
    return rows
