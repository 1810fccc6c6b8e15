"""The audit chain's head checkpointed outside the database (``rapport.audit.anchor``): what
``audit verify`` writes, what it compares with, and what cannot fool it. The runs of the real
``rapport`` command and worker are in ``tests/test_audit.py``."""

from __future__ import annotations

import json
import os
import socket
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import CommandError

from rapport.audit.models import AuditEvent, ChainHead
from rapport.audit.services import record


def _seed(count: int) -> int:
    return [record("test.event", object_id=str(n)).sequence for n in range(count)][-1]


def _verify(capsys: Any) -> str:
    call_command("audit_verify")
    out: str = capsys.readouterr().out
    return out


def _cut_tail(keep: int) -> None:
    AuditEvent.objects.filter(sequence__gt=keep).delete()
    kept = AuditEvent.objects.get(sequence=keep)
    ChainHead.objects.filter(id=1).update(sequence=kept.sequence, hash=kept.hash)


def _checkpoints() -> list[dict[str, Any]]:
    return [
        json.loads(line) for line in Path(settings.RAPPORT_AUDIT_ANCHOR).read_text().splitlines()
    ]


def test_verify_appends_a_private_checkpoint_of_the_head(db: None, capsys: Any) -> None:
    last = _seed(3)
    assert f"Checkpoint #{last} appended" in _verify(capsys)
    anchor = Path(settings.RAPPORT_AUDIT_ANCHOR)
    assert stat.S_IMODE(anchor.stat().st_mode) == 0o600
    last = _seed(2)
    assert "matches the checkpoint" in _verify(capsys)
    assert [c["sequence"] for c in _checkpoints()] == [last - 2, last]
    assert _checkpoints()[-1]["hash"] == ChainHead.objects.get(id=1).hash


def test_cutting_the_tail_and_rewinding_the_head_fails_verify(db: None, capsys: Any) -> None:
    last = _seed(6)
    _verify(capsys)
    _cut_tail(keep=last - 2)
    with pytest.raises(CommandError, match="tampered"):
        call_command("audit_verify")
    assert f"ends at #{last - 2} but was checkpointed at #{last}" in capsys.readouterr().err
    assert len(_checkpoints()) == 1, "a cut trail must not be checkpointed"


def test_deleting_every_event_fails_verify(db: None, capsys: Any) -> None:
    last = _seed(4)
    _verify(capsys)
    AuditEvent.objects.all().delete()
    ChainHead.objects.filter(id=1).update(sequence=0, hash="0" * 64)
    with pytest.raises(CommandError, match="tampered"):
        call_command("audit_verify")
    assert f"the trail is empty but was checkpointed at #{last}" in capsys.readouterr().err


def test_an_old_checkpoint_appended_again_does_not_hide_a_cut(db: None, capsys: Any) -> None:
    first = _seed(3)
    _verify(capsys)
    last = _seed(3)
    _verify(capsys)
    anchor = Path(settings.RAPPORT_AUDIT_ANCHOR)
    old_line = anchor.read_text().splitlines()[0]
    with anchor.open("a") as out:  # someone who may append replays the first checkpoint
        out.write(old_line + "\n")
    _cut_tail(keep=first)
    with pytest.raises(CommandError):
        call_command("audit_verify")
    assert f"checkpointed at #{last}" in capsys.readouterr().err


def test_a_checkpoint_forged_without_the_key_is_not_believed(db: None, capsys: Any) -> None:
    last = _seed(5)
    _verify(capsys)
    _cut_tail(keep=last - 3)
    kept = ChainHead.objects.get(id=1)
    forged = {"sequence": kept.sequence + 10, "hash": kept.hash, "at": "2999-01-01T00:00:00+00:00"}
    with Path(settings.RAPPORT_AUDIT_ANCHOR).open("a") as out:
        out.write(json.dumps({**forged, "mac": "0" * 64}) + "\n")
    with pytest.raises(CommandError):
        call_command("audit_verify")
    assert f"checkpointed at #{last}" in capsys.readouterr().err


def test_an_anchor_that_cannot_be_written_is_an_error_not_a_pass(
    db: None, settings: Any, tmp_path: Path
) -> None:
    _seed(2)
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o500)
    settings.RAPPORT_AUDIT_ANCHOR = locked / "anchor"
    if os.geteuid() == 0:  # root writes through modes: point it at a folder that cannot exist
        settings.RAPPORT_AUDIT_ANCHOR = Path("/proc/rapport-anchor")
    with pytest.raises(CommandError, match="cannot append to the audit anchor"):
        call_command("audit_verify")


@pytest.fixture
def syslog_server() -> Iterator[socket.socket]:
    """A real UDP syslog receiver on a free local port."""
    server = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    server.bind(("127.0.0.1", 0))
    server.settimeout(10)
    try:
        yield server
    finally:
        server.close()


def test_each_checkpoint_also_goes_to_syslog_when_set(
    db: None, settings: Any, capsys: Any, syslog_server: socket.socket
) -> None:
    host, port = syslog_server.getsockname()
    settings.RAPPORT_AUDIT_ANCHOR_SYSLOG = f"{host}:{port}"
    last = _seed(2)
    _verify(capsys)
    message = syslog_server.recv(4096).decode()
    assert "rapport audit checkpoint" in message
    assert f'"sequence":{last}' in message
