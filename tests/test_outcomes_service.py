"""The service page's figures: attendance, technical health and feedback by modality, at the
boundaries of their rules; small cells suppressed (the subtraction case too); the page, its
audit, its PDF summary."""

from __future__ import annotations

import io
import math
import random
import statistics
from datetime import UTC, datetime, timedelta

import pytest
from django.urls import reverse
from django.utils import timezone
from pypdf import PdfReader
from time_machine import TimeMachineFixture

from rapport.accounts.models import Practice, User
from rapport.audit.models import AuditEvent
from rapport.audit.services import Action
from rapport.care.models import CareRelationship
from rapport.lib.statistics import Z_95, suppress
from rapport.measures.instruments import definition_of, feedback_instrument
from rapport.measures.models import MeasureTask
from rapport.outcomes.access import OutcomesScope
from rapport.outcomes.models import EpisodeOutcome, SessionOutcome
from rapport.outcomes.service_quality import (
    COMPLETED,
    FAIR,
    GOOD,
    LATE_CANCELLED,
    NO_SHOW,
    NOT_RECORDED,
    POOR,
    Group,
    Moments,
    Table,
    attendance_class,
    attendance_table,
    build_table,
    mean_interval,
    mean_rows,
    network_class,
    normalised_feedback,
    service_quality,
    session_technical,
)
from rapport.scheduling.changes import cancel_appointment
from rapport.scheduling.models import AppointmentStatus
from rapport.visits.models import EventKind, Visit, VisitEvent
from rapport.visits.signals import visit_ended
from tests.conftest import signed_in
from tests.measures_data import answers_near, response
from tests.outcomes_data import ended_session
from tests.scheduling_data import direct_appointment, therapist_with_hours
from tests.service_data import booking, clients_of, held_session


@pytest.mark.parametrize(
    ("status", "late", "expected"),
    [
        (AppointmentStatus.COMPLETED, False, COMPLETED),
        (AppointmentStatus.NO_SHOW, False, NO_SHOW),
        (AppointmentStatus.CANCELLED, True, LATE_CANCELLED),
        (AppointmentStatus.CANCELLED, False, None),  # in good time: not an attendance failure
        (AppointmentStatus.CONFIRMED, False, NOT_RECORDED),
        (AppointmentStatus.IN_PROGRESS, False, NOT_RECORDED),
        (AppointmentStatus.REQUESTED, False, NOT_RECORDED),
    ],
)
def test_attendance_class(status: str, late: bool, expected: str | None) -> None:
    assert attendance_class(status, late) == expected


@pytest.mark.parametrize(
    ("poor", "sessions", "expected"),
    [
        (0, 1, GOOD),
        (0, 40, GOOD),
        (9, 100, GOOD),  # just under a tenth
        (1, 10, FAIR),  # exactly a tenth
        (49, 100, FAIR),  # just under a half
        (1, 2, POOR),  # exactly a half
        (5, 5, POOR),
    ],
)
def test_network_class_boundaries(poor: int, sessions: int, expected: str) -> None:
    assert network_class(poor, sessions) == expected


@pytest.mark.parametrize(("poor", "sessions"), [(0, 0), (-1, 3), (4, 3)])
def test_network_class_refuses_impossible_counts(poor: int, sessions: int) -> None:
    with pytest.raises(ValueError, match="between"):
        network_class(poor, sessions)


@pytest.mark.parametrize(
    ("total", "low", "high", "worse", "expected"),
    [
        (0, 0, 20, False, 0.0),
        (20, 0, 20, False, 100.0),
        (5, 0, 20, False, 25.0),
        (5, 0, 20, True, 75.0),
    ],
)
def test_normalised_feedback(total: int, low: int, high: int, worse: bool, expected: float) -> None:
    assert normalised_feedback(total, low, high, worse) == expected


def _visit(client_id: int = 7) -> Visit:
    start = timezone.now() - timedelta(hours=2)
    return Visit(
        pk=1,
        client_id=client_id,
        therapist_id=8,
        planned_modality="video",
        modality="video",
        started_at=start,
        ended_at=start + timedelta(minutes=50),
    )


def _line(visit: Visit, minute: int, kind: str, **fields: object) -> VisitEvent:
    assert visit.started_at is not None
    return VisitEvent(
        visit=visit, at=visit.started_at + timedelta(minutes=minute), kind=kind, **fields
    )


