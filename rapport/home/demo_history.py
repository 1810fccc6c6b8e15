"""The demo's past: a course of therapy recorded through the same services as a live one.

Jordan Chen (Dr. Okafor's client) had nine weekly sessions over the last eleven weeks: the visit
of each one opened, joined, admitted and ended through ``rapport.visits.services`` with the time
it happened (``now=``), so its timeline holds the joins and the minutes per modality (mostly
video, one session that stepped down to audio, one audio-only). After each session the client
answered the session feedback form; every two weeks PHQ-9 and GAD-7, assigned by the therapist,
with answers that add up to an improvement past the reliable change thresholds. Sam Rivera has a
shorter history: two questionnaires of each since starting care, no reliable change yet (and no
visits: Sam has not signed the telehealth consent).

Nothing here writes a row a service would refuse or compute differently: the timestamps are the
only thing the demo chooses. The audit log still says when the seeding ran.
"""

from __future__ import annotations

import zoneinfo
from dataclasses import dataclass
from datetime import datetime, time, timedelta

from rapport.accounts.models import User
from rapport.lib.intervals import local_to_utc
from rapport.measures import assignments
from rapport.measures.answers import submit
from rapport.measures.feedback import session_ended
from rapport.measures.models import Instrument, MeasureTask, Response, Schedule, TaskStatus
from rapport.scheduling.models import Appointment, AppointmentStatus, SessionType
from rapport.visits import services as visits
from rapport.visits.models import Visit

HISTORY_WEEKS = range(-11, -2)  # nine weekly sessions; the seeded fortnight follows them
STEPPED_DOWN_SESSION = 4  # video that switched to audio when the connection failed
AUDIO_SESSION = 6  # booked as an audio call
# PHQ-9 and GAD-7 totals at intake and every two weeks after.
PHQ9_COURSE = [17, 15, 12, 10, 8, 7]
GAD7_COURSE = [14, 12, 10, 9, 7, 6]
# Sam Rivera: started care a fortnight ago.
PHQ9_SHORT = [14, 12]
GAD7_SHORT = [11, 10]
MEASURE_DAYS = 14
# Items that carry a total first: PHQ-9 sleep, mood, energy, interest, concentration, worth,
# appetite, moving; item 9 (thoughts of self-harm) stays 0. GAD-7: worry first.
PHQ9_ORDER = ["3", "2", "4", "1", "7", "6", "5", "8"]
GAD7_ORDER = ["2", "3", "1", "4", "7", "6", "5"]


@dataclass(frozen=True)
class Course:
    therapist: User
    client: User
    weekly: tuple[int, int]  # weekday and hour on the therapist's clock


def item_answers(total: int, order: list[str], keys: list[str]) -> dict[str, int]:
    """Answers 0 to 3 that add up to ``total``, heaviest on the first items of ``order``."""
    answers = dict.fromkeys(keys, 0)
    left = total
    while left:
        for key in order:
            if left and answers[key] < 3:
                answers[key] += 1
                left -= 1
    return answers


def phq9_answers(total: int) -> dict[str, int]:
    answers = item_answers(total, PHQ9_ORDER, [str(n) for n in range(1, 10)])
    answers["10"] = 2 if total >= 15 else 1 if total >= 5 else 0  # how difficult it made life
    return answers


def gad7_answers(total: int) -> dict[str, int]:
    return item_answers(total, GAD7_ORDER, [str(n) for n in range(1, 8)])


def has_history(client: User) -> bool:
    return Response.objects.filter(client=client).exists()


def seed_course(course: Course, now: datetime) -> None:
    """The main client's weekly sessions and questionnaires."""
    starts = _weekly_starts(course, now)
    _seed_measures(course, starts[0] - timedelta(days=2), PHQ9_COURSE, GAD7_COURSE)
    kinds = SessionType.objects.filter(therapist=course.therapist)
    intake, individual = kinds.get(name="Intake"), kinds.get(name="Individual session")
    for number, starts_at in enumerate(starts):
        modality = "audio" if number == AUDIO_SESSION else "video"
        kind = intake if number == 0 else individual
        appointment = _appointment(course, kind, starts_at, modality)
        visit = _past_visit(course, appointment, stepped_down=number == STEPPED_DOWN_SESSION)
        _feedback(course.client, visit, technology_worked=number != STEPPED_DOWN_SESSION)


