"""Measures pages over HTTP: the questionnaire (save and resume, bad input keeps the draft),
results that never say "no risk", crisis resources at once, alerts acknowledged and audited,
immutability, who may see what, and the progress chart with its table at a fixed query count."""

from __future__ import annotations

import json
import re
from datetime import timedelta
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from rapport.accounts.models import Practice, User
from rapport.audit.models import AuditEvent
from rapport.audit.services import Action
from rapport.core import realtime
from rapport.measures.assignments import assign
from rapport.measures.models import (
    Assignment,
    Instrument,
    MeasureTask,
    Response,
    SafetyAlert,
    TaskStatus,
)
from tests.conftest import signed_in
from tests.measures_data import history, response

CRISIS = "Call 988 or the Rapport test crisis line 0800 000 111."


@pytest.fixture(autouse=True)
def _no_live_events(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(realtime, "deliver", lambda events: None)


@pytest.fixture
def crisis_line(db: Any) -> str:
    """The practice's crisis text as a client with no known country reads it: numbers to tap."""
    practice = Practice.get()
    practice.crisis_resources = CRISIS
    practice.save(update_fields=["crisis_resources"])
    return (
        'Call <a href="tel:988">988</a> or the Rapport test crisis line '
        '<a href="tel:0800000111">0800 000 111</a>.'
    )


def phq9() -> Instrument:
    return Instrument.objects.get(key="phq9", builtin=True)


def task_for(client: User, therapist: User, key: str = "phq9") -> MeasureTask:
    instrument = Instrument.objects.get(key=key, builtin=True)
    assign(therapist, client, instrument, "once")
    return MeasureTask.objects.get(client=client, instrument=instrument, status=TaskStatus.OPEN)


def answers(values: dict[str, int], *, action: str = "submit") -> dict[str, str]:
    return {"action": action, **{f"q-{key}": str(value) for key, value in values.items()}}


ALL_ZERO = {str(n): 0 for n in range(1, 10)}


def text(response: Any) -> str:
    return re.sub(r"\s+", " ", response.content.decode())


# --- The questionnaire -------------------------------------------------------------------------


def test_assign_fill_in_save_resume_and_submit(client_a: User, therapist_x: User) -> None:
    therapist = signed_in(therapist_x)
    page = therapist.get(f"/clients/{client_a.pk}/measures/")
    assert page.status_code == 200
    assert "PHQ-9" in text(page)
    assigned = therapist.post(
        f"/clients/{client_a.pk}/measures/",
        {"instrument": phq9().pk, "schedule": "once"},
    )
    assert assigned.status_code == 302
    assert Assignment.objects.filter(client=client_a, instrument__key="phq9").count() == 1

    client = signed_in(client_a)
    home = text(client.get("/"))
    assert "Fill in: Patient Health Questionnaire-9" in home
    task = MeasureTask.objects.get(client=client_a)
    form = client.get(f"/measures/tasks/{task.pk}/")
    assert form.status_code == 200
    body = text(form)
    assert "Question 1 of 10" in body and "Question 10 of 10" in body
    assert "Little interest or pleasure in doing things" in body
    assert "0 of 10 answered" in body

    # Save and finish later: the draft is kept, encrypted, and shown again.
    saved = client.post(f"/measures/tasks/{task.pk}/", answers({"1": 2, "2": 1}, action="save"))
    assert saved.status_code == 302
    task.refresh_from_db()
    assert task.draft_answers() == {"1": 2, "2": 1}
    with connection.cursor() as cursor:
        cursor.execute("SELECT draft FROM measures_measuretask WHERE id = %s", [task.pk])
        raw = cursor.fetchone()[0]
    assert '"1"' not in raw
    resumed = text(client.get(f"/measures/tasks/{task.pk}/"))
    assert "2 of 10 answered" in resumed
    assert re.search(r'value="2"[^>]*id="id_q-1_2"[^>]*checked|checked[^>]*id="id_q-1_2"', resumed)

    # The script's background save answers JSON.
    background = client.post(
        f"/measures/tasks/{task.pk}/",
        answers({"1": 2, "2": 1, "3": 3}, action="save"),
        headers={"accept": "application/json"},
    )
    assert background.status_code == 200 and background.json() == {"saved": 3}

    sent = client.post(f"/measures/tasks/{task.pk}/", answers({**ALL_ZERO, "1": 2, "2": 1}))
    assert sent.status_code == 302
    result = Response.objects.get(client=client_a)
    assert sent["Location"] == f"/measures/responses/{result.pk}/"
    page_text = text(client.get(sent["Location"]))
    assert "Your score: 3 out of 27 — Minimal" in page_text
    assert "Your therapist has been told" not in page_text
    assert AuditEvent.objects.filter(action=Action.MEASURE_SUBMITTED).count() == 1


def test_bad_input_keeps_the_draft(client_a: User, therapist_x: User) -> None:
    task = task_for(client_a, therapist_x)
    client = signed_in(client_a)
    url = f"/measures/tasks/{task.pk}/"

    # A value that is not one of the answers (a tampered form): refused, good answers kept.
    tampered = client.post(url, answers({"1": 7, "2": 1, "3": 2}))
    assert tampered.status_code == 400
    assert "Choose one of the answers shown." in text(tampered)
    task.refresh_from_db()
    assert task.draft_answers() == {"2": 1, "3": 2}
    assert task.status == TaskStatus.OPEN

    # Sent with questions unanswered: each is flagged, nothing stored, the draft kept.
    partial = client.post(url, answers({"1": 1, "2": 1, "3": 2}))
    assert partial.status_code == 400
    body = text(partial)
    assert "Some questions still need an answer." in body
    assert body.count("Please choose an answer.") == 6
    assert 'role="alert"' in body
    task.refresh_from_db()
    assert task.draft_answers() == {"1": 1, "2": 1, "3": 2}
    assert not Response.objects.exists()

    # An unknown action or garbage fields change nothing else.
    junk = client.post(url, {"action": "submit", "q-99": "1", "q-1": "x"})
    assert junk.status_code == 400
    assert not Response.objects.exists()


def test_submitted_responses_never_change(client_a: User, therapist_x: User) -> None:
    task = task_for(client_a, therapist_x)
    client = signed_in(client_a)
    url = f"/measures/tasks/{task.pk}/"
    first = client.post(url, answers(ALL_ZERO))
    assert first.status_code == 302
    stored = Response.objects.get()
    before = (stored.answers, stored.result, stored.submitted_at)

    # Sending again, or saving a draft over it, shows what was sent and changes nothing.
    again = client.post(url, answers({**ALL_ZERO, "1": 3}))
    assert again.status_code == 302
    assert again["Location"] == f"/measures/responses/{stored.pk}/"
    draft = client.post(url, answers({"1": 3}, action="save"))
    assert draft.status_code == 302
    assert client.get(url)["Location"] == f"/measures/responses/{stored.pk}/"
    assert Response.objects.count() == 1
    stored.refresh_from_db()
    assert (stored.answers, stored.result, stored.submitted_at) == before
    # No page edits a response: the result page takes GET only.
    assert client.post(f"/measures/responses/{stored.pk}/", {"q-1": "3"}).status_code == 405


# --- Safety ------------------------------------------------------------------------------------


def test_positive_item_9_shows_crisis_resources_and_the_alert_is_acknowledged(
    client_a: User, therapist_x: User, crisis_line: str
) -> None:
    task = task_for(client_a, therapist_x)
    client = signed_in(client_a)
    sent = client.post(f"/measures/tasks/{task.pk}/", answers({**ALL_ZERO, "9": 1}))
    result = text(client.get(sent["Location"]))
    # At once, before anything else on the page: the therapist knows, and where to get help.
    assert result.index("Your therapist has been told") < result.index("<h1>")
    assert crisis_line in result
    alert = SafetyAlert.objects.get(client=client_a)
    assert alert.therapist == therapist_x and alert.is_open

    therapist = signed_in(therapist_x)
    home = text(therapist.get("/"))
    assert f'data-alert="{alert.pk}"' in home and "Alice Client" in home
    page = text(therapist.get(f"/alerts/{alert.pk}/"))
    assert "Thoughts that you would be better off dead" in page
    assert "Risk answer" in page and "Several days" in page

    empty = therapist.post(f"/alerts/{alert.pk}/", {"action_taken": "   "})
    assert empty.status_code == 400
    alert.refresh_from_db()
    assert alert.is_open

    done = therapist.post(
        f"/alerts/{alert.pk}/", {"action_taken": "Phoned Alice at 14:10; safety plan agreed."}
    )
    assert done.status_code == 302
    alert.refresh_from_db()
    assert alert.acknowledged_by == therapist_x
    assert alert.action_taken == "Phoned Alice at 14:10; safety plan agreed."
    event = AuditEvent.objects.get(action=Action.ALERT_ACKNOWLEDGED)
    assert event.actor == therapist_x and event.client == client_a
    assert "Phoned" not in json.dumps(event.detail)  # free text stays out of the audit trail
    closed = text(therapist.get(f"/alerts/{alert.pk}/"))
    assert "Acknowledged" in closed and "safety plan agreed" in closed
    assert "Acknowledge the alert" not in closed
    assert f'data-alert="{alert.pk}"' not in text(therapist.get("/"))
    listed = text(therapist.get("/alerts/"))
    assert "No open alerts." in listed and "acknowledged" in listed and "Alice Client" in listed
    # A second acknowledgement changes nothing.
    therapist.post(f"/alerts/{alert.pk}/", {"action_taken": "Something else"})
    alert.refresh_from_db()
    assert alert.action_taken.startswith("Phoned")


def test_a_negative_item_9_is_never_shown_as_no_risk(
    client_a: User, therapist_x: User, crisis_line: str
) -> None:
    task = task_for(client_a, therapist_x)
    client = signed_in(client_a)
    sent = client.post(f"/measures/tasks/{task.pk}/", answers(ALL_ZERO))
    mine = text(client.get(sent["Location"]))
    assert "no risk" not in mine.lower()
    assert "Your therapist has been told" not in mine
    assert crisis_line in mine  # still there, for whenever it is needed
    clinical = text(signed_in(therapist_x).get(sent["Location"]))
    assert "no risk" not in clinical.lower()
    assert "does not rule out risk" in clinical
    assert not SafetyAlert.objects.exists()


# --- Who may see what ------------------------------------------------------------------------


def test_outsiders_see_nothing(
    client_a: User, client_b: User, therapist_x: User, therapist_y: User, admin: User
) -> None:
    task = task_for(client_a, therapist_x)
    signed_in(client_a).post(f"/measures/tasks/{task.pk}/", answers({**ALL_ZERO, "9": 2}))
    stored = Response.objects.get()
    alert = SafetyAlert.objects.get()
    pages = [
        f"/measures/tasks/{task.pk}/",
        f"/measures/responses/{stored.pk}/",
        f"/clients/{client_a.pk}/progress/",
        f"/clients/{client_a.pk}/measures/",
        f"/alerts/{alert.pk}/",
    ]
    browsers = {user.pk: signed_in(user) for user in (client_b, therapist_y, admin)}
    for outsider in (client_b, therapist_y, admin):
        browser = browsers[outsider.pk]
        for url in pages:
            status = browser.get(url).status_code
            assert status in {403, 404}, (outsider.email, url, status)
            body = text(browser.get(url))
            assert "Thoughts that you would be better off dead" not in body
            assert "Alice Client" not in body or url.endswith("/measures/")
    # The admin's list of escalated alerts is empty until it escalates, and never has answers.
    admin_browser = browsers[admin.pk]
    assert "Alice Client" not in text(admin_browser.get("/practice/alerts/"))
    SafetyAlert.objects.filter(pk=alert.pk).update(escalated_at=timezone.now())
    listed = text(admin_browser.get("/practice/alerts/"))
    assert "Alice Client" in listed and "Xena Therapist" in listed and "Still open" in listed
    assert "Several days" not in listed and "More than half" not in listed
    # Once escalated the admin may open the alert: its risk answer, not the other answers.
    escalated = text(admin_browser.get(f"/alerts/{alert.pk}/"))
    assert "Thoughts that you would be better off dead" in escalated
    assert "Little interest or pleasure" not in escalated
    assert AuditEvent.objects.filter(
        action=Action.CLIENT_RECORD_VIEWED, actor=admin, client=client_a
    ).exists()
    # A therapist's reads of the record are audited.
    signed_in(therapist_x).get(f"/measures/responses/{stored.pk}/")
    assert AuditEvent.objects.filter(
        action=Action.CLIENT_RECORD_VIEWED, actor=therapist_x, detail__purpose="measure_response"
    ).exists()


def test_tasks_are_their_clients_only(client_a: User, client_b: User, therapist_x: User) -> None:
    task = task_for(client_a, therapist_x)
    intruder = signed_in(client_b)
    assert intruder.post(f"/measures/tasks/{task.pk}/", answers(ALL_ZERO)).status_code == 404
    task.refresh_from_db()
    assert task.status == TaskStatus.OPEN and task.draft == ""


def _per_response_values_out(body: str) -> str:
    """The page without the values each response makes afresh (CSP nonce, CSRF token)."""
    return re.sub(r'(nonce|value)="[^"]*"', "", body)


def test_unknown_and_foreign_ids_answer_alike(
    client_a: User, client_b: User, therapist_x: User, therapist_y: User, admin: User
) -> None:
    """An id that does not exist and one the person may not reach get the same 404 page, for
    pages and for forms: the answer never tells an outsider which ids exist."""
    task = task_for(client_a, therapist_x)
    signed_in(client_a).post(f"/measures/tasks/{task.pk}/", answers({**ALL_ZERO, "9": 2}))
    stored, alert = Response.objects.get(), SafetyAlert.objects.get()
    assignment = Assignment.objects.get()
    ended = (assignment.is_active, assignment.ended_at)  # sent: a one-off ends by itself
    unknown = 10**9
    gets = {
        client_b: [
            (f"/measures/tasks/{task.pk}/", f"/measures/tasks/{unknown}/"),
            (f"/measures/responses/{stored.pk}/", f"/measures/responses/{unknown}/"),
        ],
        therapist_y: [
            (f"/measures/responses/{stored.pk}/", f"/measures/responses/{unknown}/"),
            (f"/clients/{client_a.pk}/progress/", f"/clients/{unknown}/progress/"),
            (f"/clients/{client_a.pk}/measures/", f"/clients/{unknown}/measures/"),
            (f"/alerts/{alert.pk}/", f"/alerts/{unknown}/"),
        ],
        admin: [
            (f"/measures/responses/{stored.pk}/", f"/measures/responses/{unknown}/"),
            (f"/clients/{client_a.pk}/progress/", f"/clients/{unknown}/progress/"),
            (f"/alerts/{alert.pk}/", f"/alerts/{unknown}/"),
        ],
    }
    end = f"/clients/{client_a.pk}/measures/{{}}/end/"
    posts = {
        client_b: [(f"/measures/tasks/{task.pk}/", f"/measures/tasks/{unknown}/")],
        therapist_y: [
            (end.format(assignment.pk), end.format(unknown)),
            (f"/alerts/{alert.pk}/", f"/alerts/{unknown}/"),
        ],
        admin: [(f"/alerts/{alert.pk}/", f"/alerts/{unknown}/")],
    }
    browsers = {person.pk: signed_in(person) for person in (client_b, therapist_y, admin)}
    for person, pairs in gets.items():
        browser = browsers[person.pk]
        browser.get("/")  # shows (and so clears) the message from signing in
        for foreign, missing in pairs:
            seen = [browser.get(url) for url in (foreign, missing)]
            assert [page.status_code for page in seen] == [404, 404], (person.email, foreign)
            bodies = {_per_response_values_out(page.content.decode()) for page in seen}
            assert len(bodies) == 1, (person.email, foreign)
    form = {"action_taken": "Closed by an outsider", **answers(ALL_ZERO)}
    for person, pairs in posts.items():
        browser = browsers[person.pk]
        for foreign, missing in pairs:
            statuses = [browser.post(url, form).status_code for url in (foreign, missing)]
            assert statuses == [404, 404], (person.email, foreign)
    # The therapist's own client, with an assignment id that is not theirs or does not exist.
    own = signed_in(therapist_x)
    assert own.post(end.format(unknown)).status_code == 404
    assignment.refresh_from_db()
    alert.refresh_from_db()
    assert (assignment.is_active, assignment.ended_at) == ended
    assert alert.acknowledged_at is None
    assert MeasureTask.objects.get(pk=task.pk).status == TaskStatus.DONE


# --- Progress ----------------------------------------------------------------------------------


def progress_history(client: User, count: int) -> None:
    instruments = [Instrument.objects.get(key=k, builtin=True) for k in ("phq9", "gad7", "k10")]
    history(client, instruments, count, start=timezone.now() - timedelta(days=7 * count))


def test_progress_chart_is_an_accessible_svg_with_a_table(
    client_a: User, therapist_x: User
) -> None:
    now = timezone.now()
    scores = [(20, 60), (16, 40), (12, 30), (9, 20), (5, 10)]  # PHQ-9 totals, days ago
    for total, days in scores:
        values = {str(n): 0 for n in range(1, 10)}
        left = total
        for key in map(str, range(1, 9)):
            values[key] = min(3, left)
            left -= values[key]
        response(client_a, phq9(), values, at=now - timedelta(days=days))
    page = signed_in(therapist_x).get(f"/clients/{client_a.pk}/progress/")
    assert page.status_code == 200
    body = text(page)
    svg = re.search(r"<svg class=\"chart\"[^>]*>.*?</svg>", body)
    assert svg, "no chart"
    chart = svg.group(0)
    assert 'role="img"' in chart
    labelled = re.search(r'aria-labelledby="([^"]+) ([^"]+)"', chart)
    assert labelled
    title_id, desc_id = labelled.groups()
    assert f'<title id="{title_id}">PHQ-9 scores over time</title>' in chart
    desc = re.search(rf'<desc id="{desc_id}">(.*?)</desc>', chart)
    assert desc and "First 20 (Severe), latest 5 (Mild)" in desc.group(1)
    assert "Shaded bands: Minimal 0 to 4" in desc.group(1)
    assert chart.count("<rect") >= 5  # five severity bands
    # The table alternative has every score.
    table = re.search(r"<caption[^>]*>PHQ-9 scores</caption>.*?</table>", body)
    assert table
    assert len(re.findall(r"<tr><td>", table.group(0))) == len(scores)
    # The clinical facts: change since baseline and last, reliable change with its source.
    assert "Reliable improvement" in body
    assert "a change of at least 6 points (NHS Talking Therapies" in body
    assert "Recovered</dt><dd>Yes" in body


def test_progress_page_queries_do_not_grow_with_responses(
    client_a: User, therapist_x: User
) -> None:
    browser = signed_in(therapist_x)
    url = f"/clients/{client_a.pk}/progress/"
    progress_history(client_a, 5)
    browser.get(url)
    with CaptureQueriesContext(connection) as few:
        assert browser.get(url).status_code == 200
    progress_history(client_a, 40)
    with CaptureQueriesContext(connection) as many:
        page = browser.get(url)
    assert page.status_code == 200
    assert text(page).count('<svg class="chart"') == 3
    assert len(many) == len(few), [q["sql"][:120] for q in many.captured_queries]


def test_client_sees_their_progress_in_plain_words(client_a: User, therapist_x: User) -> None:
    now = timezone.now()
    response(client_a, phq9(), {**ALL_ZERO, "1": 3, "2": 3, "3": 3, "4": 3}, at=now - timedelta(30))
    response(client_a, phq9(), {**ALL_ZERO, "1": 1}, at=now - timedelta(2))
    page = signed_in(client_a).get("/measures/progress/")
    assert page.status_code == 200
    body = text(page)
    assert "Latest: 1 out of 27" in body
    assert "That is a real improvement" in body
    assert 'role="img"' in body


def test_feedback_trend_is_labelled_as_not_validated(client_a: User, therapist_x: User) -> None:
    feedback = Instrument.objects.get(key="rapport-feedback")
    now = timezone.now()
    for days, value in ((14, 4), (7, 3)):
        response(
            client_a,
            feedback,
            {"heard": value, "goals": value, "approach": value, "overall": value, "technology": 4},
            at=now - timedelta(days=days),
        )
    body = text(signed_in(therapist_x).get(f"/clients/{client_a.pk}/progress/"))
    assert "Rapport's own questions: not a validated instrument" in body
    assert "How heard and understood did you feel today?" in body
    assert "4 Completely" in body and "3 Mostly" in body


# --- Assignments and instruments ----------------------------------------------------------------


def test_assignments_are_validated_and_can_end(client_a: User, therapist_x: User) -> None:
    browser = signed_in(therapist_x)
    url = f"/clients/{client_a.pk}/measures/"
    gad7 = Instrument.objects.get(key="gad7", builtin=True)
    missing_days = browser.post(url, {"instrument": gad7.pk, "schedule": "interval"})
    assert missing_days.status_code == 400
    assert "Say how many days apart." in text(missing_days)
    ok = browser.post(url, {"instrument": gad7.pk, "schedule": "interval", "interval_days": 14})
    assert ok.status_code == 302
    twice = browser.post(url, {"instrument": gad7.pk, "schedule": "once"})
    assert twice.status_code == 400 and "already assigned" in text(twice)
    feedback = Instrument.objects.get(key="rapport-feedback")
    refused = browser.post(url, {"instrument": feedback.pk, "schedule": "once"})
    assert refused.status_code == 400
    assignment = Assignment.objects.get(client=client_a)
    assert assignment.interval_days == 14
    ended = browser.post(f"/clients/{client_a.pk}/measures/{assignment.pk}/end/")
    assert ended.status_code == 302
    assignment.refresh_from_db()
    assert not assignment.is_active


LICENSED = {
    "format": 1,
    "key": "alliance-demo",
    "version": "1",
    "name": "Demo alliance measure",
    "short_name": "DAM",
    "construct": "alliance",
    "validated": True,
    "copyright": "© Example Holder",
    "licence": "Licensed to the practice",
    "stem": "",
    "option_sets": {"agree": [{"value": 0, "label": "No"}, {"value": 1, "label": "Yes"}]},
    "items": [
        {"key": "a", "text": "We agree on goals.", "options": "agree"},
        {"key": "b", "text": "I trust my therapist.", "options": "agree"},
    ],
    "scoring": {
        "method": "sum",
        "items": ["a", "b"],
        "missing": {"allowed": 0, "method": "refuse"},
    },
    "range": {"min": 0, "max": 2},
    "higher_is_worse": False,
    "bands": [],
}


def upload(data: Any, name: str = "dam.json") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, json.dumps(data).encode(), content_type="application/json")


