"""The audit trail: hash chain, tamper detection, concurrency, admin filters, client view."""

from __future__ import annotations

import itertools
import json
import os
import re
import secrets
import sqlite3
import stat
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import time_machine
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection, connections

from rapport.accounts.models import User
from rapport.audit.models import AuditEvent, ChainHead
from rapport.audit.services import Action, record, verify_trail
from tests.conftest import signed_in

RAPPORT = str(Path(sys.executable).with_name("rapport"))


def _seed(count: int = 5) -> list[int]:
    return [
        record("test.event", actor_label=f"seed {n}", object_id=str(n)).sequence
        for n in range(count)
    ]


def _execute(sql: str, params: list[Any]) -> None:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


def _problems() -> list[tuple[int, str]]:
    return [(p.sequence, p.problem) for p in verify_trail().problems]


# --- Chain building and tamper detection ---------------------------------------------------------


def test_appending_builds_a_valid_chain(db: Any) -> None:
    sequences = _seed(5)
    assert sequences == list(range(sequences[0], sequences[0] + 5))
    result = verify_trail()
    assert result.ok, result.problems
    assert result.checked == AuditEvent.objects.count() >= 5
    head = ChainHead.objects.get(id=1)
    newest = AuditEvent.objects.order_by("-sequence").first()
    assert newest is not None
    assert (head.sequence, head.hash) == (newest.sequence, newest.hash)
    events = list(AuditEvent.objects.order_by("sequence"))
    for before, after in itertools.pairwise(events):
        assert after.previous_hash == before.hash


def test_edited_action_is_named(db: Any) -> None:
    sequences = _seed(5)
    target = sequences[2]
    _execute(
        "UPDATE audit_auditevent SET action = %s WHERE sequence = %s", ["auth.sign_in", target]
    )
    problems = _problems()
    assert problems, "an edited event went unnoticed"
    assert {seq for seq, _ in problems} == {target}
    assert "edited" in problems[0][1]


def test_edited_detail_is_named(db: Any) -> None:
    sequences = _seed(4)
    target = sequences[1]
    event = AuditEvent.objects.get(sequence=target)
    AuditEvent.objects.filter(pk=event.pk).update(detail={"object_id": "forged"})
    assert {seq for seq, _ in _problems()} == {target}


def test_deleted_middle_event_is_named(db: Any) -> None:
    sequences = _seed(5)
    deleted = sequences[2]
    _execute("DELETE FROM audit_auditevent WHERE sequence = %s", [deleted])
    problems = _problems()
    assert problems
    # The gap is reported at the event after it, naming the missing number.
    assert all(seq == deleted + 1 for seq, _ in problems)
    assert any(f"#{deleted}" in text and "missing" in text for _, text in problems)


def test_reordered_events_are_named(db: Any) -> None:
    sequences = _seed(5)
    first, second = sequences[1], sequences[3]
    parking = 10**9
    _execute("UPDATE audit_auditevent SET sequence = %s WHERE sequence = %s", [parking, first])
    _execute("UPDATE audit_auditevent SET sequence = %s WHERE sequence = %s", [first, second])
    _execute("UPDATE audit_auditevent SET sequence = %s WHERE sequence = %s", [second, parking])
    named = {seq for seq, _ in _problems()}
    assert first in named
    assert second in named


def test_deleted_last_event_is_caught_by_the_chain_head(db: Any) -> None:
    sequences = _seed(5)
    last = sequences[-1]
    _execute("DELETE FROM audit_auditevent WHERE sequence = %s", [last])
    problems = _problems()
    assert problems
    assert any(f"head says #{last}" in text for _, text in problems)
    # The remaining events on their own still link up: only the head reveals the deletion.
    assert all("edited" not in text for _, text in problems)


def test_verify_command_names_the_tampered_event(db: Any, capsys: Any) -> None:
    sequences = _seed(3)
    call_command("audit_verify")
    assert "intact" in capsys.readouterr().out
    _execute(
        "UPDATE audit_auditevent SET actor_label = %s WHERE sequence = %s", ["x", sequences[1]]
    )
    with pytest.raises(CommandError, match="tampered"):
        call_command("audit_verify")
    assert f"event #{sequences[1]}:" in capsys.readouterr().err


