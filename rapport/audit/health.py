"""The audit anchor's freshness, for ``/readyz`` (``rapport.core.health``).

The worker checkpoints the chain's head every ``RAPPORT_AUDIT_ANCHOR_SECONDS`` when it moved
(``rapport.audit.anchor``). The anchor is stale when an event has waited longer than two such
periods (and a minute's slack) without being covered by a checkpoint: no worker is
checkpointing, or the anchor file cannot be written. Only the file's tail is read: this runs on
every probe, and the file grows by a line per checkpoint for as long as the practice runs.
"""

from __future__ import annotations

import os
from datetime import timedelta

from django.conf import settings
from django.utils import timezone

from rapport.audit.anchor import anchor_path
from rapport.audit.models import AuditEvent
from rapport.audit.services import chain_key
from rapport.core.health import FAILING, OK, Status, readiness_check
from rapport.lib.hashchain import newest_checkpoint, read_checkpoints

TAIL_BYTES = 64 * 1024  # hundreds of checkpoint lines


def newest_anchored_sequence() -> int:
    """The sequence of the newest valid checkpoint at the end of the anchor file (0: none)."""
    try:
        with anchor_path().open("rb") as anchor:
            size = anchor.seek(0, os.SEEK_END)
            anchor.seek(max(0, size - TAIL_BYTES))
            tail = anchor.read().decode("utf-8", errors="replace")
    except FileNotFoundError:
        return 0
    # A line cut by the seek fails its HMAC and is left out like any damaged line.
    checkpoint = newest_checkpoint(read_checkpoints(tail.splitlines(), chain_key()))
    return checkpoint.sequence if checkpoint is not None else 0


def max_unanchored_seconds() -> int:
    return 2 * settings.RAPPORT_AUDIT_ANCHOR_SECONDS + 60


@readiness_check("audit_anchor")
def audit_anchor() -> Status:
    anchored = newest_anchored_sequence()
    first_unanchored = (
        AuditEvent.objects.filter(sequence__gt=anchored)
        .order_by("sequence")
        .values_list("occurred_at", flat=True)
        .first()
    )
    limit = max_unanchored_seconds()
    detail: dict[str, object] = {"anchored_sequence": anchored, "max_age_seconds": limit}
    if first_unanchored is None:
        return Status(OK, {**detail, "unanchored_age_seconds": 0})
    age = timezone.now() - first_unanchored
    detail["unanchored_age_seconds"] = round(age.total_seconds(), 1)
    return Status(FAILING if age > timedelta(seconds=limit) else OK, detail)
