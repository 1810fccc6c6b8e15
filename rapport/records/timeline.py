"""The client's record as one timeline, composed from every app that holds part of it.

Each provider is a module with ``entries(client, *, viewer, export=False)`` and
``fhir_resources(client, *, viewer, export=True)`` (the contract in ``rapport.core.record``).
Adding a part of the record is one line in ``PROVIDERS``. Each provider reads with a fixed
number of queries, so the timeline's count does not grow with the record's length; a page of the
timeline (:func:`timeline_page`) asks each provider for that page's rows only, so its time does
not grow either.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from types import ModuleType

from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from rapport.accounts.models import User
from rapport.core.record import RecordEntry, Window
from rapport.diagnoses import record as diagnoses
from rapport.homework import record as homework
from rapport.intake import record as intake
from rapport.journal import record as journal
from rapport.measures import record as measures
from rapport.messaging import record as messaging
from rapport.notes import record as notes
from rapport.plans import record as plans
from rapport.safety import record as safety_plan
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
    safety_plan,
    scheduling,
    messaging,
    homework,
    journal,
]

# The kinds the filter offers, in the therapist's words; a kind not listed is still shown.
KINDS = {
    "session": _("Sessions"),
    "note": _("Notes"),
    "measure": _("Measures"),
    "alert": _("Safety alerts"),
    "plan": _("Treatment plans"),
    "safety_plan": _("Safety plans"),
    "diagnosis": _("Diagnoses"),
    "intake": _("Intake"),
    "consent": _("Consent"),
    "messages": _("Messages"),
    "homework": _("Homework"),
    "journal": _("Shared journal entries"),
}

# One entry's kind, as its row in the timeline names it.
KIND_WORDS = {
    "session": _("Session"),
    "note": _("Note"),
    "measure": _("Measure"),
    "alert": _("Safety alert"),
    "plan": _("Treatment plan"),
    "safety_plan": _("Safety plan"),
    "diagnosis": _("Diagnosis"),
    "intake": _("Intake"),
    "consent": _("Consent"),
    "messages": _("Messages"),
    "homework": _("Homework"),
    "journal": _("Shared journal entry"),
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
    return _entries(client, viewer=viewer, export=export, kinds=kinds, window=_days(since, until))


@dataclass(frozen=True)
class TimelinePage:
    """One page of the timeline, newest first; ``older`` is where the next page starts (the
    time of this page's last entry, the next page holding what is before it), ``None`` at the
    end of the record."""

    entries: list[RecordEntry]
    older: datetime | None


def timeline_page(
    client: User,
    *,
    viewer: User,
    size: int,
    before: datetime | None = None,
    kinds: set[str] | None = None,
    since: date | None = None,
    until: date | None = None,
) -> TimelinePage:
    """The newest ``size`` entries before ``before`` (filtered as :func:`record_entries`).

    Each provider reads at most ``size + 1`` rows per query, so a page costs the same however
    long the record is. Entries at the very same instant as the page's last one stay on this
    page (it may hold a few more than ``size``), so that none is skipped between two pages.
    """
    days = _days(since, until)
    end = min(filter(None, [days.end, before]), default=None)
    window = Window(start=days.start, end=end, limit=size + 1)
    rows = _entries(client, viewer=viewer, kinds=kinds, window=window)
    cut = size
    while cut < len(rows) and rows[cut].at == rows[cut - 1].at:
        cut += 1
    shown = rows[:cut]
    return TimelinePage(shown, shown[-1].at if cut < len(rows) else None)


def _days(since: date | None, until: date | None) -> Window:
    """The days from ``since`` to ``until`` (both included) in the current time zone."""
    zone = timezone.get_current_timezone()
    return Window(
        start=datetime.combine(since, time(), zone) if since else None,
        end=datetime.combine(until, time(), zone) + timedelta(days=1) if until else None,
    )


def _entries(
    client: User, *, viewer: User, export: bool = False, kinds: set[str] | None, window: Window
) -> list[RecordEntry]:
    rows = [
        entry
        for provider in PROVIDERS
        if not kinds or kinds & provider.KINDS
        for entry in provider.entries(client, viewer=viewer, export=export, window=window)
        if (not kinds or entry.kind in kinds) and window.holds(entry.at)
    ]
    rows.sort(key=lambda entry: entry.at, reverse=True)
    return rows