# --- `rapport audit verify` against a real, separate database -------------------------------------


def _base_env() -> dict[str, str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("RAPPORT_") and key not in {"DATABASE_URL", "REDIS_URL"}
    }
    env["RAPPORT_ENV"] = "demo"
    return env


@pytest.fixture
def cli_database(
    tmp_path: Path,
) -> Iterator[tuple[dict[str, str], Callable[[str, list[Any]], None]]]:
    """An environment for `rapport` subprocesses with its own empty database, and a raw writer."""
    env = _base_env()
    env["RAPPORT_DATA_DIR"] = str(tmp_path / "data")
    if connection.vendor != "postgresql":
        database = tmp_path / "data" / "rapport.sqlite3"

        def tamper(sql: str, params: list[Any]) -> None:
            with sqlite3.connect(database) as raw:
                raw.execute(sql.replace("%s", "?"), params)
            raw.close()

        yield env, tamper
        return

    import psycopg

    settings_dict = connection.settings_dict
    host = settings_dict["HOST"] or "127.0.0.1"
    port = settings_dict["PORT"] or "5432"
    name = f"rapport_hc_cli_{secrets.token_hex(4)}"
    admin_dsn = f"host={host} port={port} user=postgres dbname=postgres"
    with psycopg.connect(admin_dsn, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    env["DATABASE_URL"] = f"postgres://postgres@{host}:{port}/{name}"

    def tamper_pg(sql: str, params: list[Any]) -> None:
        with psycopg.connect(f"host={host} port={port} user=postgres dbname={name}") as raw:
            raw.execute(sql, params)

    try:
        yield env, tamper_pg
    finally:
        with psycopg.connect(admin_dsn, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _rapport(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [RAPPORT, *args], env=env, capture_output=True, text=True, timeout=180, check=False
    )


def test_cli_audit_verify_detects_tampering_on_disk(
    cli_database: tuple[dict[str, str], Callable[[str, list[Any]], None]],
) -> None:
    env, tamper = cli_database
    for args in (("manage", "migrate", "--no-input", "-v0"), ("manage", "seed_demo")):
        done = _rapport(env, *args)
        assert done.returncode == 0, done.stderr
    verified = _rapport(env, "audit", "verify")
    assert verified.returncode == 0, verified.stderr
    assert "intact" in verified.stdout
    assert not re.search(r"\b0 events", verified.stdout)  # seed_demo wrote events to check

    tamper("UPDATE audit_auditevent SET action = %s WHERE sequence = %s", ["auth.sign_in", 2])
    broken = _rapport(env, "audit", "verify")
    assert broken.returncode == 1
    assert "event #2:" in broken.stderr
    assert "edited" in broken.stderr
    assert "Traceback" not in broken.stderr


# --- Concurrency ---------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_concurrent_appends_keep_one_gapless_chain() -> None:
    threads_count, per_thread = 20, 3
    barrier = threading.Barrier(threads_count)
    errors: list[BaseException] = []

    def append(n: int) -> None:
        try:
            barrier.wait(timeout=30)
            for i in range(per_thread):
                record("test.concurrent", actor_label=f"thread {n}", thread=n, i=i)
        except BaseException as exc:
            errors.append(exc)
        finally:
            connections.close_all()

    workers = [threading.Thread(target=append, args=(n,)) for n in range(threads_count)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=120)
    assert not any(worker.is_alive() for worker in workers)
    assert not errors, errors

    result = verify_trail()
    assert result.ok, result.problems
    sequences = list(AuditEvent.objects.order_by("sequence").values_list("sequence", flat=True))
    assert sequences == list(range(1, len(sequences) + 1))
    assert AuditEvent.objects.filter(action="test.concurrent").count() == threads_count * per_thread
    assert ChainHead.objects.get(id=1).sequence == sequences[-1]


# --- Admin trail filters -------------------------------------------------------------------------


def _at(year: int, month: int, day: int, **kwargs: Any) -> AuditEvent:
    with time_machine.travel(datetime(year, month, day, 12, tzinfo=UTC), tick=False):
        return record(**kwargs)


def _listed(response: Any) -> list[int]:
    assert response.status_code == 200
    return [event.sequence for event in response.context["page"]]


def test_admin_filters_by_client_actor_and_dates(
    admin: User, client_a: User, client_b: User, therapist_x: User, therapist_y: User
) -> None:
    jan = _at(2024, 1, 10, action=Action.CLIENT_RECORD_VIEWED, actor=therapist_x, client=client_a)
    feb = _at(2024, 2, 15, action=Action.CLIENT_RECORD_VIEWED, actor=therapist_y, client=client_b)
    mar = _at(2024, 3, 20, action=Action.CLIENT_RECORD_CHANGED, actor=therapist_x, client=client_b)
    browser = signed_in(admin)

    assert _listed(browser.get("/practice/audit/", {"client": client_a.pk})) == [jan.sequence]
    assert _listed(browser.get("/practice/audit/", {"client": client_b.pk})) == [
        mar.sequence,
        feb.sequence,
    ]
    assert _listed(browser.get("/practice/audit/", {"actor": therapist_y.pk})) == [feb.sequence]
    assert _listed(browser.get("/practice/audit/", {"actor": therapist_x.pk})) == [
        mar.sequence,
        jan.sequence,
    ]
    by_dates = browser.get("/practice/audit/", {"since": "2024-02-01", "until": "2024-02-29"})
    assert _listed(by_dates) == [feb.sequence]
    one_day = browser.get("/practice/audit/", {"since": "2024-03-20", "until": "2024-03-20"})
    assert _listed(one_day) == [mar.sequence]
    combined = browser.get(
        "/practice/audit/",
        {"client": str(client_b.pk), "actor": str(therapist_x.pk), "since": "2024-01-01"},
    )
    assert _listed(combined) == [mar.sequence]
    by_action = browser.get("/practice/audit/", {"action": "client.record_changed"})
    assert _listed(by_action) == [mar.sequence]

    unfiltered = browser.get("/practice/audit/")
    assert unfiltered.status_code == 200
    assert unfiltered.context["page"].paginator.count >= 3


def test_admin_filter_rejects_an_inverted_or_bad_date_range(admin: User, client_a: User) -> None:
    _at(2024, 2, 15, action=Action.CLIENT_RECORD_VIEWED, actor=admin, client=client_a)
    browser = signed_in(admin)
    inverted = browser.get("/practice/audit/", {"since": "2024-03-01", "until": "2024-02-01"})
    assert inverted.status_code == 200
    assert inverted.context["form"].errors["until"]
    assert "The end date is before the start date." in inverted.content.decode()
    assert list(inverted.context["page"]) == []

    garbage = browser.get("/practice/audit/", {"since": "not-a-date", "client": "999999"})
    assert garbage.status_code == 200
    assert set(garbage.context["form"].errors) == {"since", "client"}


def test_audit_trail_is_for_admins_only(client_a: User, therapist_x: User) -> None:
    for user in (client_a, therapist_x):
        assert signed_in(user).get("/practice/audit/").status_code == 403


# --- What a client sees about their own record


def test_client_sees_who_opened_their_record_and_nothing_else(
    client_a: User, client_b: User, therapist_x: User, therapist_y: User, admin: User
) -> None:
    therapist_browser = signed_in(therapist_x)
    assert therapist_browser.get(f"/clients/{client_a.pk}/").status_code == 200
    assert signed_in(therapist_y).get(f"/clients/{client_b.pk}/").status_code == 200

    response = signed_in(client_a).get("/my-record/access/")
    assert response.status_code == 200
    page = response.content.decode()
    assert "Xena Therapist" in page
    assert "Opened your record" in page
    assert "Yuri Therapist" not in page
    shown = list(signed_in(client_a).get("/my-record/access/", {"full": "1"}).context["page"])
    assert shown, "the view by therapist_x is missing"
    assert all(event.client_id == client_a.pk for event in shown)
    assert any(
        event.actor_id == therapist_x.pk and event.action == Action.CLIENT_RECORD_VIEWED
        for event in shown
    )

    other = signed_in(client_b).get("/my-record/access/")
    assert "Yuri Therapist" in other.content.decode()
    assert "Xena Therapist" not in other.content.decode()

    assert therapist_browser.get("/my-record/access/").status_code == 403
    assert signed_in(admin).get("/my-record/access/").status_code == 403


# --- No free text in the trail


def test_audit_events_never_hold_record_contents(client_a: User, therapist_x: User) -> None:
    canary = f"canary-{secrets.token_hex(8)}"
    browser = signed_in(therapist_x)
    response = browser.post(
        f"/clients/{client_a.pk}/edit/",
        {
            "preferred_name": "Al",
            "phone": "555 0100",
            "emergency_contact": "Bea, sister",
            "intake_notes": f"Referred for low mood. {canary}",
        },
    )
    assert response.status_code == 302
    record_page = browser.get(f"/clients/{client_a.pk}/")
    assert canary in record_page.content.decode()

    changed = AuditEvent.objects.get(action=Action.CLIENT_RECORD_CHANGED, client=client_a)
    assert changed.actor_id == therapist_x.pk
    assert changed.detail == {
        "fields": ["emergency_contact", "intake_notes", "phone", "preferred_name"]
    }

    with connection.cursor() as cursor:
        cursor.execute("SELECT * FROM audit_auditevent")
        rows = cursor.fetchall()
        cursor.execute("SELECT * FROM audit_chainhead")
        rows += cursor.fetchall()
    assert len(rows) > 2
    for row in rows:
        for value in row:
            assert canary not in str(value), row
    for detail in AuditEvent.objects.values_list("detail", flat=True):
        assert canary not in repr(detail)


def test_a_rewritten_chain_without_the_key_is_detected(db: Any) -> None:
    """Someone with database access edits an event and recomputes every hash after it, but
    without the audit key: the forgery is still caught at the edited event."""
    from rapport.audit.models import ChainHead
    from rapport.lib.hashchain import GENESIS, link_hash

    sequences = _seed(4)
    target = sequences[1]
    forged_key = b"attacker does not know the real key"
    previous = GENESIS
    for event in AuditEvent.objects.order_by("sequence"):
        if event.sequence == target:
            event.action = "auth.sign_in"
        if event.sequence >= target:
            event.previous_hash = previous
            event.hash = link_hash(forged_key, previous, event.chain_content())
            _execute(
                "UPDATE audit_auditevent SET action = %s, previous_hash = %s, hash = %s "
                "WHERE sequence = %s",
                [event.action, event.previous_hash, event.hash, event.sequence],
            )
        previous = event.hash
    ChainHead.objects.filter(id=1).update(hash=previous)
    problems = _problems()
    assert problems, "a chain forged without the key passed verification"
    assert problems[0][0] == target


def test_the_chain_depends_on_the_audit_key(db: Any, settings: Any) -> None:
    _seed(3)
    assert verify_trail().ok
    settings.RAPPORT_AUDIT_KEY = "another key entirely, at least 32 characters long"
    assert len(verify_trail().problems) >= 3


# --- The chain anchored outside the database (rapport.audit.anchor) ------------------------------


def _events_verified(done: subprocess.CompletedProcess[str]) -> int:
    assert done.returncode == 0, done.stderr
    match = re.search(r"intact: (\d+) events", done.stdout)
    assert match is not None, done.stdout
    return int(match.group(1))


def _cut_tail(tamper: Callable[[str, list[Any]], None], keep: int) -> None:
    """What someone with the database (and no key) does: delete the newest events and move the
    chain head back to the last one kept, so that the chain still links up."""
    tamper("DELETE FROM audit_auditevent WHERE sequence > %s", [keep])
    tamper(
        "UPDATE audit_chainhead SET sequence = %s, "
        "hash = (SELECT hash FROM audit_auditevent WHERE sequence = %s) WHERE id = 1",
        [keep, keep],
    )


def test_cli_audit_verify_fails_when_the_tail_is_cut_or_the_trail_deleted(
    cli_database: tuple[dict[str, str], Callable[[str, list[Any]], None]],
) -> None:
    env, tamper = cli_database
    for args in (("manage", "migrate", "--no-input", "-v0"), ("manage", "seed_demo")):
        done = _rapport(env, *args)
        assert done.returncode == 0, done.stderr
    total = _events_verified(_rapport(env, "audit", "verify"))
    assert total > 5

    _cut_tail(tamper, keep=total - 3)
    cut = _rapport(env, "audit", "verify")
    assert cut.returncode == 1, cut.stdout
    assert f"the trail ends at #{total - 3} but was checkpointed at #{total}" in cut.stderr
    assert "Traceback" not in cut.stderr

    tamper("DELETE FROM audit_auditevent", [])
    tamper("UPDATE audit_chainhead SET sequence = 0, hash = %s WHERE id = 1", ["0" * 64])
    gone = _rapport(env, "audit", "verify")
    assert gone.returncode == 1, gone.stdout
    assert f"the trail is empty but was checkpointed at #{total}" in gone.stderr
    assert "intact" not in gone.stdout

    # The checkpoint is beside the data folder, not in it, private, and written once: a tampered
    # trail is never checkpointed.
    data = Path(env["RAPPORT_DATA_DIR"])
    anchor = data.with_name(data.name + ".audit-anchor")
    assert stat.S_IMODE(anchor.stat().st_mode) == 0o600
    [line] = anchor.read_text().splitlines()
    assert json.loads(line)["sequence"] == total


def test_the_worker_checkpoints_the_head_on_a_schedule(
    cli_database: tuple[dict[str, str], Callable[[str, list[Any]], None]], tmp_path: Path
) -> None:
    env, tamper = cli_database
    for args in (("manage", "migrate", "--no-input", "-v0"), ("manage", "seed_demo")):
        done = _rapport(env, *args)
        assert done.returncode == 0, done.stderr
    anchor = tmp_path / "elsewhere" / "rapport-anchor.log"
    env = {**env, "RAPPORT_AUDIT_ANCHOR": str(anchor), "RAPPORT_AUDIT_ANCHOR_SECONDS": "1"}
    worker = subprocess.Popen(
        [RAPPORT, "worker", "--interval", "0.5"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        first = _wait_for_checkpoints(anchor, 1)[-1]
        more = (
            "from rapport.audit.services import record; record('test.event'); record('test.event')"
        )
        done = _rapport(env, "manage", "shell", "-c", more)
        assert done.returncode == 0, done.stderr
        latest = _wait_for_checkpoints(anchor, 2)[-1]
        assert latest["sequence"] == first["sequence"] + 2
    finally:
        worker.terminate()
        _, errors = worker.communicate(timeout=30)
    assert "Traceback" not in errors, errors

    # Only the worker's checkpoints stand between the cut and a clean report.
    _cut_tail(tamper, keep=first["sequence"])
    cut = _rapport(env, "audit", "verify")
    assert cut.returncode == 1, cut.stdout
    assert f"checkpointed at #{latest['sequence']}" in cut.stderr


def _wait_for_checkpoints(anchor: Path, count: int) -> list[dict[str, Any]]:
    """The anchor file's checkpoints once it holds ``count`` (the worker writes every second)."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        lines = anchor.read_text().splitlines() if anchor.exists() else []
        if len(lines) >= count:
            return [json.loads(line) for line in lines]
        time.sleep(0.2)
    raise AssertionError(f"no {count} checkpoint(s) in {anchor} after 60 s")


def test_client_sees_who_looked_at_their_billing_and_downloaded_a_superbill(
    client_a: User, therapist_x: User, admin: User
) -> None:
    from rapport.billing.access import access_billing, access_superbill

    access_billing(therapist_x, client_a.pk, purpose="invoice")
    access_billing(therapist_x, client_a.pk, purpose="invoice")  # the same visit: one row
    access_superbill(therapist_x, client_a.pk)
    record(Action.SUPERBILL_DOWNLOADED, actor=therapist_x, obj=client_a, client=client_a)
    access_superbill(client_a, client_a.pk)  # the client's own: not "someone else"
    record(Action.SUPERBILL_DOWNLOADED, actor=client_a, obj=client_a, client=client_a)

    page = signed_in(client_a).get("/my-record/access/").content.decode()
    assert page.count("Opened one of your invoices") == 1
    assert "Opened your superbills" in page
    assert page.count("Downloaded a superbill of your sessions") == 1
    shown = list(signed_in(client_a).get("/my-record/access/", {"full": "1"}).context["page"])
    assert {e.actor_id for e in shown} == {therapist_x.pk}
