"""The FHIR R4 export of a client's measures: valid resources, the right codes, and who may take it.

Every resource is validated with the ``fhir.resources`` models. Its current major version models
R5 by default and keeps R4 in the ``R4B`` sub-package (R4B changed none of the resources exported
here: Bundle, Patient, Questionnaire, QuestionnaireResponse, Observation). The models check
element names, types and cardinality but not codes from required value sets, nor references, so
those are checked here too.
"""

from __future__ import annotations

import json
import time
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
import time_machine
from django.conf import settings
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from fhir.resources.R4B import get_fhir_model_class

from rapport.accounts.models import User
from rapport.audit.models import AuditEvent
from rapport.audit.services import Action
from rapport.care.access import profile_of
from rapport.care.models import EmergencyAccess
from rapport.measures import fhir
from rapport.measures.definition_files import builtin_definitions
from rapport.measures.definitions import Definition
from rapport.measures.models import Response
from tests.conftest import signed_in
from tests.measures_data import builtin_instrument, history, instrument_row, response

T0 = datetime(2026, 3, 2, 15, 30, tzinfo=UTC)
LOINC = "http://loinc.org"

# From the reference data (clinical-instruments.md), not from the definition files.
PHQ9_ITEMS = [
    "44250-9", "44255-8", "44259-0", "44254-1", "44251-7",
    "44258-2", "44252-5", "44253-3", "44260-8",
]  # fmt: skip
FREQUENCY_ANSWERS = {"LA6568-5": 0, "LA6569-3": 1, "LA6570-1": 2, "LA6571-9": 3}
TOTAL_CODES = {"phq9": "44261-6", "gad7": "70274-6", "phq2": "55758-7", "phq4": "70272-0"}
PANEL_CODES = {"phq9": "44249-1", "gad7": "69737-5", "phq2": "55757-9"}

# Codes from the required bindings of the R4 elements used (the models do not check them).
STATUSES = {
    "Questionnaire": {"draft", "active", "retired", "unknown"},
    "QuestionnaireResponse": {"in-progress", "completed", "amended", "entered-in-error", "stopped"},
    "Observation": {
        "registered", "preliminary", "final", "amended", "corrected", "cancelled",
        "entered-in-error", "unknown",
    },
}  # fmt: skip
ITEM_TYPES = {
    "group", "display", "boolean", "decimal", "integer", "date", "dateTime", "time", "string",
    "text", "url", "choice", "open-choice", "attachment", "reference", "quantity",
}  # fmt: skip


def export(browser: Any, client: User) -> Any:
    return browser.get(reverse("measures_fhir_export", kwargs={"client_id": client.pk}))


def bundle_of(http_response: Any) -> dict[str, Any]:
    assert http_response.status_code == 200, http_response.content[:300]
    assert http_response["Content-Type"] == "application/fhir+json; fhirVersion=4.0"
    data: dict[str, Any] = json.loads(http_response.content)
    return data


