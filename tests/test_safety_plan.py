"""The safety plan (issue 18): versions kept and encrypted, the therapist's and the client's
pages (tel: links, the one-tap link on every page, bad input), reviews (on the plan page and
with a safety alert's acknowledgement), the service worker's script, and the plan written
together over the room socket (edits relayed, saves stored, bad messages refused clearly)."""

from __future__ import annotations

from typing import Any

import pytest
from django import forms
from django.db import connection
from django.test import Client
from django.urls import reverse

from rapport.accounts.models import Practice, User
from rapport.audit.models import AuditEvent
from rapport.audit.services import Action
from rapport.measures.models import SafetyAlert
from rapport.safety.forms import FIELD_LIMITS, SafetyPlanForm, plan_content
from rapport.safety.models import ImmutableError, SafetyPlanReview, SafetyPlanVersion
from rapport.safety.services import record_review, save_version
from rapport.visits import services as visit_services
from rapport.visits.models import Visit
from tests.conftest import signed_in
from tests.sockets import run_async
from tests.test_visit_protocol import drain, in_call, open_socket, receive, receive_until, send

pytestmark = pytest.mark.django_db

FORM = {
    "warning_signs": "Not sleeping\nStaying in my room",
    "coping_strategies": "Walk the dog",
    "distractions": "Café on Elm Street",
    "people_to_ask_name_0": "Sam (sister)",
    "people_to_ask_phone_0": "+1 555 0100",
    "professionals_name_0": "Dr Ash",
    "professionals_phone_0": "(555) 010-2000",
    "environment": "Give the pills to Sam",
    "reason_for_living": "My daughter",
}


def content(**changes: str) -> dict[str, Any]:
    return plan_content(FORM | changes)


def test_every_version_is_kept_as_it_was_written(therapist_x: User, client_a: User) -> None:
    first = save_version(therapist_x, client_a, content())
    second = save_version(therapist_x, client_a, content(reason_for_living="My daughter, Mia"))
    assert (first.number, second.number) == (1, 2)
    kept = {v.number: v for v in SafetyPlanVersion.objects.filter(plan__client=client_a)}
    assert kept[1].reason_for_living == "My daughter"
    assert kept[2].reason_for_living == "My daughter, Mia"
    assert kept[1].warning_signs_list == ["Not sleeping", "Staying in my room"]
    assert [(c.name, c.phone, c.tel) for c in kept[1].people_to_ask_list] == [
        ("Sam (sister)", "+1 555 0100", "+15550100")
    ]
    kept[1].reason_for_living = "rewritten"
    with pytest.raises(ImmutableError):
        kept[1].save()
    assert SafetyPlanVersion.objects.get(pk=first.pk).reason_for_living == "My daughter"
    events = AuditEvent.objects.filter(action=Action.SAFETY_PLAN_SAVED, client=client_a)
    assert [e.detail["number"] for e in events.order_by("sequence")] == [1, 2]
    assert "daughter" not in str(list(events.values_list("detail", flat=True)))


def test_the_room_s_field_list_is_the_form_s() -> None:
    limits = {}
    for name, field in SafetyPlanForm().fields.items():
        assert isinstance(field, forms.CharField)
        limits[name] = field.max_length
    assert limits == FIELD_LIMITS


def test_the_words_are_encrypted_at_rest(therapist_x: User, client_a: User) -> None:
    version = save_version(therapist_x, client_a, content())
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT warning_signs, people_to_ask, reason_for_living "
            "FROM safety_safetyplanversion WHERE id = %s",
            [version.pk],
        )
        row = cursor.fetchone()
    assert all(value.startswith("enc1$") for value in row), row
    assert "daughter" not in " ".join(row)


def test_only_their_therapist_or_the_client_in_a_session_may_write(
    therapist_x: User, therapist_y: User, client_a: User, admin: User
) -> None:
    from django.core.exceptions import PermissionDenied

    for outsider in (therapist_y, admin):
        with pytest.raises(PermissionDenied):
            save_version(outsider, client_a, content())
    with pytest.raises(PermissionDenied):  # the client alone, outside a session
        save_version(client_a, client_a, content())
    version = save_version(therapist_x, client_a, content())
    with pytest.raises(PermissionDenied):
        record_review(therapist_y, version)
    assert SafetyPlanVersion.objects.count() == 1


