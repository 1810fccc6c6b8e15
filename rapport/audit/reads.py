""" "Who saw my record" as a client reads it: one row per visit of one person to one part of the
record, saying what they looked at, instead of one row per page load.

A visit is a run of reads by the same person of the same thing (the ``purpose`` the accessor
recorded: record, progress, answers, messages, check-in, export...) under the same kind of access,
each less than ``VISIT_GAP`` after the one before: 30 minutes without a read ends a visit, as a
web analytics "visit" ends. Emergency access is never folded into ordinary care. Every other event
(a change, care starting or ending, emergency access granted) is a row of its own, and the full
view shows one row per access.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from rapport.accounts.models import User
from rapport.audit.labels import client_label
from rapport.audit.models import AuditEvent
from rapport.audit.services import Action

VISIT_GAP = timedelta(minutes=30)


@dataclass
class AccessRow:
    """One row of "Who saw my record": one event, or a visit's reads of one thing."""

    actor: User | None
    actor_label: str
    what: str
    is_read: bool
    emergency: bool  # emergency access granted, or a read under it
    first_at: datetime
    last_at: datetime
    newest_sequence: int
    count: int = 1
    events: list[AuditEvent] = field(default_factory=list, repr=False)
    # Set by the view: when an admin started the care this read happened under (7 days).
    care_started_by_admin_at: datetime | None = None

    @property
    def spans_time(self) -> bool:
        return self.count > 1


# Reads: grouped into visits. A read of the client's billing is one too.
READS = {Action.CLIENT_RECORD_VIEWED, Action.BILLING_VIEWED}
VisitKey = tuple[int | None, str, str, str, str]


def _key(event: AuditEvent) -> VisitKey | None:
    """What makes reads the same visit; None for an event that is a row of its own."""
    if event.action not in READS:
        return None
    detail = event.detail if isinstance(event.detail, dict) else {}
    return (
        event.actor_id,
        event.actor_label,
        event.action,
        str(detail.get("purpose", "")),
        str(detail.get("via", "")),
    )


def _row(event: AuditEvent) -> AccessRow:
    detail = event.detail if isinstance(event.detail, dict) else {}
    return AccessRow(
        actor=event.actor,
        actor_label=event.actor_label,
        what=client_label(
            event.action, str(detail.get("purpose", "")), str(detail.get("format", ""))
        ),
        is_read=event.action in READS,
        emergency=event.action == Action.EMERGENCY_ACCESS or detail.get("via") == "emergency",
        first_at=event.occurred_at,
        last_at=event.occurred_at,
        newest_sequence=event.sequence,
        events=[event],
    )


def one_row_each(events: Iterable[AuditEvent]) -> list[AccessRow]:
    """The full view: a row per access, in the order given."""
    return [_row(event) for event in events]


def grouped_by_visit(events: Iterable[AuditEvent]) -> list[AccessRow]:
    """Rows for ``events`` (any order), reads grouped by visit, newest row first."""
    rows: list[AccessRow] = []
    open_visits: dict[VisitKey, AccessRow] = {}
    for event in sorted(events, key=lambda e: e.sequence):
        key = _key(event)
        visit = open_visits.get(key) if key is not None else None
        if visit is not None and event.occurred_at - visit.last_at < VISIT_GAP:
            visit.count += 1
            visit.last_at = event.occurred_at
            visit.newest_sequence = event.sequence
            visit.events.append(event)
            continue
        row = _row(event)
        rows.append(row)
        if key is not None:
            open_visits[key] = row
    return sorted(rows, key=lambda row: row.newest_sequence, reverse=True)