def test_session_technical_at_its_boundaries() -> None:
    visit = _visit()
    nothing = session_technical(7, [])
    assert (nothing.step_down, nothing.reconnects, nothing.minutes_lost, nothing.client_poor) == (
        False,
        0,
        0.0,
        False,
    )
    # A switch the person chose is no step down; one because of the connection is.
    chosen = _line(visit, 5, EventKind.MODALITY, modality="audio", reason="choice")
    forced = _line(visit, 6, EventKind.MODALITY, modality="audio", reason="connection")
    assert session_technical(7, [chosen]).step_down is False
    assert session_technical(7, [forced]).step_down is True
    # Both pages report the same blackout: the minutes lost are their union, not their sum.
    a = _line(visit, 10, EventKind.RECONNECTED, seconds=60.0, actor_id=7)
    b = _line(visit, 10, EventKind.RECONNECTED, seconds=30.0, actor_id=8)
    apart = _line(visit, 30, EventKind.RECONNECTED, seconds=60.0, actor_id=7)
    facts = session_technical(7, [a, b, apart])
    assert facts.reconnects == 3
    assert facts.minutes_lost == 2.0
    # Only the client's own page says what the client's network is like.
    by_therapist = _line(visit, 3, EventKind.QUALITY_POOR, actor_id=8)
    by_client = _line(visit, 3, EventKind.QUALITY_POOR, actor_id=7)
    assert session_technical(7, [by_therapist]).client_poor is False
    assert session_technical(7, [by_client]).client_poor is True


def _group(counts: list[int], clients_per_cell: list[int], start: int) -> Group:
    """A row whose cells have these counts, each from that many distinct clients."""
    cells = []
    next_id = start
    for people in clients_per_cell:
        cells.append(set(range(next_id, next_id + people)))
        next_id += people
    return Group(list(counts), cells, set().union(*cells), [0.0])


def _assert_no_lone_hidden(table: Table) -> None:
    """No row or column sum has exactly one hidden member: nothing is found by subtraction."""
    for row in table.rows:
        members = [row.hidden] + [c.hidden for c in row.cells]
        assert sum(members) != 1, row
    for j in range(len(table.columns)):
        members = [row.cells[j].hidden for row in table.rows]
        assert sum(members) != 1, table.columns[j]
    totals = [row.hidden for row in table.rows]
    assert sum(totals) != 1


ORDER = [("video", "Video"), ("audio", "Audio only"), ("text", "Live text")]


def test_a_row_of_too_few_clients_is_hidden_and_cannot_be_subtracted() -> None:
    groups = {
        "video": _group([40, 12], [20, 10], 0),
        "audio": _group([30, 11], [15, 10], 100),
        "text": _group([6, 2], [3, 1], 200),  # four clients in all: hidden
    }
    table = build_table(groups, ORDER, ["a", "b"], ["m"], 10, "All")
    text = next(r for r in table.rows if r.key == "text")
    assert text.hidden and all(c.hidden for c in text.cells) and text.means == [None]
    every = table.rows[-1]
    # With text hidden, one more row is hidden so that text is not "All minus the others".
    assert sum(r.hidden for r in table.rows[:-1]) >= 2 or every.hidden
    _assert_no_lone_hidden(table)


def test_a_cell_of_too_few_clients_is_hidden_with_a_complement() -> None:
    groups = {
        "video": _group([50, 3, 20], [25, 3, 12], 0),  # the middle cell: three clients
        "audio": _group([40, 15, 20], [20, 11, 10], 100),
    }
    table = build_table(groups, ORDER, ["a", "b", "c"], ["m"], 10, "All")
    video = table.rows[0]
    assert video.cells[1].hidden
    assert not video.hidden  # the row itself has enough clients
    _assert_no_lone_hidden(table)
    shown = [c for r in table.rows for c in r.cells if not c.hidden]
    for c in shown:
        assert c.low is not None and c.high is not None and c.percent is not None
        assert c.low <= c.percent <= c.high


def test_a_count_over_the_threshold_from_too_few_clients_is_hidden() -> None:
    """Thirty sessions of two clients are still two clients."""
    groups = {"video": _group([30, 30], [2, 12], 0), "audio": _group([30, 30], [12, 12], 100)}
    table = build_table(groups, ORDER, ["a", "b"], ["m"], 10, "All")
    assert table.rows[0].cells[0].hidden
    _assert_no_lone_hidden(table)


def test_nothing_hidden_when_every_group_is_large() -> None:
    groups = {"video": _group([30, 30], [12, 12], 0), "audio": _group([30, 30], [12, 12], 100)}
    table = build_table(groups, ORDER, ["a", "b"], ["m"], 10, "All")
    assert not table.any_hidden
    assert table.rows[-1].total == 120
    assert table.rows[0].cells[0].percent == 50.0