def test_the_therapist_writes_a_version_and_marks_it_reviewed(
    therapist_x: User, client_a: User
) -> None:
    browser = signed_in(therapist_x)
    page = browser.get(reverse("client_safety_plan", args=[client_a.pk])).content.decode()
    assert "No safety plan yet" in page and "Not reviewed yet." in page
    response = browser.post(reverse("safety_plan_edit", args=[client_a.pk]), FORM)
    assert response.status_code == 302
    edit = browser.get(reverse("safety_plan_edit", args=[client_a.pk])).content.decode()
    assert "My daughter" in edit  # the next version starts from this one
    browser.post(
        reverse("safety_plan_edit", args=[client_a.pk]), FORM | {"reason_for_living": "Mia"}
    )
    browser.post(reverse("safety_plan_reviewed", args=[client_a.pk]))
    page = browser.get(reverse("client_safety_plan", args=[client_a.pk])).content.decode()
    assert "version 2" in page and "Version 1" in page and "Version 2" in page
    assert "(version 2)." in page  # last reviewed
    review = SafetyPlanReview.objects.get()
    assert review.version.number == 2 and review.reviewed_by == therapist_x
    one = browser.get(reverse("safety_plan_version", args=[client_a.pk, 1])).content.decode()
    assert "My daughter" in one and "Mia" not in one


@pytest.mark.parametrize(
    ("change", "error"),
    [
        ({"warning_signs": "x" * 2001}, "at most 2000 characters"),
        ({"people_to_ask_phone_0": "call me maybe"}, "Write a phone number with digits"),
        ({"people_to_ask_name_0": ""}, "Add a name for this number."),
        (
            {key: "" for key in FORM},
            "Write at least one step of the plan.",
        ),
    ],
    ids=["too long", "not a phone number", "number without a name", "empty"],
)
def test_bad_input_is_refused_with_a_clear_error(
    therapist_x: User, client_a: User, change: dict[str, str], error: str
) -> None:
    browser = signed_in(therapist_x)
    response = browser.post(reverse("safety_plan_edit", args=[client_a.pk]), FORM | change)
    assert response.status_code == 400
    assert error in response.content.decode()
    assert 'class="error-summary"' in response.content.decode()
    assert not SafetyPlanVersion.objects.exists()


def test_the_client_reads_their_plan_with_numbers_to_tap(
    therapist_x: User, client_a: User, client_b: User
) -> None:
    practice = Practice.get()
    practice.crisis_resources = "Call or text 988 (Suicide & Crisis Lifeline), or 116 123."
    practice.save()
    save_version(therapist_x, client_a, content())
    page = signed_in(client_a).get(reverse("my_safety_plan")).content.decode()
    assert '<a href="tel:+15550100">+1 555 0100</a>' in page
    assert '<a href="tel:5550102000">(555) 010-2000</a>' in page
    assert '<a href="tel:988">988</a>' in page and '<a href="tel:116123">116 123</a>' in page
    assert "My daughter" in page and "safety/offline.js" in page
    # One tap from every page: the layout's link, for clients who have a plan.
    link = f'href="{reverse("my_safety_plan")}"'
    for url in (reverse("home"), reverse("my_sessions"), reverse("inbox")):
        assert link in signed_in(client_a).get(url).content.decode(), url
    assert link not in signed_in(client_b).get(reverse("home")).content.decode()
    none_yet = signed_in(client_b).get(reverse("my_safety_plan")).content.decode()
    assert "You have no safety plan yet" in none_yet and "offline.js" not in none_yet


def test_the_service_worker_is_served_for_the_plan_s_address(client: Client) -> None:
    response = client.get(reverse("safety_plan_worker"))
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/javascript")
    assert response["Service-Worker-Allowed"] == reverse("my_safety_plan")
    assert "Content-Security-Policy" in response
    assert reverse("safety_plan_worker").startswith(reverse("my_safety_plan"))


