"""Keyed hash chain over an ordered list of records (the tamper-evident audit trail).

Each record's hash is an HMAC-SHA256, under a key the database never holds, of the previous
record's hash and its own canonical content. Editing, deleting or reordering any record breaks the
chain at that point, and someone who can write to the database cannot forge a consistent chain
without the key.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

GENESIS = "0" * 64


def canonical(content: Mapping[str, Any]) -> bytes:
    return json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def link_hash(key: bytes, previous_hash: str, content: Mapping[str, Any]) -> str:
    message = previous_hash.encode("ascii") + b"\n" + canonical(content)
    return hmac.new(key, message, hashlib.sha256).hexdigest()


def seal_hash(key: bytes, chain_hash: str, content: Mapping[str, Any]) -> str:
    """The seal of a record redacted after it was chained: its hash still links the chain, and
    this HMAC over that hash and its remaining content vouches for what is left."""
    message = b"redacted\n" + chain_hash.encode("ascii") + b"\n" + canonical(content)
    return hmac.new(key, message, hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class Link:
    sequence: int
    previous_hash: str
    hash: str
    content: Mapping[str, Any]
    seal: str = ""  # set for a redacted record: ``content`` is then checked against it


@dataclass(frozen=True)
class Break:
    sequence: int
    problem: str


def verify_chain(
    links: Iterable[Link],
    *,
    key: bytes,
    expected_count: int | None = None,
    expected_head: str | None = None,
) -> list[Break]:
    """Walk the chain in sequence order and name every place where it does not hold."""
    problems: list[Break] = []
    previous_hash = GENESIS
    expected_sequence = 1
    last_sequence = 0
    for link in links:
        if link.sequence != expected_sequence:
            problems.append(
                Break(
                    link.sequence, f"expected event #{expected_sequence} here; events are missing"
                )
            )
        if link.previous_hash != previous_hash:
            problems.append(
                Break(link.sequence, "does not follow the event before it (deleted or reordered)")
            )
        if link.seal:
            if not hmac.compare_digest(seal_hash(key, link.hash, link.content), link.seal):
                problems.append(Break(link.sequence, "redacted content does not match its seal"))
        elif not hmac.compare_digest(link_hash(key, link.previous_hash, link.content), link.hash):
            problems.append(Break(link.sequence, "content does not match its hash (edited)"))
        previous_hash = link.hash
        expected_sequence = link.sequence + 1
        last_sequence = link.sequence
    if expected_count is not None and last_sequence != expected_count:
        problems.append(
            Break(last_sequence + 1, f"chain ends at #{last_sequence}, head says #{expected_count}")
        )
    if expected_head is not None and previous_hash != expected_head:
        problems.append(Break(last_sequence, "last event is not the recorded head of the chain"))
    return problems


# --- Checkpoints: the chain's head, anchored outside the database --------------------------------


@dataclass(frozen=True)
class Checkpoint:
    """The chain's head at a moment: event ``sequence`` had hash ``hash``."""

    sequence: int
    hash: str
    at: str  # ISO 8601, UTC

    def mac(self, key: bytes) -> str:
        message = f"rapport audit checkpoint\n{self.sequence}\n{self.hash}\n{self.at}".encode()
        return hmac.new(key, message, hashlib.sha256).hexdigest()

    def line(self, key: bytes) -> str:
        """One line of the anchor file: the checkpoint and its HMAC, as JSON."""
        content = {"sequence": self.sequence, "hash": self.hash, "at": self.at}
        return canonical({**content, "mac": self.mac(key)}).decode() + "\n"


def read_checkpoints(lines: Iterable[str], key: bytes) -> list[Checkpoint]:
    """The checkpoints in ``lines`` whose HMAC holds under ``key``. Other lines (another
    installation's, damaged or forged ones) are left out: without the key no one can add one."""
    found = []
    for line in lines:
        try:
            data = json.loads(line)
            checkpoint = Checkpoint(int(data["sequence"]), str(data["hash"]), str(data["at"]))
            mac = str(data["mac"])
        except (ValueError, TypeError, KeyError):
            continue
        if hmac.compare_digest(checkpoint.mac(key), mac):
            found.append(checkpoint)
    return found


def newest_checkpoint(checkpoints: Iterable[Checkpoint]) -> Checkpoint | None:
    """The checkpoint furthest along the chain. The chain only grows, so an old line appended
    again (a replay) cannot stand in for a later one."""
    return max(checkpoints, key=lambda c: (c.sequence, c.at), default=None)


def compare_with_checkpoint(
    checkpoint: Checkpoint, last_sequence: int, hash_at_checkpoint: str | None
) -> list[Break]:
    """Problems of a trail that ends at ``last_sequence`` and whose event at the checkpoint's
    sequence has ``hash_at_checkpoint`` (None: no such event), against ``checkpoint``."""
    when = f"checkpointed at #{checkpoint.sequence} on {checkpoint.at}"
    if last_sequence == 0 and checkpoint.sequence > 0:
        return [Break(checkpoint.sequence, f"the trail is empty but was {when}: deleted")]
    if hash_at_checkpoint is None:
        return [
            Break(
                checkpoint.sequence,
                f"the trail ends at #{last_sequence} but was {when}: newest events deleted",
            )
        ]
    if not hmac.compare_digest(hash_at_checkpoint, checkpoint.hash):
        return [Break(checkpoint.sequence, f"differs from the trail as {when}: rewritten")]
    return []