def validated(bundle: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Validate the bundle and each resource with the R4 models, check what they do not, and
    return the resources by fullUrl."""
    get_fhir_model_class("Bundle").model_validate(bundle)
    assert bundle["type"] == "collection"
    by_url: dict[str, dict[str, Any]] = {}
    for entry in bundle["entry"]:
        resource = entry["resource"]
        kind = resource["resourceType"]
        model = get_fhir_model_class(kind).model_validate(resource)
        # Nothing was dropped or reshaped on the way in: every element is a known R4 element.
        assert json.loads(model.model_dump_json(exclude_none=True)) == resource
        assert entry["fullUrl"] == f"urn:uuid:{resource['id']}"
        assert entry["fullUrl"] not in by_url
        if kind in STATUSES:
            assert resource["status"] in STATUSES[kind], resource["status"]
        by_url[entry["fullUrl"]] = resource
    check_links(by_url)
    return by_url


def check_links(by_url: dict[str, dict[str, Any]]) -> None:
    """Every reference resolves inside the bundle, to a resource of the right kind; answers are
    among their question's options."""
    questionnaires = {
        f"{r['url']}|{r['version']}": r
        for r in by_url.values()
        if r["resourceType"] == "Questionnaire"
    }
    (patient_url,) = [url for url, r in by_url.items() if r["resourceType"] == "Patient"]
    for resource in by_url.values():
        kind = resource["resourceType"]
        if kind == "Questionnaire":
            for item in resource["item"]:
                assert item["type"] in ITEM_TYPES
        if kind == "QuestionnaireResponse":
            assert resource["subject"] == {"reference": patient_url}
            form = questionnaires[resource["questionnaire"]]
            options = {
                item["linkId"]: [o["valueCoding"] for o in item.get("answerOption", [])]
                for item in form["item"]
            }
            for item in resource["item"]:
                (answer,) = item["answer"]
                offered = [
                    {k: v for k, v in coding.items() if k != "extension"}
                    for coding in options[item["linkId"]]
                ]
                assert answer["valueCoding"] in offered
        if kind == "Observation":
            assert resource["subject"] == {"reference": patient_url}
            (source,) = resource["derivedFrom"]
            assert by_url[source["reference"]]["resourceType"] == "QuestionnaireResponse"


def of_kind(by_url: dict[str, dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [r for r in by_url.values() if r["resourceType"] == kind]


def full_answers(definition: Definition, level: int) -> dict[str, int | None]:
    """Every item answered with its option at position ``level`` (clamped); risk items lowest."""
    answers: dict[str, int | None] = {}
    for item in definition.items:
        values = sorted(item.values)
        position = 0 if item.risk_at_or_above is not None else min(level, len(values) - 1)
        answers[item.key] = values[position]
    return answers


@pytest.fixture
def every_instrument(client_a: User) -> list[Response]:
    """client_a answered every built-in instrument twice; where the instrument tolerates a
    missing answer, the second time one scored item was skipped."""
    rows = []
    for n, definition in enumerate(builtin_definitions()):
        instrument = instrument_row(definition)
        at = T0 + timedelta(days=n)
        rows.append(response(client_a, instrument, full_answers(definition, 2), at=at))
        answers = full_answers(definition, 1)
        if definition.scoring.missing_allowed:  # a risk item always needs its answer
            skipped = next(i for i in definition.scored_items if i.risk_at_or_above is None)
            answers[skipped.key] = None
        for item in definition.items:
            if not item.required:
                answers[item.key] = None
        rows.append(response(client_a, instrument, answers, at=at + timedelta(hours=1)))
    return rows


def test_every_resource_validates_as_r4(
    every_instrument: list[Response], client_a: User, therapist_x: User
) -> None:
    by_url = validated(bundle_of(export(signed_in(therapist_x), client_a)))

    definitions = builtin_definitions()
    assert len(of_kind(by_url, "Questionnaire")) == len(definitions)
    assert len(of_kind(by_url, "QuestionnaireResponse")) == len(every_instrument)
    totals = [r for r in every_instrument if r.result_data()["total"] is not None]
    assert len(of_kind(by_url, "Observation")) == len(totals)
    for observation in of_kind(by_url, "Observation"):
        assert observation["status"] == "final"
        assert observation["category"][0]["coding"][0] == {
            "system": "http://terminology.hl7.org/CodeSystem/observation-category",
            "code": "survey",
            "display": "Survey",
        }
        quantity = observation["valueQuantity"]
        assert quantity["unit"] == quantity["code"] == "{score}"
        assert quantity["system"] == "http://unitsofmeasure.org"
    for form in of_kind(by_url, "QuestionnaireResponse"):
        assert form["status"] == "completed"
        assert form["source"] == form["subject"]  # the client answered themselves


def test_phq9_carries_its_loinc_codes_and_answer_weights(client_a: User, therapist_x: User) -> None:
    phq9 = builtin_instrument("phq9")
    answers: dict[str, int | None] = {str(n): n % 4 for n in range(1, 10)}
    answers["9"] = 0
    stored = response(client_a, phq9, answers, at=T0)
    by_url = validated(bundle_of(export(signed_in(therapist_x), client_a)))

    (form,) = of_kind(by_url, "Questionnaire")
    assert form["code"][0]["system"] == LOINC and form["code"][0]["code"] == "44249-1"
    assert form["url"].startswith(fhir.CANONICAL_BASE)
    questions = [item for item in form["item"] if item["type"] == "choice"]
    assert [q["code"][0]["code"] for q in questions[:9]] == PHQ9_ITEMS
    assert [q["code"][0]["system"] for q in questions[:9]] == [LOINC] * 9
    # "required" only where Rapport refuses a response without it (PHQ-9 allows prorating).
    refuses_missing = instrument_definition("phq9").scoring.missing_allowed == 0
    for question in questions[:9]:
        assert question["required"] is refuses_missing
        weights = {
            option["valueCoding"]["code"]: option["valueCoding"]["extension"][0]["valueDecimal"]
            for option in question["answerOption"]
        }
        assert weights == FREQUENCY_ANSWERS
        for option in question["answerOption"]:
            (ordinal,) = option["valueCoding"]["extension"]
            assert ordinal["url"] == "http://hl7.org/fhir/StructureDefinition/ordinalValue"
    assert "Little interest or pleasure in doing things" in [q["text"] for q in questions]

    (answered,) = of_kind(by_url, "QuestionnaireResponse")
    assert answered["questionnaire"] == f"{form['url']}|{form['version']}"
    assert answered["authored"] == "2026-03-02T15:30:00Z"
    codes = {item["linkId"]: item["answer"][0]["valueCoding"]["code"] for item in answered["item"]}
    by_value = {value: code for code, value in FREQUENCY_ANSWERS.items()}
    assert codes == {key: by_value[value] for key, value in answers.items() if value is not None}

    (total,) = of_kind(by_url, "Observation")
    assert total["code"]["coding"][0]["system"] == LOINC
    assert total["code"]["coding"][0]["code"] == "44261-6"
    assert (
        total["valueQuantity"]["value"]
        == stored.result_data()["total"]
        == sum(v for v in answers.values() if v is not None)
    )
    assert total["effectiveDateTime"] == "2026-03-02T15:30:00Z"
    assert total["interpretation"] == [{"text": stored.result_data()["band"]}]


@pytest.mark.parametrize("key", sorted(TOTAL_CODES))
def test_totals_use_the_loinc_code_of_the_instrument(
    key: str, client_a: User, therapist_x: User
) -> None:
    instrument = builtin_instrument(key)
    response(client_a, instrument, full_answers(instrument_definition(key), 1), at=T0)
    by_url = validated(bundle_of(export(signed_in(therapist_x), client_a)))
    (total,) = of_kind(by_url, "Observation")
    assert total["code"]["coding"][0] == {
        "system": LOINC,
        "code": TOTAL_CODES[key],
        "display": f"{instrument.short_name} total score",
    }
    if key in PANEL_CODES:
        (form,) = of_kind(by_url, "Questionnaire")
        assert form["code"][0]["code"] == PANEL_CODES[key]


def instrument_definition(key: str) -> Definition:
    return next(d for d in builtin_definitions() if d.key == key)


def test_instruments_without_loinc_use_rapport_code_systems(
    every_instrument: list[Response], client_a: User, therapist_x: User
) -> None:
    by_url = validated(bundle_of(export(signed_in(therapist_x), client_a)))
    without = [d for d in builtin_definitions() if not d.loinc_total]
    assert without, "expected a built-in instrument with no LOINC total (e.g. K10, feedback)"
    codes = {
        o["code"]["coding"][0]["code"]: o["code"]["coding"][0]["system"]
        for o in of_kind(by_url, "Observation")
    }
    for definition in without:
        assert codes[definition.key] == fhir.SCORE_SYSTEM
    forms = {f["version"] + f["url"]: f for f in of_kind(by_url, "Questionnaire")}
    for form in forms.values():
        for question in form["item"]:
            for option in question.get("answerOption", []):
                coding = option["valueCoding"]
                assert coding["system"] == LOINC or coding["system"].startswith(
                    f"{fhir.CANONICAL_BASE}/CodeSystem/"
                )
    feedback = [d for d in builtin_definitions() if not d.validated]
    for definition in feedback:
        (form,) = [f for f in forms.values() if f["url"].endswith(f"/{definition.key}")]
        assert "not a validated instrument" in form["description"]


def test_subscales_are_components_of_the_total(client_a: User, therapist_x: User) -> None:
    phq4 = builtin_instrument("phq4")
    definition = instrument_definition("phq4")
    stored = response(client_a, phq4, full_answers(definition, 2), at=T0)
    by_url = validated(bundle_of(export(signed_in(therapist_x), client_a)))
    (total,) = of_kind(by_url, "Observation")
    components = {
        c["code"]["coding"][0]["code"]: c["valueQuantity"]["value"] for c in total["component"]
    }
    assert components == {
        f"phq4.{key}": value for key, value in stored.result_data()["subscales"].items()
    }


def test_a_correction_exports_as_the_same_resource_amended(
    client_a: User, therapist_x: User
) -> None:
    gad7 = builtin_instrument("gad7")
    definition = instrument_definition("gad7")
    first = response(client_a, gad7, full_answers(definition, 3), at=T0)
    browser = signed_in(therapist_x)
    before = validated(bundle_of(export(browser, client_a)))
    (original,) = of_kind(before, "QuestionnaireResponse")
    assert original["status"] == "completed"

    response(
        client_a, gad7, full_answers(definition, 0), at=T0 + timedelta(hours=2), corrects=first
    )
    after = validated(bundle_of(export(browser, client_a)))
    (amended,) = of_kind(after, "QuestionnaireResponse")
    (total,) = of_kind(after, "Observation")
    assert amended["id"] == original["id"]
    assert amended["status"] == "amended" and total["status"] == "amended"
    assert total["valueQuantity"]["value"] == 0
    assert amended["authored"] == "2026-03-02T17:30:00Z"


def test_the_therapist_gets_an_opaque_patient_and_the_client_their_name(
    every_instrument: list[Response], client_a: User, therapist_x: User
) -> None:
    profile = profile_of(client_a)
    profile.date_of_birth = date(1990, 2, 14)
    profile.postal_address = "4 Park Row\nLeeds LS1 5HD"
    profile.save()
    from_therapist = export(signed_in(therapist_x), client_a)
    text = from_therapist.content.decode()
    assert client_a.full_name not in text and client_a.email not in text
    assert "1990-02-14" not in text and "Park Row" not in text  # the record export carries them
    assert str(client_a.pk) not in [r["id"] for r in validated(bundle_of(from_therapist)).values()]
    (patient,) = of_kind(validated(bundle_of(from_therapist)), "Patient")
    assert set(patient) == {"resourceType", "id"}

    (own,) = of_kind(validated(bundle_of(export(signed_in(client_a), client_a))), "Patient")
    assert own["name"] == [{"text": client_a.full_name}]
    assert own["id"] == patient["id"]  # the same person in both exports, and the next one


def test_an_empty_record_exports_a_valid_bundle(client_a: User) -> None:
    by_url = validated(bundle_of(export(signed_in(client_a), client_a)))
    assert [r["resourceType"] for r in by_url.values()] == ["Patient"]


def test_the_download_is_named_and_never_cached(client_a: User) -> None:
    with time_machine.travel(T0, tick=False):
        http_response = export(signed_in(client_a), client_a)
    assert http_response["Content-Disposition"] == (
        'attachment; filename="rapport-measures-2026-03-02.json"'
    )
    assert "no-store" in http_response["Cache-Control"]
    assert bundle_of(http_response)["timestamp"] == "2026-03-02T15:30:00Z"


def exports_of(client: User) -> list[AuditEvent]:
    events = AuditEvent.objects.filter(action=Action.MEASURES_EXPORTED, client=client)
    return list(events.order_by("sequence"))


def test_exports_are_audited(
    every_instrument: list[Response], client_a: User, therapist_x: User
) -> None:
    export(signed_in(therapist_x), client_a)
    export(signed_in(client_a), client_a)
    by_therapist, by_client = exports_of(client_a)
    assert by_therapist.actor == therapist_x and by_therapist.detail["via"] == "care"
    assert by_client.actor == client_a and by_client.detail["via"] == "self"
    assert by_therapist.detail["format"] == "fhir-r4"
    # The therapist's read also shows in the client's "who saw my record".
    assert AuditEvent.objects.filter(
        action=Action.CLIENT_RECORD_VIEWED,
        actor=therapist_x,
        client=client_a,
        detail__purpose="fhir_export",
    ).exists()


def test_nobody_else_can_export(
    every_instrument: list[Response],
    client_a: User,
    client_b: User,
    therapist_y: User,
    admin: User,
) -> None:
    for outsider in (client_b, therapist_y):
        assert export(signed_in(outsider), client_a).status_code == 404
    as_admin = signed_in(admin)
    assert export(as_admin, client_a).status_code == 404
    # Break-glass access lets an admin read the record, not take it away.
    EmergencyAccess.objects.create(
        admin=admin, client=client_a, reason="Unreachable", expires_at=timezone.now() + timedelta(1)
    )
    assert export(as_admin, client_a).status_code == 403
    anonymous = export(Client(), client_a)
    assert anonymous.status_code == 302 and anonymous["Location"].startswith("/accounts/login/")
    assert exports_of(client_a) == []


def test_only_get_is_allowed(client_a: User) -> None:
    url = reverse("measures_fhir_export", kwargs={"client_id": client_a.pk})
    assert signed_in(client_a).post(url).status_code == 405
    assert exports_of(client_a) == []


def test_an_old_sign_in_must_re_authenticate(client_a: User, therapist_x: User) -> None:
    with time_machine.travel(time.time()) as clock:
        browser = signed_in(therapist_x)
        clock.shift(timedelta(seconds=settings.ACCOUNT_REAUTHENTICATION_TIMEOUT + 5))
        http_response = export(browser, client_a)
    assert http_response.status_code == 302
    assert http_response["Location"].startswith("/accounts/reauthenticate/")
    assert exports_of(client_a) == []


def test_queries_do_not_grow_with_the_record(client_a: User, client_b: User) -> None:
    instruments = [builtin_instrument(key) for key in ("phq9", "gad7", "k10")]

    def queries_for(client: User) -> int:
        with CaptureQueriesContext(connection) as captured:
            fhir.client_bundle(client)
        return len(captured.captured_queries)

    history(client_a, instruments, 2, start=T0)
    history(client_b, instruments, 20, start=T0)
    assert queries_for(client_a) == queries_for(client_b) == 1