def test_admin_imports_a_licensed_instrument(admin: User) -> None:
    browser = signed_in(admin)
    listed = text(browser.get("/practice/instruments/"))
    assert "PHQ-9" in listed and "Built in" in listed
    builtin = text(browser.get(f"/practice/instruments/{phq9().pk}/"))
    assert "Thoughts that you would be better off dead" in builtin
    assert "9 (≥ 1)" in builtin and "44261-6" in builtin

    broken = {**LICENSED, "range": {"min": 0, "max": 5}, "colour": "red"}
    refused = browser.post(
        "/practice/instruments/",
        {"definition_file": upload(broken), "licence_record": "Licence 42, until 2030"},
    )
    assert refused.status_code == 400
    body = text(refused)
    assert "unknown field &#x27;colour&#x27;" in body and "does not match" in body
    not_json = browser.post(
        "/practice/instruments/",
        {
            "definition_file": SimpleUploadedFile("x.json", b"{nope"),
            "licence_record": "Licence 42",
        },
    )
    assert not_json.status_code == 400 and "not valid JSON" in text(not_json)
    no_licence = browser.post(
        "/practice/instruments/", {"definition_file": upload(LICENSED), "licence_record": " "}
    )
    assert no_licence.status_code == 400
    assert not Instrument.objects.filter(key="alliance-demo").exists()

    done = browser.post(
        "/practice/instruments/",
        {"definition_file": upload(LICENSED), "licence_record": "Licence 42, until 2030"},
    )
    assert done.status_code == 302
    instrument = Instrument.objects.get(key="alliance-demo")
    assert instrument.licence_record == "Licence 42, until 2030" and not instrument.builtin
    assert AuditEvent.objects.filter(action=Action.INSTRUMENT_IMPORTED).exists()
    detail = text(browser.get(done["Location"]))
    assert "I trust my therapist." in detail and "Licence 42, until 2030" in detail
    changed = browser.post(
        done["Location"], {"licence_record": "Licence 42, renewed to 2032", "is_active": ""}
    )
    assert changed.status_code == 302
    instrument.refresh_from_db()
    assert instrument.licence_record.endswith("2032") and not instrument.is_active