def test_suppress_takes_more_cells_to_hide() -> None:
    table = suppress([[20, 20], [20, 20]], 10, hide=[[True, False, False]] + [[False] * 3] * 2)
    assert table.shown(0, 0) is None
    hidden = sum(table.hidden[i][j] for i in range(3) for j in range(3))
    assert hidden >= 4  # its row and its column each need a second hidden member
    with pytest.raises(ValueError, match="shape"):
        suppress([[20, 20]], 10, hide=[[True, False]])


@pytest.mark.parametrize(
    "values",
    [[50.0], [0.0, 100.0], [72.5, 80.0, 91.25, 64.0, 100.0], [33.3] * 7, [0.0] * 3 + [100.0]],
)
def test_the_interval_from_added_up_values_is_the_one_from_the_values(values: list[float]) -> None:
    """The database adds up count, sum and squares; the mean and interval are those of the
    values themselves (statistics.fmean and stdev), also when the values come in parts."""
    mean = statistics.fmean(values)
    half = 0.0 if len(values) < 2 else Z_95 * statistics.stdev(values) / math.sqrt(len(values))
    parts = Moments.of(*values[:2]) + Moments.of(*values[2:])
    got = mean_interval(parts)
    assert got == pytest.approx((mean, mean - half, mean + half), abs=1e-9)


def test_mean_rows_hide_small_groups_and_their_complement() -> None:
    values = {
        "video": [(n, Moments.of(80.0)) for n in range(12)],
        "audio": [(100 + n, Moments.of(70.0)) for n in range(11)],
        "text": [(200 + n, Moments.of(60.0)) for n in range(3)],
    }
    rows = mean_rows(values, ORDER, 10, "All")
    by_key = {r.key: r for r in rows}
    assert by_key["text"].mean is None
    assert by_key["audio"].mean is None or by_key["all"].mean is None  # no subtraction
    assert sum(r.clients is None for r in rows) >= 2


# The figures from the database ----------------------------------------------------------------


@pytest.fixture
def practice_of_five(db: None) -> Practice:
    practice = Practice.get()
    practice.outcomes_suppression_threshold = 5
    practice.save(update_fields=["outcomes_suppression_threshold"])
    return practice


def test_service_figures_from_the_record(practice_of_five: Practice, therapist_y: User) -> None:
    therapist, session_type = therapist_with_hours("svc.t@example.test")
    people = clients_of(therapist, 6, "svc.c")
    at = timezone.now() - timedelta(days=30)
    for n, client in enumerate(people):
        booking(session_type, client, at + timedelta(days=n))
        booking(
            session_type, client, at + timedelta(days=n, hours=3), status=AppointmentStatus.NO_SHOW
        )
        booking(
            session_type,
            client,
            at + timedelta(days=n, hours=6),
            status=AppointmentStatus.CANCELLED,
        )
        held_session(
            therapist,
            client,
            at + timedelta(days=n),
            step_down=n < 3,
            reconnect_seconds=[30.0] if n < 3 else [],
            client_poor=n < 3,
            feedback_share=0.9,
        )
    scope = OutcomesScope(therapist=therapist, by_therapist=False)
    figures = service_quality(scope, practice_of_five)
    video = figures.attendance.rows[0]
    assert video.key == "video"
    # Six completed, six no-shows; the six cancelled in good time are left out.
    assert video.total == 12
    assert video.cells[0].count == 6 and video.cells[0].percent == 50.0
    assert video.cells[2].count == 6
    tech = figures.technical_by_modality.rows[0]
    assert tech.total == 6
    # Three sessions with a step down, of three clients: under five, hidden with its complement.
    assert tech.cells[0].hidden and tech.cells[1].hidden
    assert tech.means == [0.5, 0.25]  # 3 reconnects and 1.5 minutes lost over 6 sessions
    network = {r.key: r for r in figures.technical_by_network.rows}
    assert network["poor"].hidden and network["good"].hidden  # three clients each
    feedback = figures.feedback_by_modality[0]
    assert feedback.clients == 6 and feedback.mean is not None and feedback.mean > 70
    # Another therapist's scope sees none of it.
    theirs = service_quality(
        OutcomesScope(therapist=therapist_y, by_therapist=False), practice_of_five
    )
    assert [r.key for r in theirs.attendance.rows] == ["all"]
    assert theirs.attendance.rows[0].total in (0, None)


