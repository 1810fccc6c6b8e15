"""The demo's clinical record: Jordan Chen's intake, diagnoses, plans and notes, and what they
do between sessions.

Written through the same services a therapist and client use, after the past course of therapy
(``demo_history``): the intake Jordan sent, an anxiety diagnosis with a depressive episode beside
it, a treatment plan whose first goal is tied to the PHQ-9 history (which improves reliably, so
the goal shows as met), the safety plan they wrote together, three signed notes of the latest
sessions (one with an addendum) and one unsigned note that waits on Dr. Okafor's home page.
Between sessions (``seed_between_sessions``): a thought record handed in with Dr. Okafor's
comment, a sleep diary due in a few days, and four weeks of journal entries with a mood, some
shared with Dr. Okafor and some private. Past times are set after each write, as the demo's
messages are.
"""

from __future__ import annotations

import zoneinfo
from datetime import time, timedelta

from django.utils import timezone

from rapport.accounts.models import User
from rapport.diagnoses.services import record_diagnosis
from rapport.homework import services as homework
from rapport.homework.models import Assignment, Homework
from rapport.intake import services as intake
from rapport.intake.models import IntakeForm
from rapport.journal.models import JournalEntry
from rapport.journal.services import write_entry
from rapport.lib.intervals import local_to_utc
from rapport.notes import services as notes
from rapport.notes.models import Note
from rapport.plans import services as plans
from rapport.safety.forms import plan_content
from rapport.safety.services import save_version
from rapport.visits.models import Visit, VisitStatus

INTAKE_ANSWERS = {
    "reason": "Constant worry about work and money; I sleep badly and feel flat most days.",
    "how_long": "",
    "previous_therapy": "no",
    "physical_health": "Generally well. Occasional headaches.",
    "medications": "None.",
    "drugs": "no",
    "self_harm_now": "no",
    "self_harm_past": "no",
    "harm_others": "no",
    "goals": "Worry less, sleep through the night, enjoy weekends again.",
    "emergency_name": "Alex Chen",
    "emergency_relation": "Brother",
    "emergency_phone": "+44 7700 900123",
    "telehealth_consent": "on",
}

NOTES = [
    {
        "subjective": "Worry about the team reorganisation most evenings; sleep 5-6 hours.",
        "objective": "On time, engaged, tearful once when talking about money.",
        "assessment": "Generalised anxiety with low mood; uses worry as problem-solving.",
        "plan": "Worry diary daily; introduce worry time next session.",
    },
    {
        "subjective": "Kept the worry diary on 5 of 7 days. Slept better at the weekend.",
        "objective": "Brighter; brought the diary and talked it through.",
        "assessment": "Engaging well with CBT; PHQ-9 now below caseness.",
        "plan": "Worry time 20 minutes a day; behavioural experiment about emails at night.",
    },
    {
        "subjective": "Tried not checking emails after 8 pm; anxiety peaked then settled.",
        "objective": "Relaxed, good humour, reflective.",
        "assessment": "Prediction disconfirmed; GAD-7 below caseness for the first time.",
        "plan": "Keep the experiment going; start planning relapse prevention.",
    },
]
ADDENDUM = "Jordan phoned the next day: the reorganisation was confirmed; coping plan in place."

THOUGHT_RECORD = {
    "situation": "Sunday evening, an email from my manager about Monday's meeting.",
    "feelings": "Anxious, a knot in my stomach",
    "feelings_strength": "80",
    "thought": "They are going to tell me my job is gone.",
    "belief": "70",
    "for": "The team is being reorganised.",
    "against": "The email asked for my ideas. My last review was good.",
    "balanced": "It is a planning meeting; they want my ideas, not my notice.",
    "feelings_after": "40",
}
THOUGHT_RECORD_COMMENT = (
    "Well spotted: the evidence column did the work. Let's look at the Monday meeting together."
)
HANDED_IN_DAYS_AGO = 9  # the thought record was due then
SLEEP_DIARY_DUE_IN = 3  # days from today
# (days ago, mood, words, tags, text, shared), written at 21:00 on Jordan's clock.
JOURNAL = [
    (27, 3, "Flat and tired", "sleep, work", "Lay awake going over the reorganisation.", False),
    (24, 4, "A bit better after a run", "exercise", "", True),
    (20, 4, "Worried about money", "money", "Made a budget; it helped a little.", False),
    (16, 5, "Calmer", "sleep", "Worry time at 6 pm, then left it. Slept seven hours.", True),
    (12, 5, "", "family", "Called Mum. Did not mention work once.", False),
    (9, 6, "Proud of the thought record", "work", "", True),
    (5, 7, "Good weekend", "climbing, friends", "Climbing with Priya for the first time.", True),
    (2, 6, "Busy but fine", "work", "", False),
]


def has_record(client: User) -> bool:
    return Note.objects.filter(client=client).exists()


def seed_record(therapist: User, client: User) -> None:
    _intake(client)
    start = (timezone.now() - timedelta(weeks=12)).date()
    record_diagnosis(therapist, client, code="F41.1", rank="primary", onset=start)
    record_diagnosis(therapist, client, code="F32.1", rank="secondary", onset=start)
    _plan(therapist, client, start)
    _safety_plan(therapist, client)
    _notes(therapist, client)


