"""Intake: forms as data, sending, drafts, submitting once, corrections, the readable layout,
the safety alert a risk answer raises, and intake's part of the record."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.urls import reverse
from fhir.resources.R4B import get_fhir_model_class

from rapport.accounts.models import User
from rapport.audit.models import AuditEvent
from rapport.audit.services import Action
from rapport.care.services import start_care
from rapport.intake import record
from rapport.intake.catalogue import (
    builtin_definitions,
    choose_default,
    default_form,
    newest_version,
)
from rapport.intake.definitions import DefinitionError, load_definition
from rapport.intake.models import ImmutableError, Intake, IntakeForm, IntakeSubmission
from rapport.intake.services import IntakeProblems, submit
from rapport.measures.models import SafetyAlert
from tests.conftest import signed_in
from tests.intake_data import adult_answers, as_post, send_and_submit, send_form
from tests.mail import Inbox, body_of
from tests.worker import run_task_worker

# --- Definitions ---------------------------------------------------------------------------------


def test_the_built_in_forms_load_and_screen_for_risk() -> None:
    forms = {definition.key: definition for definition, _raw in builtin_definitions()}
    assert set(forms) == {"adult", "minor"}
    for definition in forms.values():
        risk = [f for f in definition.fields if f.is_risk_question]
        assert risk and all(f.follow_up is not None for f in risk)
        kinds = {f.type for f in definition.fields}
        assert {"consent", "signature", "yes_no", "long_text"} <= kinds
    assert forms["minor"].audience == "guardian"


def test_the_loader_names_every_problem() -> None:
    with pytest.raises(DefinitionError) as caught:
        load_definition(
            {
                "key": "Bad Key",
                "version": "",
                "name": "X",
                "colour": "red",
                "sections": [
                    {
                        "title": "",
                        "fields": [
                            {"key": "a", "type": "essay", "label": "A"},
                            {"key": "b", "type": "yes_no", "label": "B", "risk_answers": ["maybe"]},
                            {"key": "b", "type": "consent", "label": "C", "required": False},
                            {"key": "d", "type": "short_text", "label": "D", "follow_up": {}},
                        ],
                    }
                ],
            }
        )
    problems = "\n".join(caught.value.problems)
    for expected in (
        "unknown property “colour”".lower(),
        "“bad key”",
        "“version” is missing",
        "section 1: “title” is missing",
        "“type” must be one of",
        "risk answer “maybe” is not one of its answers",
        "“b” is used twice",
        "always required",
        "only a yes/no field has a follow-up",
    ):
        assert expected in problems.lower(), expected


# --- Filling in ----------------------------------------------------------------------------------


def test_a_draft_keeps_partial_answers_encrypted(therapist_x: User, client_a: User) -> None:
    intake = send_form(therapist_x, client_a)
    browser = signed_in(client_a)
    url = reverse("intake_fill", kwargs={"intake_id": intake.pk})
    page = browser.post(url, {"action": "save", "f-reason": "Secret worry", "f-how_long": "years"})
    assert page.status_code == 302
    intake.refresh_from_db()
    assert intake.draft_answers()["reason"] == "Secret worry"
    with connection.cursor() as cursor:
        cursor.execute("SELECT draft FROM intake_intake WHERE id = %s", [intake.pk])
        assert "Secret worry" not in cursor.fetchone()[0]
    again = browser.get(url).content.decode()
    assert "Secret worry" in again and 'value="years" checked' in again


def test_a_submission_missing_answers_comes_back_400_keeping_what_was_typed(
    therapist_x: User, client_a: User
) -> None:
    intake = send_form(therapist_x, client_a)
    data = as_post(adult_answers(risk=True))
    del data["f-telehealth_consent"], data["f-self_harm_now__follow_up"]
    data["f-signature"] = ""
    data["f-goals"] = "Typed goals stay"
    page = signed_in(client_a).post(
        reverse("intake_fill", kwargs={"intake_id": intake.pk}), {"action": "submit", **data}
    )
    html = page.content.decode()
    assert page.status_code == 400
    assert "error-summary" in html and "Typed goals stay" in html
    for field in ("f-telehealth_consent", "f-signature", "f-self_harm_now__follow_up"):
        assert f'href="#id_{field}"' in html
    assert not IntakeSubmission.objects.exists()
    assert SafetyAlert.objects.count() == 0


def test_a_submitted_intake_never_changes(therapist_x: User, client_a: User) -> None:
    submission = send_and_submit(therapist_x, client_a, risk=False)
    assert submission.answer_values()["signature"]["name"] == "Alice Client"
    submission.answers = "{}"
    with pytest.raises(ImmutableError):
        submission.save()
    intake = Intake.objects.get(pk=submission.intake_id)
    browser = signed_in(client_a)
    url = reverse("intake_fill", kwargs={"intake_id": intake.pk})
    sent = browser.post(url, {"action": "submit", **as_post(adult_answers(risk=False))})
    assert sent.status_code == 302 and IntakeSubmission.objects.count() == 1
    with pytest.raises(ValidationError, match="already been sent"):
        submit(intake, client_a, adult_answers(risk=False))


def test_a_correction_is_a_new_version_and_both_are_shown(
    therapist_x: User, client_a: User
) -> None:
    first = send_and_submit(therapist_x, client_a, risk=False)
    browser = signed_in(therapist_x)
    url = reverse("intake_correct", kwargs={"submission_id": first.pk})
    assert "Low mood since the spring." in browser.get(url).content.decode()
    data = as_post(adult_answers(risk=False)) | {"f-reason": "Low mood since the winter."}
    bad = browser.post(url, data | {"f-emergency_phone": ""})
    assert bad.status_code == 400 and "Low mood since the winter." in bad.content.decode()
    done = browser.post(url, data)
    second = IntakeSubmission.objects.get(corrects=first)
    assert done["Location"] == reverse("intake_detail", kwargs={"submission_id": second.pk})
    assert second.submitted_by == therapist_x
    old = browser.get(reverse("intake_detail", kwargs={"submission_id": first.pk}))
    html = old.content.decode()
    assert 'id="superseded"' in html and "Low mood since the spring." in html
    assert browser.post(url, data).status_code == 302  # a second correction of the old one
    assert IntakeSubmission.objects.count() == 2


def test_the_therapist_reads_the_answers_laid_out_and_the_read_is_audited(
    therapist_x: User, client_a: User
) -> None:
    submission = send_and_submit(therapist_x, client_a, risk=True)
    page = signed_in(therapist_x).get(
        reverse("intake_detail", kwargs={"submission_id": submission.pk})
    )
    html = page.content.decode()
    assert page.status_code == 200
    assert "Your safety" in html and "(risk answer)" in html
    assert 'class="follow-up"' in html and "Passing thoughts, no plan." in html
    assert "Signed by Alice Client on" in html
    assert AuditEvent.objects.filter(action=Action.INTAKE_VIEWED, actor=therapist_x).exists()
    record_page = signed_in(therapist_x).get(
        reverse("client_intakes", kwargs={"client_id": client_a.pk})
    )
    assert reverse("intake_detail", kwargs={"submission_id": submission.pk}) in (
        record_page.content.decode()
    )


def test_the_client_sees_a_waiting_intake_on_their_home_page(
    therapist_x: User, client_a: User
) -> None:
    intake = send_form(therapist_x, client_a)
    home = signed_in(client_a).get("/").content.decode()
    assert reverse("intake_fill", kwargs={"intake_id": intake.pk}) in home


# --- Sending -------------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_starting_care_sends_the_default_form_once_with_a_content_free_email(
    smtp: Inbox, client_a: User, therapist_y: User, admin: User
) -> None:
    start_care(therapist_y, client_a, actor=therapist_y)
    assert not Intake.objects.exists()  # nothing goes out until the practice chooses a form
    choose_default("adult", admin)
    start_care(therapist_y, client_b_of(), actor=admin)
    assert Intake.objects.get().client.email == "client.b2@example.test"
    Intake.objects.all().delete()
    end_all_care(client_a)
    start_care(therapist_y, client_a, actor=therapist_y)
    [intake] = Intake.objects.filter(client=client_a)
    assert intake.form.key == "adult"
    run_task_worker()
    [mail] = [m for m in smtp.take() if m["To"] == client_a.email]
    assert mail["Subject"] == "You have a form to fill in in Rapport"
    body = body_of(mail)
    assert f"/intake/{intake.pk}/" in body
    assert "safety" not in body.lower() and "Adult intake" not in body
    # A second relationship (another therapist) sends no second form of the same kind.
    other = User.objects.create(email="t3@example.test", full_name="Third", role="therapist")
    start_care(other, client_a, actor=admin)
    assert Intake.objects.filter(client=client_a).count() == 1


def client_b_of() -> User:
    return User.objects.create(email="client.b2@example.test", full_name="Bea Two", role="client")


def end_all_care(client: User) -> None:
    from rapport.care.models import CareRelationship

    CareRelationship.objects.filter(client=client).update(status=CareRelationship.Status.ENDED)


def test_the_therapist_sends_the_minor_form_by_hand(therapist_x: User, client_a: User) -> None:
    browser = signed_in(therapist_x)
    url = reverse("client_intakes", kwargs={"client_id": client_a.pk})
    assert browser.post(url, {"form_key": "nonsense"}).status_code == 400
    assert browser.post(url, {"form_key": "minor"}).status_code == 302
    assert Intake.objects.get(client=client_a).form.key == "minor"


# --- The practice's forms ------------------------------------------------------------------------


def test_an_admin_adds_a_version_and_chooses_the_default(admin: User) -> None:
    browser = signed_in(admin)
    url = reverse("intake_forms")
    broken = browser.post(url, {"definition": '{"key": "short", "version": '})
    assert broken.status_code == 400 and "not valid JSON" in broken.content.decode()
    assert '{"key": "short", "version": ' in broken.content.decode().replace("&quot;", '"')
    raw: dict[str, Any] = json.loads(json.dumps(newest_version("adult").definition))  # type: ignore[union-attr]
    raw["version"] = "2"
    assert browser.post(url, {"definition": json.dumps(raw)}).status_code == 302
    same = browser.post(url, {"definition": json.dumps(raw)})
    assert same.status_code == 400 and "already exists" in same.content.decode()
    assert newest_version("adult").version == "2"  # type: ignore[union-attr]
    assert IntakeForm.objects.filter(key="adult").count() == 2
    assert default_form() is None
    browser.post(url, {"action": "default", "key": "minor"})
    assert default_form().key == "minor"  # type: ignore[union-attr]


# --- Safety alerts -------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_a_risk_answer_opens_an_alert_for_each_therapist(
    smtp: Inbox, therapist_x: User, client_a: User, therapist_y: User, admin: User
) -> None:
    start_care(therapist_y, client_a, actor=admin)
    intake = send_form(therapist_y, client_a)
    run_task_worker()
    smtp.take()  # the intake notice
    signed_in(client_a).post(
        reverse("intake_fill", kwargs={"intake_id": intake.pk}),
        {"action": "submit", **as_post(adult_answers(risk=True))},
    )
    submission = IntakeSubmission.objects.get()
    own = signed_in(client_a).get(reverse("intake_detail", kwargs={"submission_id": submission.pk}))
    assert 'id="crisis"' in own.content.decode() and "(risk answer)" not in own.content.decode()
    alerts = SafetyAlert.objects.order_by("therapist_id")
    assert {a.therapist_id for a in alerts} == {therapist_x.pk, therapist_y.pk}
    assert all(a.kind == "risk" and a.response_id is None and a.source == "intake" for a in alerts)
    from django_tasks_db.models import DBTaskResult

    assert DBTaskResult.objects.filter(task_path__endswith="escalate_alert").count() == 2
    run_task_worker()
    mails = [m for m in smtp.take() if "/alerts/" in body_of(m)]
    assert sorted(m["To"] for m in mails) == sorted([therapist_x.email, therapist_y.email])
    assert all("Alice" not in body_of(m) for m in mails)
    alert = alerts.get(therapist=therapist_x)
    page = signed_in(therapist_x).get(reverse("alert_detail", kwargs={"alert_id": alert.pk}))
    html = page.content.decode()
    assert page.status_code == 200 and 'id="alert-source"' in html
    assert reverse("intake_detail", kwargs={"submission_id": submission.pk}) in html
    assert "Adult intake" in signed_in(therapist_x).get(reverse("alerts")).content.decode()
    assert "risk answer on Adult intake" in signed_in(therapist_x).get("/").content.decode()
    # Unacknowledged past the deadline, it escalates to the admin like any risk alert.
    from datetime import timedelta

    from rapport.measures.alerts import escalate

    assert escalate(alert.pk, now=alert.opened_at + timedelta(days=1))
    run_task_worker()
    assert [m["To"] for m in smtp.take() if m["To"] == admin.email]
    as_admin = signed_in(admin)
    escalated = as_admin.get(reverse("alert_detail", kwargs={"alert_id": alert.pk}))
    assert escalated.status_code == 200
    assert "Adult intake" in escalated.content.decode()
    assert as_admin.get(reverse("escalated_alerts")).status_code == 200


def test_a_non_risk_answer_opens_no_alert(therapist_x: User, client_a: User) -> None:
    send_and_submit(therapist_x, client_a, risk=False)
    assert not SafetyAlert.objects.exists()


def test_an_alert_needs_a_response_or_a_source(therapist_x: User, client_a: User) -> None:
    from django.db import IntegrityError, transaction

    with pytest.raises(IntegrityError), transaction.atomic():
        SafetyAlert.objects.create(kind="risk", client=client_a, therapist=therapist_x)


def test_intake_problems_name_the_fields(therapist_x: User, client_a: User) -> None:
    intake = send_form(therapist_x, client_a)
    with pytest.raises(IntakeProblems) as caught:
        submit(intake, client_a, {})
    assert {"f-reason", "f-telehealth_consent", "f-signature"} <= set(caught.value.problems)


# --- The record ----------------------------------------------------------------------------------


def test_record_entries_and_fhir_resources(
    therapist_x: User, client_a: User, django_assert_num_queries: Any
) -> None:
    first = send_and_submit(therapist_x, client_a, risk=True)
    send_form(therapist_x, client_a, "minor")
    browser = signed_in(client_a)
    browser.post(
        reverse("intake_correct", kwargs={"submission_id": first.pk}),
        as_post(adult_answers(risk=False)),
    )
    for _n in range(3):
        send_and_submit(therapist_x, client_a, risk=False)
    with django_assert_num_queries(2):
        rows = record.entries(client_a, viewer=therapist_x)
    assert [r.kind for r in rows] == ["intake"] * 6
    assert any("(risk answer)" in label for label, _text in rows[0].details)
    assert record.entries(client_a, viewer=therapist_x, export=True)[-1].status != "not started"
    with django_assert_num_queries(1):
        resources = record.fhir_resources(client_a, viewer=therapist_x)
    kinds = [r["resourceType"] for r in resources]
    assert kinds.count("Questionnaire") == 1 and kinds.count("QuestionnaireResponse") == 5
    for resource in resources:
        get_fhir_model_class(resource["resourceType"]).model_validate(resource)
    urls = {r["url"] for r in resources if r["resourceType"] == "Questionnaire"}
    assert all(r["questionnaire"] in urls for r in resources if "questionnaire" in r)
    assert [r["status"] for r in resources[1:]].count("amended") == 1


@pytest.mark.django_db(transaction=True)
def test_a_first_booking_sends_the_chosen_form(
    therapist_x: User, client_a: User, admin: User
) -> None:
    from datetime import timedelta

    from django.utils import timezone

    from rapport.scheduling.models import SessionType
    from tests.scheduling_data import direct_appointment

    choose_default("minor", admin)
    session_type = SessionType.objects.create(therapist=therapist_x, name="Session", minutes=50)
    direct_appointment(session_type, client_a, timezone.now() + timedelta(days=2))
    direct_appointment(session_type, client_a, timezone.now() + timedelta(days=9))
    [intake] = Intake.objects.filter(client=client_a)
    assert (intake.form.key, intake.sent_by) == ("minor", therapist_x)