def test_pages_answer_with_the_right_status_for_their_roles(
    client_a: User, therapist_x: User, admin: User
) -> None:
    assert signed_in(client_a).get("/practice/instruments/").status_code == 403
    assert signed_in(therapist_x).get("/measures/").status_code == 403
    manager = signed_in(admin)
    assert manager.get("/alerts/").status_code == 403
    assert Client().get("/measures/").status_code == 302
    assert "No escalated alert is open." in text(manager.get("/"))


def test_chart_marks_change_by_shape_and_sessions_by_modality(db: Any) -> None:
    from rapport.measures import charts

    start = timezone.now() - timedelta(days=30)
    svg = charts.progress_chart(
        chart_id="c<1>",
        name="Test & <scale>",
        points=[
            charts.Point(start, 18, "High"),
            charts.Point(start + timedelta(days=10), 10, "Low", charts.IMPROVEMENT),
            charts.Point(start + timedelta(days=20), 25, "High", charts.DETERIORATION),
        ],
        sessions=[
            charts.Session(start + timedelta(days=1), "video"),
            charts.Session(start + timedelta(days=8), "audio"),
            charts.Session(start + timedelta(days=15), "text"),
        ],
        bands=[charts.Band(0, 14, "Low <ok>"), charts.Band(15, 27, "High")],
        low=0,
        high=27,
    )
    assert "<scale>" not in svg and "Test &amp; &lt;scale&gt;" in svg
    assert 'id="c&lt;1&gt;"' in svg and "Low &lt;ok&gt;" in svg
    # Improvement is a diamond (path), deterioration a square (rect), other scores circles.
    assert svg.count('fill="#1e6b3a"') == 1 and svg.count('fill="#a32020"') == 1
    assert svg.count("<circle") == 1
    letters = re.findall(r'font-size="11">([VAT])</text>', svg)
    assert letters == ["V", "A", "T"]
    desc = re.search(r"<desc[^>]*>(.*?)</desc>", svg)
    assert desc
    assert "1 score shows reliable improvement" in desc.group(1)
    assert "3 sessions: 1 audio only, 1 live text, 1 video." in desc.group(1)


def test_the_unsent_risk_limit_is_a_practice_setting(admin: User) -> None:
    browser = signed_in(admin)
    form = text(browser.get("/practice/settings/"))
    assert "tell the therapist of a risk answer left unsent after (minutes)" in form.lower()
    settings = {
        "name": "Harbour Counselling",
        "crisis_resources": CRISIS,
        "late_cancel_hours": "24",
        "reminder_minutes": "1440,60",
        "join_opens_minutes": "10",
        "alert_escalation_minutes": "60",
        "message_attachment_limit_mb": "20",
        "late_note_hours": "72",
        "outcomes_suppression_threshold": "10",
        "outcomes_episode_gap_days": "90",
        "offers_answered_by": "therapist",
        "offer_answer_hours": "48",
        "retention_jurisdiction": "us",
    }
    refused = browser.post("/practice/settings/", {**settings, "unsent_risk_minutes": "5"})
    assert refused.status_code == 200
    assert "greater than or equal to 15" in text(refused)
    assert Practice.get().unsent_risk_minutes == 120
    saved = browser.post("/practice/settings/", {**settings, "unsent_risk_minutes": "45"})
    assert saved.status_code == 302
    assert Practice.get().unsent_risk_minutes == 45