def _intake(client: User) -> None:
    form = IntakeForm.objects.filter(key="adult").order_by("-version").first()
    if form is None:
        return
    sent = intake.send_intake(client, form, sent_by=None)
    intake.submit(sent, client, {**INTAKE_ANSWERS, "signature": client.full_name})


def _safety_plan(therapist: User, client: User) -> None:
    """The safety plan they wrote together (fictional 555 numbers)."""
    save_version(
        therapist,
        client,
        plan_content(
            {
                "warning_signs": "Lying awake going over work\nSkipping meals\nCancelling plans",
                "coping_strategies": "A run along the river\nThe breathing exercise from our "
                "sessions",
                "distractions": "Coffee with Priya\nThe climbing gym",
                "people_to_ask_name_0": "Priya (friend)",
                "people_to_ask_phone_0": "+1 555 0142",
                "people_to_ask_name_1": "Mum",
                "people_to_ask_phone_1": "+1 555 0177",
                "professionals_name_0": f"{therapist.full_name} (the practice, office hours)",
                "professionals_phone_0": "+1 555 0100",
                "environment": "Keep only a week of medication at home; Priya holds the rest",
                "reason_for_living": "My nephew Leo, and climbing again",
            }
        ),
    )


def _plan(therapist: User, client: User, start: object) -> None:
    draft = plans.start_draft(therapist, client)
    today = timezone.localdate()
    plans.update_draft(
        therapist,
        draft,
        starts_on=today - timedelta(weeks=12),
        review_on=today + timedelta(weeks=4),
        modality="video",
        frequency="Weekly, 50 minutes",
        summary="We meet every week by video to work on worry and sleep.",
    )
    mood = plans.add_goal(
        therapist,
        draft,
        problem="Low mood",
        description="Depressive symptoms below caseness",
        client_words="Feel like myself again",
        instrument_key="phq9",
        comparison="lt",
        threshold=10,
        sustained_over=2,
    )
    plans.add_goal(
        therapist,
        draft,
        problem="Worry",
        description="Anxiety below caseness",
        client_words="Worry less, and not at night",
        instrument_key="gad7",
        comparison="lt",
        threshold=8,
        sustained_over=2,
    )
    plans.add_intervention(
        therapist,
        draft,
        goal=mood,
        what="CBT: worry diary, worry time, behavioural experiments",
        who="Dr. Okafor",
        frequency="Weekly",
        modality="video",
    )
    plans.finalise(therapist, draft)


def _notes(therapist: User, client: User) -> None:
    latest = Visit.objects.filter(
        therapist=therapist, client=client, status=VisitStatus.ENDED
    ).order_by("-ended_at")[:4]
    visits = list(latest)[::-1]
    for visit, texts in zip(visits[:3], NOTES, strict=False):
        note, _created = notes.start_for_visit(therapist, visit)
        notes.save_draft(note.pk, therapist, texts)
        notes.sign(note.pk, therapist)
        if texts is NOTES[1]:
            notes.add_addendum(note.pk, therapist, ADDENDUM)
    if len(visits) == 4:  # the latest session's note: begun, not signed, late
        note, _created = notes.start_for_visit(therapist, visits[3])
        notes.save_draft(note.pk, therapist, {"subjective": "Relapse prevention: first ideas."})


def has_between_sessions(client: User) -> bool:
    return (
        Assignment.objects.filter(client=client).exists()
        or JournalEntry.objects.filter(client=client).exists()
    )


def seed_between_sessions(therapist: User, client: User) -> None:
    """Homework (one piece handed in with a comment, one due) and a month of journal entries."""
    _homework(therapist, client)
    _journal(client)


def _homework(therapist: User, client: User) -> None:
    today = timezone.localdate()
    done = homework.assign(therapist, client, exercise="thought_record", first_due=today)
    piece = done.homework.get()
    homework.save_answers(client, piece, {"fields": THOUGHT_RECORD, "rows": []}, submit=True)
    homework.add_comment(therapist, piece, THOUGHT_RECORD_COMMENT)
    due_on = today - timedelta(days=HANDED_IN_DAYS_AGO)
    handed_in = timezone.now() - timedelta(days=HANDED_IN_DAYS_AGO, hours=2)
    Assignment.objects.filter(pk=done.pk).update(
        first_due=due_on, created_at=handed_in - timedelta(days=5)
    )
    Homework.objects.filter(pk=piece.pk).update(
        due_on=due_on,
        saved_at=handed_in,
        submitted_at=handed_in,
        commented_at=handed_in + timedelta(days=1),
    )
    homework.assign(
        therapist,
        client,
        exercise="sleep_diary",
        first_due=today + timedelta(days=SLEEP_DIARY_DUE_IN),
        instructions="One row each morning for the week, as we practised.",
    )


def _journal(client: User) -> None:
    zone = zoneinfo.ZoneInfo(client.time_zone)
    today = timezone.now().astimezone(zone).date()
    for days_ago, mood, words, tags, text, shared in JOURNAL:
        entry = write_entry(
            client, mood=mood, mood_words=words, tags=tags, text=text, shared=shared
        )
        at = local_to_utc(today - timedelta(days=days_ago), time(21), zone)
        JournalEntry.objects.filter(pk=entry.pk).update(written_at=at, updated_at=at)
