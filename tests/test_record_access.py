""" "Who saw my record": repeated reads in one visit are one row that says what was looked at;
the full view keeps one row per access."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import time_machine
from django.test import Client

from rapport.accounts.models import User
from rapport.audit.models import AuditEvent
from rapport.audit.services import Action, record
from rapport.care.models import EmergencyAccess
from tests.conftest import signed_in

START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def _rows(response: Any) -> list[str]:
    """The table's rows as a person reads them, newest first."""
    assert response.status_code == 200
    body = response.content.decode()
    tbody = re.search(r"<tbody>(.*?)</tbody>", body, re.S)
    assert tbody is not None
    rows = re.findall(r"<tr>(.*?)</tr>", tbody.group(1), re.S)
    return [" ".join(re.sub(r"<[^>]+>", " ", row).split()) for row in rows]


def _read_at(browser: Client, moment: datetime, path: str) -> None:
    with time_machine.travel(moment, tick=False):
        assert browser.get(path).status_code == 200, path


def test_repeated_reads_in_one_visit_are_one_row_saying_what_was_read(
    client_a: User, therapist_x: User
) -> None:
    therapist = signed_in(therapist_x)
    record_page, progress = f"/clients/{client_a.pk}/", f"/clients/{client_a.pk}/progress/"
    # Twenty minutes of work: the record opened 12 times, the progress 5 times, interleaved.
    for minute in range(0, 20):
        if minute < 12:
            _read_at(therapist, START + timedelta(minutes=minute), record_page)
        if minute % 4 == 0:
            _read_at(therapist, START + timedelta(minutes=minute, seconds=30), progress)
    # Back the next morning: a new visit.
    _read_at(therapist, START + timedelta(days=1), record_page)
    reads = AuditEvent.objects.filter(action=Action.CLIENT_RECORD_VIEWED, client=client_a)
    assert reads.count() == 18

    rows = _rows(signed_in(client_a).get("/my-record/access/"))
    reads_shown = [row for row in rows if "Xena Therapist" in row and "Opened" in row]
    assert len(reads_shown) == 3, rows
    next_day, progress_row, record_row = reads_shown
    assert "Opened your record" in next_day and "times" not in next_day
    assert "Opened your progress" in progress_row and "5 times" in progress_row
    assert "Opened your record" in record_row and "12 times" in record_row
    assert "09:00" in record_row and "09:11" in record_row

    full = _rows(signed_in(client_a).get("/my-record/access/", {"full": "1"}))
    assert len([row for row in full if "Xena Therapist" in row and "Opened" in row]) == 18
    assert sum("Opened your progress" in row for row in full) == 5


def test_reads_further_apart_than_the_visit_window_are_separate_rows(
    client_a: User, therapist_x: User
) -> None:
    therapist = signed_in(therapist_x)
    for minutes in (0, 25, 80):  # 25 minutes apart: one visit; then 55 minutes later: another
        _read_at(therapist, START + timedelta(minutes=minutes), f"/clients/{client_a.pk}/")
    rows = _rows(signed_in(client_a).get("/my-record/access/"))
    opened = [row for row in rows if "Opened your record" in row]
    assert len(opened) == 2, rows
    assert "2 times" in opened[1]


def test_each_kind_of_read_says_what_was_looked_at(client_a: User, therapist_x: User) -> None:
    purposes = {
        "view": "Opened your record",
        "measures_progress": "Opened your progress",
        "measure_response": "Opened your answers to a questionnaire",
        "messages": "Read your messages",
        "checkin": "Opened your safety check-in",
        "fhir_export": "Exported your questionnaire results",
        "some_new_page": "Opened your record (some new page)",
    }
    for purpose in purposes:
        record(
            Action.CLIENT_RECORD_VIEWED,
            actor=therapist_x,
            obj=client_a,
            client=client_a,
            purpose=purpose,
            via="care",
        )
    rows = _rows(signed_in(client_a).get("/my-record/access/"))
    for purpose, label in purposes.items():
        assert any(label in row for row in rows), (purpose, rows)
    assert not any("client.record_viewed" in row or "_" in row for row in rows), rows


def test_emergency_reads_are_never_folded_into_ordinary_ones(
    client_a: User, therapist_x: User, admin: User
) -> None:
    with time_machine.travel(START, tick=False):
        EmergencyAccess.objects.create(
            admin=admin, client=client_a, reason="x" * 20, expires_at=START + timedelta(hours=1)
        )
    _read_at(signed_in(therapist_x), START, f"/clients/{client_a.pk}/")
    _read_at(signed_in(admin), START + timedelta(minutes=1), f"/clients/{client_a.pk}/")
    _read_at(signed_in(admin), START + timedelta(minutes=2), f"/clients/{client_a.pk}/")
    rows = _rows(signed_in(client_a).get("/my-record/access/"))
    by_admin = [row for row in rows if "Ada Admin" in row]
    assert len(by_admin) == 1 and "emergency access" in by_admin[0] and "2 times" in by_admin[0]


def test_the_grouped_page_reads_the_trail_once(
    client_a: User, therapist_x: User, django_assert_max_num_queries: Any
) -> None:
    for _ in range(30):
        record(Action.CLIENT_RECORD_VIEWED, actor=therapist_x, client=client_a, purpose="view")
    browser = signed_in(client_a)
    browser.get("/my-record/access/")  # the session's first request warms what it caches
    with django_assert_max_num_queries(8):
        assert browser.get("/my-record/access/").status_code == 200