def test_the_page_is_audited_and_names_nobody(
    practice_of_five: Practice, admin: User, therapist_x: User
) -> None:
    therapist, session_type = therapist_with_hours("svc.p@example.test")
    people = clients_of(therapist, 6, "svc.p")
    at = timezone.now() - timedelta(days=10)
    for client in people:
        booking(session_type, client, at)
        held_session(therapist, client, at, feedback_share=0.5)
    for user, whole in ((admin, True), (therapist_x, False)):
        before = AuditEvent.objects.filter(action=Action.SERVICE_QUALITY_VIEWED).count()
        page = signed_in(user).get(reverse("outcomes_service"))
        assert page.status_code == 200
        text = page.content.decode()
        assert "<svg" in text and "<table" in text and 'role="img"' in text
        assert all(c.full_name not in text and c.email not in text for c in people)
        event = AuditEvent.objects.filter(action=Action.SERVICE_QUALITY_VIEWED).latest("sequence")
        assert AuditEvent.objects.filter(action=Action.SERVICE_QUALITY_VIEWED).count() == before + 1
        assert event.actor == user and event.detail["whole_practice"] is whole
    admin_page = signed_in(admin).get(reverse("outcomes_service")).content.decode()
    assert "6 (100.0 %" in admin_page  # the six completed video bookings


def test_the_summary_pdf_is_one_page_with_the_figures_and_no_name(
    practice_of_five: Practice, admin: User
) -> None:
    therapist, session_type = therapist_with_hours("svc.pdf@example.test")
    people = clients_of(therapist, 7, "svc.pdf")
    at = timezone.now() - timedelta(days=10)
    for client in people:
        booking(session_type, client, at)
        booking(session_type, client, at + timedelta(hours=4), status=AppointmentStatus.NO_SHOW)
        held_session(therapist, client, at, feedback_share=0.5)
        finished_episode(therapist, client, at - timedelta(days=120), improved=True)
    response = signed_in(admin).get(reverse("outcomes_summary_pdf"))
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    pdf = PdfReader(io.BytesIO(response.content))
    assert len(pdf.pages) == 1
    text = pdf.pages[0].extract_text()
    assert "Outcomes summary" in text
    assert "14" in text  # bookings: seven completed, seven no-shows
    assert "50.0 %" in text
    # The outcome rates beside the national figures: all seven reliably improved.
    assert "Reliable improvement" in text and "100.0 % (7/7)" in text
    assert "about 67 %" in text
    assert all(c.full_name not in text and c.email not in text for c in people)
    assert AuditEvent.objects.filter(
        action=Action.OUTCOMES_SUMMARY_DOWNLOADED, actor=admin
    ).exists()


def finished_episode(therapist: User, client: User, at: datetime, *, improved: bool) -> None:
    """A finished two-session episode from ``at`` with its paired PHQ-9/GAD-7 outcome, as the
    episode facts would hold it."""
    EpisodeOutcome.objects.update_or_create(
        relationship=CareRelationship.objects.get(therapist=therapist, client=client),
        first_session_at=at,
        defaults={
            "client": client,
            "therapist": therapist,
            "last_session_at": at + timedelta(days=7),
            "care_ended": True,
            "gap_days": 90,
            "quarter": "2026-Q1",
            "sessions": 2,
            "modality_mix": "video",
            "reliable_improvement": improved,
            "reliable_deterioration": False,
        },
    )


def test_feedback_of_improvers_and_of_the_others(practice_of_five: Practice) -> None:
    therapist, _session_type = therapist_with_hours("svc.o@example.test")
    people = clients_of(therapist, 10, "svc.o")
    at = timezone.now() - timedelta(days=200)
    for n, client in enumerate(people):
        share = 0.9 if n < 5 else 0.2
        held_session(therapist, client, at, feedback_share=share)
        held_session(therapist, client, at + timedelta(days=7), feedback_share=share)
    # A session after the episode, with low feedback: not about the episode, so not counted.
    held_session(therapist, people[0], at + timedelta(days=150), feedback_share=0.0)
    for n, client in enumerate(people):
        # The paired PHQ-9/GAD-7 outcome of the episode, as the episode facts would hold it.
        finished_episode(therapist, client, at, improved=n < 5)
    scope = OutcomesScope(therapist=therapist, by_therapist=False)
    rows = {r.key: r for r in service_quality(scope, practice_of_five).feedback_by_outcome}
    assert rows["improved"].clients == 5 and rows["improved"].responses == 5
    assert rows["not_improved"].clients == 5
    assert rows["improved"].mean is not None and rows["not_improved"].mean is not None
    assert rows["improved"].mean > rows["not_improved"].mean
    assert rows["all"].clients == 10
    # Four clients who did not improve are too few: hidden, and so is a complement.
    EpisodeOutcome.objects.filter(client=people[9]).delete()
    rows = {r.key: r for r in service_quality(scope, practice_of_five).feedback_by_outcome}
    assert rows["not_improved"].mean is None
    assert rows["improved"].mean is None or rows["all"].mean is None


