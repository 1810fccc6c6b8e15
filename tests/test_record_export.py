"""The whole record to take away: a FHIR R4 Bundle and a readable PDF, for the client and their
clinician, each audited and shown on "Who saw my record"."""

from __future__ import annotations

import io
import json
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
import time_machine
from django.conf import settings
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from fhir.resources.R4B.bundle import Bundle
from pypdf import PdfReader

from rapport.accounts.models import User
from rapport.audit.models import AuditEvent
from rapport.audit.services import Action
from rapport.care.access import profile_of
from rapport.care.models import CareRelationship, EmergencyAccess
from rapport.core.record import fhir_id
from rapport.measures import fhir as measures_fhir
from rapport.records.fhir import CLIENT_NAMING_SYSTEM
from tests.conftest import signed_in
from tests.record_data import prorated_phq9, seed_record

START = datetime(2025, 1, 6, 10, 0, tzinfo=UTC)


@pytest.fixture
def full_record(client_a: User, therapist_x: User) -> User:
    relationship = CareRelationship.objects.get(therapist=therapist_x, client=client_a)
    seed_record(relationship, scale=0.02, start=START)
    prorated_phq9(client_a, START + timedelta(days=3))
    profile = profile_of(client_a)
    profile.phone = "+44 113 496 0000"
    profile.emergency_contact = "Sam Client (partner), +44 7700 900123"
    profile.date_of_birth = date(1990, 2, 14)
    profile.postal_address = "4 Park Row\nLeeds LS1 5HD\nUnited Kingdom"
    profile.save()
    return client_a


def pdf_text(content: bytes) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(content)).pages)


def fhir_export(browser: Client, client: User) -> Any:
    return browser.get(reverse("record_export_fhir", kwargs={"client_id": client.pk}))


def pdf_export(browser: Client, client: User) -> Any:
    return browser.get(reverse("record_export_pdf", kwargs={"client_id": client.pk}))