def seed_short(course: Course, now: datetime) -> None:
    """A client two weeks into care: the intake questionnaires and one repeat."""
    _seed_measures(course, now - timedelta(days=16), PHQ9_SHORT, GAD7_SHORT)


def _weekly_starts(course: Course, now: datetime) -> list[datetime]:
    zone = zoneinfo.ZoneInfo(course.therapist.time_zone)
    weekday, hour = course.weekly
    today = now.astimezone(zone).date()
    monday = today - timedelta(days=today.weekday())
    return [
        local_to_utc(monday + timedelta(weeks=week, days=weekday), time(hour), zone)
        for week in HISTORY_WEEKS
    ]


def _appointment(
    course: Course, kind: SessionType, starts_at: datetime, modality: str
) -> Appointment:
    # A past time cannot be booked through the booking service (it refuses the past); the demo
    # writes the appointment as booked a week before, like the seeded fortnight.
    ends_at = starts_at + timedelta(minutes=kind.minutes)
    return Appointment.objects.create(
        therapist=course.therapist,
        client=course.client,
        session_type=kind,
        modality=modality,
        starts_at=starts_at,
        ends_at=ends_at,
        busy_until=ends_at + timedelta(minutes=kind.buffer_minutes),
        status=AppointmentStatus.CONFIRMED,
        booked_by=course.therapist,
        booked_at=starts_at - timedelta(days=7),
    )


def _past_visit(course: Course, appointment: Appointment, *, stepped_down: bool) -> Visit:
    """Open, join, admit and end the appointment's visit at the times it happened."""
    therapist, client, start = course.therapist, course.client, appointment.starts_at
    visit = visits.open_for_appointment(therapist, appointment, now=start - timedelta(minutes=4))
    visits.connect(visit.pk, therapist, f"demo.{visit.uid}.t", "demo", now=visit.created_at)
    visits.connect(visit.pk, client, f"demo.{visit.uid}.c", "demo", now=start)
    visits.admit(visit.pk, therapist, now=start + timedelta(minutes=1))
    if stepped_down:
        visits.switch_modality(
            visit.pk,
            client,
            "audio",
            reason="connection",
            detail="video kept freezing",
            now=start + timedelta(minutes=19),
        )
    return visits.end(visit.pk, therapist, now=start + timedelta(minutes=51))


def _feedback(client: User, visit: Visit, *, technology_worked: bool) -> None:
    """The feedback form the end of the session asks for, sent that evening."""
    # The end's own trigger runs after the seeding's transaction commits; asking now keeps the
    # order, and that later call finds the visit already asked about.
    task = session_ended(visit.pk)
    if task is None or visit.ended_at is None:
        return
    answers = {
        "heard": 4,
        "goals": 3 if visit.pk % 2 else 4,
        "approach": 3,
        "overall": 4,
        "technology": 4 if technology_worked else 2,
    }
    submit(task, client, answers, now=visit.ended_at + timedelta(hours=3))


def _seed_measures(
    course: Course, assigned_at: datetime, phq9_totals: list[int], gad7_totals: list[int]
) -> None:
    """Assign PHQ-9 and GAD-7 every two weeks from ``assigned_at`` and answer each one the day
    it is asked."""
    pairs = [("phq9", phq9_totals, phq9_answers), ("gad7", gad7_totals, gad7_answers)]
    for key, totals, answers_for in pairs:
        instrument = Instrument.objects.filter(key=key, is_active=True).latest("pk")
        assignment = assignments.assign(
            course.therapist,
            course.client,
            instrument,
            Schedule.EVERY_N_DAYS,
            interval_days=MEASURE_DAYS,
            now=assigned_at,
        )
        for number, total in enumerate(totals):
            asked_at = assigned_at + timedelta(days=MEASURE_DAYS * number)
            if number:
                assignments.refresh_assignment(assignment.pk, now=asked_at)
            task = MeasureTask.objects.get(assignment=assignment, status=TaskStatus.OPEN)
            submit(task, course.client, answers_for(total), now=asked_at + timedelta(hours=5))