@pytest.mark.parametrize(
    ("before_start", "counted_late"),
    [
        pytest.param(timedelta(hours=24), False, id="exactly-24h-in-good-time"),
        pytest.param(timedelta(hours=24) - timedelta(seconds=1), True, id="23h59m59s-late"),
    ],
)
def test_attendance_follows_the_practices_late_cancel_window(
    practice_of_five: Practice,
    time_machine: TimeMachineFixture,
    before_start: timedelta,
    counted_late: bool,
) -> None:
    """A cancellation is late by the practice's window (scheduling's rule, which billing
    charges by); in good time it leaves the attendance denominator."""
    therapist, session_type = therapist_with_hours("svc.l@example.test")
    people = clients_of(therapist, 5, "svc.l")
    start = datetime(2026, 3, 2, 15, tzinfo=UTC)
    for client in people:
        booking(session_type, client, start - timedelta(days=7))
    appointment = direct_appointment(session_type, people[0], start)
    time_machine.move_to(start - before_start, tick=False)
    cancel_appointment(people[0], appointment)
    scope = OutcomesScope(therapist=therapist, by_therapist=False)
    # A booking counts once its end has passed: not a second before.
    ends = start + timedelta(minutes=session_type.minutes)
    time_machine.move_to(ends - timedelta(seconds=1), tick=False)
    assert attendance_table(scope, 5).rows[-1].total == 5
    time_machine.move_to(ends, tick=False)
    every = attendance_table(scope, 5).rows[-1]
    assert every.total == (6 if counted_late else 5)
    assert every.cells[1].count == (1 if counted_late else 0) or every.cells[1].hidden


def test_the_total_counts_a_client_of_several_groups_once() -> None:
    values = {
        "video": [(n, Moments.of(80.0)) for n in range(12)],
        "audio": [
            (n, Moments.of(60.0)) for n in range(12)
        ],  # the same twelve clients, by audio too
    }
    rows = {r.key: r for r in mean_rows(values, ORDER, 10, "All")}
    assert rows["video"].clients == rows["audio"].clients == rows["all"].clients == 12
    assert rows["all"].responses == 24 and rows["all"].mean == 70.0


def test_the_session_facts_follow_every_end_feedback_and_correction(
    therapist_x: User, client_a: User
) -> None:
    """What the page counts is kept current: a session's facts appear when its end is announced,
    its feedback when answered, the corrected answer when corrected; the episode's mean too."""
    care_a = CareRelationship.objects.get(therapist=therapist_x, client=client_a)
    at = timezone.now() - timedelta(days=30)
    visit = ended_session(care_a, at, {"video": 20, "audio": 30}, announce=False)
    VisitEvent.objects.create(
        visit=visit, at=at + timedelta(minutes=25), kind=EventKind.RECONNECTED, seconds=30
    )
    VisitEvent.objects.create(
        visit=visit, at=at + timedelta(minutes=5), actor=client_a, kind=EventKind.QUALITY_POOR
    )
    assert not SessionOutcome.objects.exists()
    visit_ended.send(Visit, visit_id=visit.pk)
    facts = SessionOutcome.objects.get(visit=visit)
    # The switch to audio was the person's choice, not the connection's: no step down.
    assert (facts.modality, facts.step_down, facts.reconnects) == ("video", False, 1)
    assert facts.minutes_lost == 0.5 and facts.client_poor and facts.feedback is None

    instrument = feedback_instrument()
    assert instrument is not None
    definition = definition_of(instrument)
    task = MeasureTask.objects.get(visit=visit, instrument=instrument)  # asked at the end
    low = answers_near(definition, 0.0, random.Random(1))
    first = response(client_a, instrument, low, at=at + timedelta(hours=1), save=False)
    first.task = task
    first.save()
    lowest = SessionOutcome.objects.get(visit=visit).feedback
    assert lowest is not None and lowest < 30
    assert EpisodeOutcome.objects.get(client=client_a).feedback_mean == lowest
    high = answers_near(definition, 1.0, random.Random(1))
    fixed = response(
        client_a, instrument, high, at=at + timedelta(hours=2), corrects=first, save=False
    )
    fixed.task = task
    fixed.save()
    highest = SessionOutcome.objects.get(visit=visit).feedback
    assert highest is not None and highest > 70
    episode = EpisodeOutcome.objects.get(client=client_a)
    assert (episode.feedback_mean, episode.feedback_count) == (highest, 1)