def references(node: object) -> Iterator[str]:
    """Every ``reference`` value anywhere in a resource."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "reference" and isinstance(value, str):
                yield value
            else:
                yield from references(value)
    elif isinstance(node, list):
        for value in node:
            yield from references(value)


def exports_of(client: User) -> list[dict[str, Any]]:
    return [
        e.detail for e in AuditEvent.objects.filter(client=client, action=Action.RECORD_EXPORTED)
    ]


def test_the_bundle_is_valid_r4_and_every_reference_resolves(
    full_record: User, therapist_x: User
) -> None:
    response = fhir_export(signed_in(therapist_x), full_record)
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/fhir+json")
    assert "attachment" in response["Content-Disposition"]
    bundle = json.loads(response.content)
    Bundle.model_validate(bundle)  # every resource against its R4 model
    full_urls = {entry["fullUrl"] for entry in bundle["entry"]}
    found = list(references(bundle))
    assert found
    assert set(found) <= full_urls
    types = {entry["resource"]["resourceType"] for entry in bundle["entry"]}
    assert {"Patient", "Encounter", "QuestionnaireResponse", "Observation"} <= types


def test_encounters_are_virtual_with_minutes_per_modality(
    full_record: User, therapist_x: User
) -> None:
    bundle = json.loads(fhir_export(signed_in(therapist_x), full_record).content)
    encounters = [
        e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == "Encounter"
    ]
    assert len(encounters) == 4  # 200 sessions x 0.02
    encounter = encounters[-1]
    assert encounter["class"]["code"] == "VR"
    assert encounter["status"] == "finished"
    assert encounter["length"] == {
        "value": 50.0,
        "unit": "min",
        "system": "http://unitsofmeasure.org",
        "code": "min",
    }
    minutes = {
        ext["extension"][0]["valueCoding"]["code"]: ext["extension"][1]["valueDecimal"]
        for ext in encounter["extension"]
    }
    assert sorted(minutes.values()) == [20.0, 30.0]


def test_the_patient_carries_an_identifier_and_for_care_the_contact_details(
    full_record: User, therapist_x: User, admin: User
) -> None:
    bundle = json.loads(fhir_export(signed_in(therapist_x), full_record).content)
    patient = bundle["entry"][0]["resource"]
    assert patient["identifier"] == [
        {"system": CLIENT_NAMING_SYSTEM, "value": fhir_id("patient", full_record.pk)}
    ]
    assert patient["name"] == [{"text": "Alice Client"}]
    assert {"system": "phone", "value": "+44 113 496 0000"} in patient["telecom"]
    assert patient["contact"][0]["name"]["text"].startswith("Sam Client")
    assert patient["birthDate"] == "1990-02-14"
    assert patient["address"] == [
        {"use": "home", "type": "postal", "text": "4 Park Row\nLeeds LS1 5HD\nUnited Kingdom"}
    ]
    Bundle.model_validate(bundle)
    # Under emergency access the admin gets the record, not the name and contacts.
    EmergencyAccess.objects.create(
        admin=admin,
        client=full_record,
        reason="Unreachable",
        expires_at=timezone.now() + timedelta(1),
    )
    bundle = json.loads(fhir_export(signed_in(admin), full_record).content)
    patient = bundle["entry"][0]["resource"]
    assert "name" not in patient and "contact" not in patient
    assert "birthDate" not in patient and "address" not in patient
    assert patient["identifier"]
    text = pdf_text(pdf_export(signed_in(admin), full_record).content)
    assert "1990" not in text and "Park Row" not in text


def test_the_record_bundle_and_the_measures_bundle_agree(
    full_record: User, therapist_x: User
) -> None:
    record = json.loads(fhir_export(signed_in(therapist_x), full_record).content)
    measures = measures_fhir.client_bundle(full_record)
    kinds = {"Questionnaire", "QuestionnaireResponse", "Observation"}
    in_record = [e for e in record["entry"] if e["resource"]["resourceType"] in kinds]
    in_measures = [e for e in measures["entry"] if e["resource"]["resourceType"] in kinds]
    assert in_record == in_measures


def test_a_prorated_total_is_flagged_in_every_export(full_record: User) -> None:
    bundle = measures_fhir.client_bundle(full_record)
    observations = [
        e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == "Observation"
    ]
    prorated = [o for o in observations if "extension" in o]
    assert len(prorated) == 1
    assert prorated[0]["extension"] == [{"url": measures_fhir.PRORATED_TOTAL, "valueBoolean": True}]
    assert "not the raw sum" in prorated[0]["note"][0]["text"]
    # 8 items answered 2: 16 scaled to 9 items is 18.
    assert prorated[0]["valueQuantity"]["value"] == 18
    assert all("note" not in o for o in observations if o is not prorated[0])
    Bundle.model_validate(bundle)


def test_the_pdf_opens_and_holds_the_entries(full_record: User, client_a: User) -> None:
    response = pdf_export(signed_in(client_a), full_record)
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    reader = PdfReader(io.BytesIO(response.content))
    text = "\n".join(page.extract_text() for page in reader.pages)
    assert "Record of Alice Client" in text
    assert "Session with Xena Therapist" in text
    assert "Home office, Leeds" in text  # details printed in full
    assert "PHQ-9 result" in text
    assert "Prorated total" in text
    assert "Date of birth: 14 Feb 1990" in text
    assert "Postal address: 4 Park Row" in " ".join(text.split())
    assert "Page 1 of" in text
    assert "Rapport practice" in text or "practice" in text.lower()


def test_every_export_is_audited_and_shown_to_the_client(
    full_record: User, therapist_x: User, client_a: User
) -> None:
    assert fhir_export(signed_in(therapist_x), full_record).status_code == 200
    assert pdf_export(signed_in(client_a), full_record).status_code == 200
    formats = sorted((d["format"], d["via"]) for d in exports_of(full_record))
    assert formats == [("fhir-r4", "care"), ("pdf", "self")]
    page = signed_in(client_a).get(reverse("my_record_access")).content.decode()
    assert "Downloaded your whole record as a FHIR file for other health systems" in page
    assert "Downloaded your whole record as a PDF to read and print" in page
    assert "Xena Therapist" in page


@pytest.mark.parametrize("persona", ["client_b", "therapist_y", "admin"])
def test_outsiders_get_nothing(personas: dict[str, User | None], persona: str) -> None:
    client_a = personas["client_a"]
    user = personas[persona]
    assert client_a is not None and user is not None
    assert fhir_export(signed_in(user), client_a).status_code == 404
    assert pdf_export(signed_in(user), client_a).status_code == 404
    assert exports_of(client_a) == []


def test_only_get_is_allowed(client_a: User) -> None:
    for name in ("record_export_fhir", "record_export_pdf"):
        url = reverse(name, kwargs={"client_id": client_a.pk})
        assert signed_in(client_a).post(url).status_code == 405
    assert exports_of(client_a) == []


def test_an_old_sign_in_must_re_authenticate(client_a: User, therapist_x: User) -> None:
    with time_machine.travel(time.time()) as clock:
        browser = signed_in(therapist_x)
        clock.shift(timedelta(seconds=settings.ACCOUNT_REAUTHENTICATION_TIMEOUT + 5))
        response = fhir_export(browser, client_a)
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/reauthenticate/")
    assert exports_of(client_a) == []
