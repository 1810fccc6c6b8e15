"""The audit chain anchored outside the database.

The chain catches an edited or deleted event in the middle, but someone who can write to the
database can delete the newest events and move ``ChainHead`` back to match. So the head (its
sequence and hash, with an HMAC under the audit key) is checkpointed to a file outside the data
folder, opened append-only: by the worker on a schedule and by every ``rapport audit verify``,
which first compares the trail with the furthest checkpoint and fails on a trail that is shorter,
empty, or different at that point. Optionally each checkpoint also goes to syslog.
"""

from __future__ import annotations

import logging
import logging.handlers
import os
from datetime import UTC, datetime
from pathlib import Path

from django.conf import settings

from rapport.audit.models import AuditEvent, ChainHead
from rapport.audit.services import chain_key
from rapport.lib.hashchain import (
    Break,
    Checkpoint,
    compare_with_checkpoint,
    newest_checkpoint,
    read_checkpoints,
)

log = logging.getLogger("rapport.audit.anchor")


class AnchorError(OSError):
    """The anchor file cannot be read or written."""


def anchor_path() -> Path:
    return Path(settings.RAPPORT_AUDIT_ANCHOR)


def current_head() -> Checkpoint | None:
    """The chain's head now, or None while the trail is empty."""
    head = ChainHead.objects.filter(id=1).first()
    if head is None or head.sequence == 0:
        return None
    return Checkpoint(head.sequence, head.hash, datetime.now(UTC).isoformat(timespec="seconds"))


def write_checkpoint(checkpoint: Checkpoint) -> None:
    """Append ``checkpoint`` to the anchor file (created 0600) and send it to syslog if set."""
    line = checkpoint.line(chain_key())
    path = anchor_path()
    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        descriptor = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            os.write(descriptor, line.encode())  # one write of one short line: never interleaved
            os.fsync(descriptor)
        finally:
            os.close(descriptor)
    except OSError as exc:
        raise AnchorError(f"cannot append to the audit anchor {path}: {exc.strerror}") from exc
    if settings.RAPPORT_AUDIT_ANCHOR_SYSLOG:
        _to_syslog(settings.RAPPORT_AUDIT_ANCHOR_SYSLOG, line)


def _to_syslog(address: str, line: str) -> None:
    host, colon, port = address.rpartition(":")
    target: str | tuple[str, int] = (host, int(port)) if colon and port.isdigit() else address
    handler = logging.handlers.SysLogHandler(
        address=target, facility=logging.handlers.SysLogHandler.LOG_AUTHPRIV
    )
    try:
        record = logging.LogRecord(
            "rapport",
            logging.INFO,
            __file__,
            0,
            "rapport audit checkpoint %s",
            (line.strip(),),
            None,
        )
        handler.emit(record)
    finally:
        handler.close()


def checkpoint_now() -> Checkpoint | None:
    """Checkpoint the head as it is now; None (and nothing written) while the trail is empty."""
    checkpoint = current_head()
    if checkpoint is not None:
        write_checkpoint(checkpoint)
    return checkpoint


def checkpoint_if_moved(previous: Checkpoint | None) -> Checkpoint | None:
    """The worker's schedule: checkpoint the head unless it is where ``previous`` left it."""
    head = current_head()
    if head is None or (
        previous is not None and (head.sequence, head.hash) == (previous.sequence, previous.hash)
    ):
        return previous
    write_checkpoint(head)
    return head


def furthest_checkpoint() -> Checkpoint | None:
    path = anchor_path()
    try:
        with path.open(encoding="utf-8", errors="replace") as lines:
            return newest_checkpoint(read_checkpoints(lines, chain_key()))
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise AnchorError(f"cannot read the audit anchor {path}: {exc.strerror}") from exc


def check_against_anchor() -> tuple[Checkpoint | None, list[Break]]:
    """The furthest checkpoint, and how the trail in the database falls short of it."""
    checkpoint = furthest_checkpoint()
    if checkpoint is None:
        return None, []
    last = AuditEvent.objects.order_by("-sequence").values_list("sequence", flat=True).first()
    at_checkpoint = (
        AuditEvent.objects.filter(sequence=checkpoint.sequence)
        .values_list("hash", flat=True)
        .first()
    )
    return checkpoint, compare_with_checkpoint(checkpoint, last or 0, at_checkpoint)