def _risk_alert(therapist: User, client: User) -> SafetyAlert:
    from rapport.measures.answers import submit
    from rapport.measures.assignments import assign, due_tasks
    from rapport.measures.models import Instrument

    assign(therapist, client, Instrument.objects.get(key="phq9", builtin=True), "once")
    (task,) = due_tasks(client)
    answers = {str(n): 0 for n in range(1, 10)} | {"9": 1}
    alert: SafetyAlert = submit(task, client, answers).alerts.get()
    return alert


def test_an_alert_links_to_the_plan_and_its_acknowledgement_records_a_review(
    therapist_x: User, client_a: User
) -> None:
    alert = _risk_alert(therapist_x, client_a)
    browser = signed_in(therapist_x)
    url = reverse("alert_detail", args=[alert.pk])
    page = browser.get(url).content.decode()
    assert reverse("client_safety_plan", args=[client_a.pk]) in page
    assert "I reviewed the safety plan" not in page  # no plan yet: nothing to review
    save_version(therapist_x, client_a, content())
    save_version(therapist_x, client_a, content(reason_for_living="Mia"))
    assert "I reviewed the safety plan (version 2)" in browser.get(url).content.decode()
    browser.post(url, {"action_taken": "Phoned her at 14:10.", "safety_plan_reviewed": "on"})
    review = SafetyPlanReview.objects.get()
    assert (review.version.number, review.alert_id) == (2, alert.pk)
    assert "Safety plan reviewed (version 2)." in browser.get(url).content.decode()
    plan_page = browser.get(reverse("client_safety_plan", args=[client_a.pk])).content.decode()
    assert "Recorded when a safety alert was acknowledged." in plan_page


def test_the_crisis_box_after_a_risk_answer_opens_the_plan(
    therapist_x: User, client_a: User
) -> None:
    save_version(therapist_x, client_a, content())
    alert = _risk_alert(therapist_x, client_a)
    assert alert.response is not None
    page = signed_in(client_a).get(reverse("measure_result", args=[alert.response.pk]))
    assert 'id="crisis-safety-plan"' in page.content.decode()


# --- Written together in the room -----------------------------------------------------------

ROOM_PLAN = {
    "warning_signs": "Can't sleep",
    "people_to_ask_name_0": "Sam",
    "people_to_ask_phone_0": "+1 555 0100",
}


@pytest.fixture
def visit(therapist_x: User, client_a: User) -> Visit:
    visit = visit_services.start_unscheduled(therapist_x, client_a)
    visit_services.check_in(
        visit, client_a, location="Home", callback_phone="+1 555 0100", emergency_contact="Sam"
    )
    return visit


