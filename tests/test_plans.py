"""Treatment plans: drafts that finalise into immutable versions, goal progress computed from
the measures the client really submitted (time moved with time-machine), the client's plain
reading and signature, the review-due reminder (home page and a content-free email through the
real worker and SMTP), the pages with bad input, access, and the record provider."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.db import connection
from django.http import Http404
from django.test import RequestFactory
from django.urls import reverse
from django.utils import timezone
from fhir.resources.R4B.careplan import CarePlan
from fhir.resources.R4B.goal import Goal as FhirGoal

from rapport.accounts.models import User
from rapport.audit.models import AuditEvent
from rapport.audit.services import Action
from rapport.care.models import EmergencyAccess
from rapport.core.record import fhir_id, fhir_reference
from rapport.measures.answers import correct, submit
from rapport.measures.assignments import assign, due_tasks
from rapport.measures.models import Instrument, Schedule
from rapport.plans import record, services
from rapport.plans.access import access_plan, own_plan
from rapport.plans.errors import PlanError
from rapport.plans.models import Goal, ImmutableError, PlanSignature, PlanVersion
from rapport.plans.progress import Status, goal_progress, progress_of_goal
from tests.conftest import signed_in
from tests.mail import Inbox, body_of
from tests.worker import run_task_worker

START = datetime(2026, 3, 2, 9, 0, tzinfo=ZoneInfo("UTC"))
PHQ9_ITEMS = [str(n) for n in range(1, 10)]


def post() -> Any:
    return RequestFactory().post("/")


def phq9_scoring(total: int) -> dict[str, int | None]:
    """PHQ-9 answers adding up to ``total`` (0 to 27), item 9 unendorsed."""
    answers: dict[str, int | None] = {key: 0 for key in PHQ9_ITEMS}
    for n, key in enumerate(PHQ9_ITEMS[:8] * 4):
        if n >= total:
            break
        answers[key] = (answers[key] or 0) + 1
    answers["10"] = 1
    return answers


def submit_phq9(therapist: User, client: User, total: int) -> Any:
    """The client fills a PHQ-9 their therapist assigned, through the measures services."""
    instrument = Instrument.objects.get(key="phq9", builtin=True, is_active=True)
    assignment = assign(therapist, client, instrument, Schedule.ONCE)
    [task] = [t for t in due_tasks(client) if t.assignment_id == assignment.pk]
    return submit(task, client, phq9_scoring(total))


def plan_with_phq9_goal(
    therapist: User, client: User, *, target_on: date | None = None, sustained: int = 2
) -> PlanVersion:
    draft = services.start_draft(therapist, client, request=post())
    goal = services.add_goal(
        therapist,
        draft,
        problem="Low mood most days",
        description="PHQ-9 below 10 on two administrations in a row",
        client_words="Feel like myself again most days",
        target_on=target_on,
        instrument_key="phq9",
        comparison="lt",
        threshold=10,
        sustained_over=sustained,
    )
    services.add_intervention(
        therapist, draft, what="Behavioural activation", who="Therapist", frequency="Weekly",
        modality="video", goal=goal,
    )  # fmt: skip
    return services.finalise(therapist, draft, request=post())


# --- Goal progress from real measure responses -------------------------------------------------


def test_goal_progress_follows_the_submitted_scores(therapist_x: User, client_a: User) -> None:
    with time_machine.travel(START, tick=False) as clock:
        version = plan_with_phq9_goal(therapist_x, client_a, target_on=date(2026, 6, 1))
        goals = services.goals_of(version)
        [p] = goal_progress(client_a, goals, version.starts_on)
        assert p.status == Status.NOT_STARTED and p.scores == []
        assert p.target == "PHQ-9 below 10, sustained over 2 scores"
        totals = []
        for total in (18, 14, 9):
            clock.shift(timedelta(days=7))
            submit_phq9(therapist_x, client_a, total)
            totals.append(total)
            [p] = goal_progress(client_a, goals, version.starts_on)
            assert [s.total for s in p.scores] == totals
            assert p.status == Status.IN_PROGRESS  # one score below 10 is not two
        clock.shift(timedelta(days=7))
        submit_phq9(therapist_x, client_a, 7)
        [p] = goal_progress(client_a, goals, version.starts_on)
        assert p.status == Status.MET and [s.meets for s in p.scores] == [False, False, True, True]


def test_scores_count_from_the_start_of_the_plan_day_in_the_local_zone() -> None:
    goal = Goal(instrument_key="phq9", comparison="lt", threshold=10, sustained_over=1)
    zone = ZoneInfo("America/Los_Angeles")
    before = datetime(2025, 3, 9, 23, 59, tzinfo=zone)  # the evening before the plan began
    on = datetime(2025, 3, 10, 0, 0, tzinfo=zone)  # its first minute (the day after DST began)
    scores = {
        "phq9": [(before.astimezone(ZoneInfo("UTC")), 4), (on.astimezone(ZoneInfo("UTC")), 12)]
    }
    with timezone.override(zone):
        progress = progress_of_goal(goal, date(2025, 3, 10), scores, today=date(2025, 3, 11))
    assert [point.total for point in progress.scores] == [12]
    assert progress.status == Status.IN_PROGRESS


def test_a_goal_not_met_by_its_target_date(therapist_x: User, client_a: User) -> None:
    with time_machine.travel(START, tick=False) as clock:
        version = plan_with_phq9_goal(therapist_x, client_a, target_on=date(2026, 3, 20))
        clock.shift(timedelta(days=7))
        submit_phq9(therapist_x, client_a, 16)
        goals = services.goals_of(version)
        assert goal_progress(client_a, goals, version.starts_on)[0].status == Status.IN_PROGRESS
        clock.shift(timedelta(days=30))
        assert goal_progress(client_a, goals, version.starts_on)[0].status == Status.NOT_MET


def test_scores_before_the_plan_and_corrected_scores_do_not_count(
    therapist_x: User, client_a: User
) -> None:
    with time_machine.travel(START, tick=False) as clock:
        submit_phq9(therapist_x, client_a, 5)  # before the plan started
        clock.shift(timedelta(days=1))
        version = plan_with_phq9_goal(therapist_x, client_a, sustained=1)
        clock.shift(timedelta(days=7))
        wrong = submit_phq9(therapist_x, client_a, 6)
        goals = services.goals_of(version)
        assert goal_progress(client_a, goals, version.starts_on)[0].status == Status.MET
        correct(wrong, therapist_x, phq9_scoring(15))
        [p] = goal_progress(client_a, goals, version.starts_on)
        assert p.status == Status.IN_PROGRESS and [s.total for s in p.scores] == [15]


def test_progress_shows_on_both_progress_pages_and_the_plan_page(
    therapist_x: User, client_a: User
) -> None:
    with time_machine.travel(START, tick=False) as clock:
        plan_with_phq9_goal(therapist_x, client_a)
        for total in (8, 6):
            clock.shift(timedelta(days=7))
            submit_phq9(therapist_x, client_a, total)
        clinical = signed_in(therapist_x).get(reverse("client_progress", args=[client_a.pk]))
        assert b"Treatment plan goals" in clinical.content and b"Met" in clinical.content
        assert b"PHQ-9 below 10, sustained over 2 scores" in clinical.content
        mine = signed_in(client_a).get(reverse("my_progress"))
        assert b"Feel like myself again most days" in mine.content and b"Met" in mine.content
        page = signed_in(therapist_x).get(reverse("client_plan", args=[client_a.pk]))
        assert b"From the scores:" in page.content and b"Met" in page.content


# --- Versions -----------------------------------------------------------------------------------


def test_finalised_versions_never_change_and_new_versions_copy(
    therapist_x: User, client_a: User
) -> None:
    first = plan_with_phq9_goal(therapist_x, client_a)
    [goal] = services.goals_of(first)
    with pytest.raises(ImmutableError):
        goal.save()
    with pytest.raises(ImmutableError):
        first.save()
    with pytest.raises(PlanError, match="finalised"):
        services.add_goal(therapist_x, first, problem="p", description="d")
    draft = services.start_draft(therapist_x, client_a, request=post())
    assert services.start_draft(therapist_x, client_a, request=post()) == draft  # one draft
    assert draft.number == 2 and len(services.goals_of(draft)) == 1
    [copy] = services.goals_of(draft)
    [item] = services.interventions_of(draft)
    assert copy.pk != goal.pk and item.goal_id == copy.pk
    services.remove_part(therapist_x, draft, kind="goal", part_id=copy.pk, request=post())
    with pytest.raises(PlanError, match="at least one goal"):
        services.finalise(therapist_x, draft)
    services.add_goal(therapist_x, draft, problem="Sleep", description="Sleep 7 hours")
    services.finalise(therapist_x, draft)
    assert [v.number for v in PlanVersion.objects.order_by("number")] == [1, 2]
    assert len(services.goals_of(first)) == 1  # the old version is as it was
    assert AuditEvent.objects.filter(action=Action.PLAN_FINALISED).count() == 2


def test_plan_text_is_encrypted_at_rest(therapist_x: User, client_a: User) -> None:
    plan_with_phq9_goal(therapist_x, client_a)
    with connection.cursor() as cursor:
        cursor.execute("SELECT problem, description, client_words FROM plans_goal")
        stored = " ".join(cursor.fetchone())
    assert "mood" not in stored and "PHQ" not in stored and "myself" not in stored


# --- The client reads and signs ----------------------------------------------------------------


def test_the_client_reads_in_plain_words_and_signs(therapist_x: User, client_a: User) -> None:
    browser = signed_in(client_a)
    assert b"has not shared a plan" in browser.get(reverse("my_plan")).content
    services.start_draft(therapist_x, client_a)
    assert own_plan(client_a) is None  # a draft is not the client's to read yet
    version = plan_with_phq9_goal(therapist_x, client_a)
    page = browser.get(reverse("my_plan"))
    assert b"Feel like myself again most days" in page.content
    assert b"Behavioural activation" in page.content and b"PHQ-9 below" not in page.content
    wrong = browser.post(reverse("my_plan"), {"typed_name": "Somebody Else"})
    assert wrong.status_code == 400 and b"Somebody Else" in wrong.content
    assert b"error-summary" in wrong.content and not PlanSignature.objects.exists()
    empty = browser.post(reverse("my_plan"), {"typed_name": ""})
    assert empty.status_code == 400
    assert browser.post(reverse("my_plan"), {"typed_name": client_a.full_name}).status_code == 302
    signature = PlanSignature.objects.get()
    assert signature.version == version and signature.client == client_a
    assert b"You signed this plan" in browser.get(reverse("my_plan")).content
    # A new version needs a new signature; the old one stays with its version.
    draft = services.start_draft(therapist_x, client_a)
    services.finalise(therapist_x, draft)
    assert b"Sign my plan" in browser.get(reverse("my_plan")).content
    with pytest.raises(PlanError, match="updated the plan"):
        services.sign_plan(client_a, version, typed_name=client_a.full_name, request=post())


# --- Review reminder ---------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_review_due_on_the_home_page_and_by_email(
    therapist_x: User, client_a: User, smtp: Inbox
) -> None:
    with time_machine.travel(START, tick=False) as clock:
        draft = services.start_draft(therapist_x, client_a)
        services.update_draft(
            therapist_x, draft, starts_on=date(2026, 3, 2), review_on=date(2026, 4, 1),
            modality="video", frequency="Weekly", summary="",
        )  # fmt: skip
        services.add_goal(therapist_x, draft, problem="Worry", description="Worry less")
        services.finalise(therapist_x, draft)
        run_task_worker()
        assert smtp.take() == []
        home = signed_in(therapist_x).get(reverse("home"))
        assert b"Plans due for review" not in home.content
        clock.move_to(datetime(2026, 4, 1, 12, 0, tzinfo=ZoneInfo("UTC")))
        run_task_worker()
        [mail] = smtp.take()
        assert mail["To"] == therapist_x.email
        text = body_of(mail) + str(mail["Subject"])
        for word in ["Worry", client_a.full_name, "Weekly"]:
            assert word not in text
        home = signed_in(therapist_x).get(reverse("home"))
        assert (
            b"Plans due for review" in home.content and client_a.full_name.encode() in home.content
        )
        run_task_worker()
        assert smtp.take() == []  # once


# --- Pages and bad input -----------------------------------------------------------------------


def test_the_therapist_writes_a_plan_through_the_pages(therapist_x: User, client_a: User) -> None:
    browser = signed_in(therapist_x)
    assert browser.get(reverse("plan_draft", args=[client_a.pk])).status_code == 302
    assert browser.post(reverse("plan_start", args=[client_a.pk])).status_code == 302
    url = reverse("plan_draft", args=[client_a.pk])
    added = browser.post(url, {
        "form": "goal", "problem": "Panic", "description": "GAD-7 below 5",
        "instrument_key": "gad7", "comparison": "lt", "threshold": "5", "sustained_over": "2",
    })  # fmt: skip
    assert added.status_code == 302
    goal = Goal.objects.get()
    added = browser.post(url, {
        "form": "intervention", "what": "Interoceptive exposure", "modality": "video",
        "goal": str(goal.pk),
    })  # fmt: skip
    assert added.status_code == 302
    assert browser.post(reverse("plan_finalise", args=[client_a.pk])).status_code == 302
    page = browser.get(reverse("client_plan", args=[client_a.pk]))
    assert b"GAD-7 below 5, sustained over 2 scores" in page.content
    assert b"Not signed by the client yet" in page.content
    assert browser.get(reverse("plan_version", args=[client_a.pk, 1])).status_code == 200
    assert browser.get(reverse("plan_version", args=[client_a.pk, 9])).status_code == 404


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"form": "goal", "problem": "", "description": "Kept text"}, b"This field is required"),
        (
            {"form": "goal", "problem": "P", "description": "Kept text", "instrument_key": "phq9",
             "comparison": "lt", "threshold": "99", "sustained_over": "1"},
            b"scores run from 0 to 27",
        ),
        (
            {"form": "goal", "problem": "P", "description": "Kept text", "instrument_key": "phq9",
             "comparison": "", "threshold": "", "sustained_over": "1"},
            b"Enter the target score",
        ),
        (
            {"form": "goal", "problem": "P", "description": "Kept text", "instrument_key": "nope",
             "sustained_over": "1"},
            b"Select a valid choice",
        ),
        (
            {"form": "goal", "problem": "P", "description": "Kept text", "sustained_over": "0"},
            b"greater than or equal to 1",
        ),
        (
            {"form": "goal", "problem": "P", "description": "Kept text", "sustained_over": "1",
             "target_on": "2001-01-01"},
            b"before the plan starts",
        ),
        (
            {"form": "details", "starts_on": "2026-05-01", "review_on": "2026-04-01",
             "modality": "video", "frequency": "Kept text"},
            b"before the plan starts",
        ),
        (
            {"form": "details", "starts_on": "soon", "review_on": "2026-04-01",
             "modality": "hologram", "frequency": "Kept text"},
            b"Enter a valid date",
        ),
        ({"form": "intervention", "what": "", "who": "Kept text", "modality": "video"},
         b"This field is required"),
        ({"form": "intervention", "what": "Kept text", "modality": "video", "goal": "999999"},
         b"Select a valid choice"),
    ],
)  # fmt: skip
def test_bad_input_on_the_draft_keeps_what_was_typed(
    therapist_x: User, client_a: User, data: dict[str, str], message: bytes
) -> None:
    services.start_draft(therapist_x, client_a)
    page = signed_in(therapist_x).post(reverse("plan_draft", args=[client_a.pk]), data)
    assert page.status_code == 400 and message in page.content, page.content[-3000:]
    assert b"Kept text" in page.content and b"error-summary" in page.content
    assert not Goal.objects.exists()


def test_finalising_an_empty_draft_says_why(therapist_x: User, client_a: User) -> None:
    services.start_draft(therapist_x, client_a)
    browser = signed_in(therapist_x)
    done = browser.post(reverse("plan_finalise", args=[client_a.pk]), follow=True)
    assert b"Add at least one goal" in done.content
    assert PlanVersion.objects.get().is_draft


# --- Access ------------------------------------------------------------------------------------


def test_who_reaches_a_plan(
    therapist_x: User, therapist_y: User, client_a: User, admin: User
) -> None:
    assert access_plan(therapist_x, client_a.pk, write=True)[0] == client_a
    for user in (therapist_y, admin, client_a):
        with pytest.raises(Http404):
            access_plan(user, client_a.pk)
    EmergencyAccess.objects.create(
        admin=admin, client=client_a, reason="Unreachable", expires_at=timezone.now() + timedelta(1)
    )
    assert access_plan(admin, client_a.pk)[1] == "emergency"
    with pytest.raises(Http404):
        access_plan(admin, client_a.pk, write=True)
    views = AuditEvent.objects.filter(action=Action.CLIENT_RECORD_VIEWED, actor=admin)
    assert views.filter(detail__purpose="treatment_plan").exists()


# --- The record provider -----------------------------------------------------------------------


def test_entries_and_fhir_in_a_fixed_number_of_queries(
    therapist_x: User, client_a: User, django_assert_num_queries: Any
) -> None:
    with time_machine.travel(START, tick=False) as clock:
        first = plan_with_phq9_goal(therapist_x, client_a, target_on=date(2026, 6, 1))
        services.sign_plan(client_a, first, typed_name=client_a.full_name, request=post())
        for total in (9, 8):
            clock.shift(timedelta(days=7))
            submit_phq9(therapist_x, client_a, total)
        # The timeline reads the versions (with their goal counts) and signatures only.
        with django_assert_num_queries(2):
            rows = record.entries(client_a, viewer=therapist_x)
        draft = services.start_draft(therapist_x, client_a)
        services.add_goal(therapist_x, draft, problem="Sleep", description="Sleep 7 hours")
        second = services.finalise(therapist_x, draft)
        with django_assert_num_queries(6):
            more = record.entries(client_a, viewer=client_a, export=True)
        with django_assert_num_queries(6):
            resources = record.fhir_resources(client_a, viewer=therapist_x)
    assert [e.title for e in rows] == [
        "Treatment plan, version 1",
        "Treatment plan signed by the client (version 1)",
    ]
    assert len(more) == 3
    ids = {r["id"] for r in resources}
    care_plans = [r for r in resources if r["resourceType"] == "CarePlan"]
    goals = [r for r in resources if r["resourceType"] == "Goal"]
    for resource in care_plans:
        CarePlan.model_validate(resource)
        assert resource["subject"]["reference"] == fhir_reference("patient", client_a.pk)
        for ref in resource["goal"]:
            assert ref["reference"].removeprefix("urn:uuid:") in ids  # resolves in the bundle
    for resource in goals:
        FhirGoal.model_validate(resource)
    old, new = care_plans
    assert (old["status"], new["status"]) == ("revoked", "active")
    assert new["id"] == fhir_id("careplan", second.pk)
    assert new["replaces"] == [{"reference": fhir_reference("careplan", first.pk)}]
    met = next(g for g in goals if g["lifecycleStatus"] == "active" and "target" in g)
    assert met["achievementStatus"]["coding"][0]["code"] == "achieved"
    quantity = met["target"][0]["detailQuantity"]
    assert (quantity["value"], quantity["comparator"], quantity["code"]) == (10, "<", "{score}")
    assert met["target"][0]["measure"] == {"text": "PHQ-9"}


def test_removing_with_bad_or_foreign_ids_changes_nothing(
    therapist_x: User, client_a: User, client_b: User, therapist_y: User
) -> None:
    draft = services.start_draft(therapist_x, client_a)
    services.add_goal(therapist_x, draft, problem="Worry", description="Worry less")
    other = services.start_draft(therapist_y, client_b)
    foreign = services.add_goal(therapist_y, other, problem="Sleep", description="Sleep more")
    browser = signed_in(therapist_x)
    url = reverse("plan_draft", args=[client_a.pk])
    for data in (
        {"kind": "goal", "part_id": "abc"},
        {"kind": "everything", "part_id": "1"},
        {"kind": "goal", "part_id": str(foreign.pk)},
        {"kind": "intervention", "part_id": "999999"},
    ):
        page = browser.post(url, data, follow=True)
        assert page.status_code in {200, 400}  # 400: the request was malformed
        assert b"not understood" in page.content or b"not in this draft" in page.content
    assert Goal.objects.count() == 2


def test_the_plan_page_reads_a_fixed_number_of_queries(
    therapist_x: User, client_a: User, django_assert_max_num_queries: Any
) -> None:
    def count() -> int:
        browser = signed_in(therapist_x)
        browser.get(reverse("client_plan", args=[client_a.pk]))  # warm the session
        with django_assert_max_num_queries(1000) as queries:
            assert browser.get(reverse("client_plan", args=[client_a.pk])).status_code == 200
        return len(queries.captured_queries)

    with time_machine.travel(START, tick=False) as clock:
        plan_with_phq9_goal(therapist_x, client_a)
        clock.shift(timedelta(days=7))
        submit_phq9(therapist_x, client_a, 12)
        few = count()
        draft = services.start_draft(therapist_x, client_a)
        for n in range(5):
            goal = services.add_goal(
                therapist_x, draft, problem=f"P{n}", description=f"G{n}", instrument_key="phq9",
                comparison="lt", threshold=10, sustained_over=1,
            )  # fmt: skip
            services.add_intervention(therapist_x, draft, what=f"I{n}", modality="text", goal=goal)
        services.finalise(therapist_x, draft)
        for total in (11, 9, 8):
            clock.shift(timedelta(days=7))
            submit_phq9(therapist_x, client_a, total)
        assert count() == few