@pytest.mark.django_db(transaction=True)
def test_both_people_write_the_plan_live_in_the_room(
    visit: Visit, therapist_x: User, client_a: User
) -> None:
    therapist, client = signed_in(therapist_x), signed_in(client_a)
    room = therapist.get(reverse("visit_room", args=[visit.uid])).content.decode()
    assert 'id="plan-form"' in room and 'name="people_to_ask_phone_0"' in room

    async def body() -> None:
        t, c = await in_call(visit, therapist, client)
        await send(c, {"type": "plan_edit", "field": "warning_signs", "value": "Can't sl"})
        edit = await receive_until(t, "plan_edit")
        assert edit == {"type": "plan_edit", "field": "warning_signs", "value": "Can't sl"}
        assert await c.receive_nothing(timeout=0.3)  # not echoed to the one who typed
        await send(t, {"type": "plan_save", "plan": ROOM_PLAN})
        for socket in (t, c):
            saved = await receive_until(socket, "plan_saved")
            assert saved["number"] == 1 and saved["by"] == "therapist"
            assert saved["plan"]["people_to_ask_phone_0"] == "+1 555 0100"
        await send(c, {"type": "plan_save", "plan": ROOM_PLAN | {"reason_for_living": "Mia"}})
        assert (await receive_until(t, "plan_saved"))["by"] == "client"
        await t.disconnect()
        await c.disconnect()

    run_async(body)
    versions = list(SafetyPlanVersion.objects.filter(plan__client=client_a).order_by("number"))
    assert [(v.number, v.created_by) for v in versions] == [(1, therapist_x), (2, client_a)]
    assert all(v.written_in_visit == visit.uid for v in versions)
    assert versions[1].reason_for_living == "Mia"


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    ("message", "error"),
    [
        ({"type": "plan_edit", "field": "password", "value": "x"}, "field must name a field"),
        ({"type": "plan_edit", "field": "warning_signs"}, "value is required"),
        (
            {"type": "plan_edit", "field": "people_to_ask_phone_0", "value": "1" * 31},
            "people_to_ask_phone_0 takes at most 30 characters",
        ),
        ({"type": "plan_edit", "field": "warning_signs", "value": 7}, "value must be text"),
        ({"type": "plan_save", "plan": {"nope": "x"}}, "unknown field plan.nope"),
        ({"type": "plan_save", "plan": []}, "plan must be an object"),
        (
            {"type": "plan_save", "plan": {"warning_signs": "x" * 2001}},
            "1. Warning signs: Ensure this value has at most 2000 characters",
        ),
        (
            {"type": "plan_save", "plan": {"people_to_ask_phone_0": "555 0100"}},
            "Person 1: name: Add a name for this number.",
        ),
        ({"type": "plan_save", "plan": {}}, "Write at least one step of the plan."),
    ],
)
def test_bad_plan_messages_are_refused_clearly(
    visit: Visit, therapist_x: User, client_a: User, message: dict[str, Any], error: str
) -> None:
    therapist, client = signed_in(therapist_x), signed_in(client_a)

    async def body() -> None:
        t, c = await in_call(visit, therapist, client)
        await send(c, message)
        refusal = await receive_until(c, "error")
        assert error in refusal["error"], refusal
        assert refusal["ref"] == message["type"]
        assert await t.receive_nothing(timeout=0.3)
        await t.disconnect()
        await c.disconnect()

    run_async(body)
    assert not SafetyPlanVersion.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_a_client_in_the_waiting_room_cannot_write_the_plan(
    visit: Visit, therapist_x: User, client_a: User
) -> None:
    client = signed_in(client_a)

    async def body() -> None:
        c, ok, _ = await open_socket(visit, client)
        assert ok and (await receive(c))["type"] == "welcome"
        await drain(c)
        await send(c, {"type": "plan_save", "plan": ROOM_PLAN})
        refusal = await receive_until(c, "error")
        assert refusal == {
            "type": "error",
            "error": "you are in the waiting room",
            "ref": "plan_save",
        }
        await c.disconnect()

    run_async(body)
    assert not SafetyPlanVersion.objects.exists()


def test_every_version_is_in_the_record_and_its_export(therapist_x: User, client_a: User) -> None:
    from rapport.records.timeline import record_entries

    save_version(therapist_x, client_a, content())
    save_version(therapist_x, client_a, content(reason_for_living="Mia"))
    rows = [e for e in record_entries(client_a, viewer=therapist_x) if e.kind == "safety_plan"]
    assert [e.title for e in rows] == ["Safety plan, version 2", "Safety plan, version 1"]
    assert rows[0].url == reverse("safety_plan_version", args=[client_a.pk, 2])
    exported = record_entries(client_a, viewer=client_a, export=True)
    first = next(e for e in exported if e.title == "Safety plan, version 1")
    assert ("People I can ask for help", "Sam (sister): +1 555 0100") in first.details
    assert first.url == reverse("my_safety_plan")


@pytest.mark.django_db(transaction=True)
def test_saves_in_the_room_are_rate_limited(
    visit: Visit, therapist_x: User, client_a: User
) -> None:
    therapist, client = signed_in(therapist_x), signed_in(client_a)

    async def body() -> None:
        t, c = await in_call(visit, therapist, client)
        for _ in range(8):
            await send(c, {"type": "plan_save", "plan": ROOM_PLAN})
        answers = [await receive(c) for _ in range(8)]
        refused = [a for a in answers if a["type"] == "error"]
        assert refused and all(a["error"] == "rate limit: slow down" for a in refused)
        assert all(a["ref"] == "plan_save" for a in refused)
        await t.disconnect()
        await c.disconnect()

    run_async(body)
    assert 1 <= SafetyPlanVersion.objects.count() <= 6
