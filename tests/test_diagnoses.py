"""Diagnoses: the ICD-10-CM search (frequent codes first, fast), recording and changing with the
rules held by the services and the database, the pages (no JS needed, bad input kept), who may
reach them, the client record's section, and the record provider (entries, FHIR Condition)."""

from __future__ import annotations

import time
from datetime import date, timedelta
from typing import Any

import pytest
from django.db import IntegrityError, transaction
from django.http import Http404
from django.test import RequestFactory
from django.urls import reverse
from django.utils import timezone
from fhir.resources.R4B.condition import Condition

from rapport.accounts.models import User
from rapport.audit.models import AuditEvent
from rapport.audit.services import Action
from rapport.care.models import EmergencyAccess
from rapport.core.record import fhir_id, fhir_reference
from rapport.diagnoses import icd, record
from rapport.diagnoses.access import access_diagnoses
from rapport.diagnoses.errors import DiagnosisError
from rapport.diagnoses.models import Diagnosis, DiagnosisChange, FrequentCode, Rank, Status
from rapport.diagnoses.services import (
    active_diagnoses,
    change_diagnosis,
    frequent_codes,
    record_diagnosis,
    set_frequent_codes,
)
from tests.conftest import signed_in


def post() -> Any:
    return RequestFactory().post("/")


def codes(results: list[icd.Code]) -> list[str]:
    return [r.code for r in results]


# --- The code set and its search ---------------------------------------------------------------


def test_billable_codes_are_leaves_and_typing_is_forgiven() -> None:
    assert icd.billable("F41.1") == icd.Code("F41.1", "Generalized anxiety disorder")
    assert icd.billable(" f4310 ") is not None and icd.billable("f4310").code == "F43.10"  # type: ignore[union-attr]
    assert icd.billable("F41") is None and icd.is_code("F41")  # a category with subdivisions
    assert icd.billable("F99.99") is None and not icd.is_code("F99.99")
    assert icd.billable("F00-F99") is None and icd.billable("") is None


def test_search_by_code_and_words_lists_billable_codes_frequent_first() -> None:
    by_code = codes(icd.search("F41"))
    assert by_code[0] == "F41.1" and "F41" not in by_code  # frequent first, leaves only
    assert set(by_code) <= {"F41.0", "F41.1", "F41.3", "F41.8", "F41.9"}
    assert codes(icd.search("generalized anx"))[0] == "F41.1"
    assert codes(icd.search("anxiety"))[0] == "F41.1"
    stress = codes(icd.search("stress", frequent=[], limit=1000))
    kinds = [c[0] not in "FZ" for c in stress]
    assert kinds == sorted(kinds) and True in kinds  # mental health (F, Z) before the rest
    assert icd.search("   ") == [] and icd.search("zzqqxx") == []


def test_the_practice_list_comes_first_in_its_own_order() -> None:
    assert codes(icd.search("disorder", frequent=["F60.3", "F41.1"], limit=2)) == ["F60.3", "F41.1"]


def test_search_is_fast_once_the_index_is_built() -> None:
    icd.warm()
    started = time.perf_counter()
    queries = ["F41", "anxiety", "generalized anx", "disorder", "Z63", "depressive episode"]
    for query in queries:
        icd.search(query)
    per_search = (time.perf_counter() - started) / len(queries)
    assert per_search < 0.2, f"{per_search * 1000:.0f} ms per search"


# --- Recording and changing ---------------------------------------------------------------------


def test_recording_keeps_the_icd_description_and_audits(therapist_x: User, client_a: User) -> None:
    d = record_diagnosis(
        therapist_x, client_a, code="f411", rank=Rank.PRIMARY, onset=date(2026, 1, 5), notes="x"
    )
    assert (d.code, d.description, d.recorded_by) == (
        "F41.1",
        "Generalized anxiety disorder",
        therapist_x,
    )
    assert list(d.changes.values_list("kind", flat=True)) == ["recorded"]
    event = AuditEvent.objects.get(action=Action.DIAGNOSIS_RECORDED)
    assert event.client_id == client_a.pk and "x" not in str(event.detail.values())


@pytest.mark.parametrize(
    ("code", "onset", "message"),
    [
        ("F99.99", None, "not a billable ICD-10-CM code"),
        ("F41", None, "has subdivisions"),
        ("F41.1", timezone.localdate() + timedelta(days=3), "in the future"),
    ],
)
def test_bad_codes_and_dates_are_refused(
    therapist_x: User, client_a: User, code: str, onset: date | None, message: str
) -> None:
    with pytest.raises(DiagnosisError, match=message):
        record_diagnosis(therapist_x, client_a, code=code, rank=Rank.SECONDARY, onset=onset)
    assert not Diagnosis.objects.exists()


def test_one_active_primary_per_client(therapist_x: User, client_a: User) -> None:
    first = record_diagnosis(therapist_x, client_a, code="F41.1", rank=Rank.PRIMARY, onset=None)
    with pytest.raises(DiagnosisError, match="already has an active primary"):
        record_diagnosis(therapist_x, client_a, code="F32.1", rank=Rank.PRIMARY, onset=None)
    second = record_diagnosis(therapist_x, client_a, code="F32.1", rank=Rank.SECONDARY, onset=None)
    with pytest.raises(DiagnosisError, match="already has an active primary"):
        change_diagnosis(therapist_x, second, action=Rank.PRIMARY)
    # The database refuses it too, whatever the services say.
    with pytest.raises(IntegrityError), transaction.atomic():
        Diagnosis.objects.filter(pk=second.pk).update(rank=Rank.PRIMARY)
    change_diagnosis(therapist_x, first, action=Rank.SECONDARY)
    change_diagnosis(therapist_x, second, action=Rank.PRIMARY)
    assert [d.code for d in active_diagnoses(client_a)] == ["F32.1", "F41.1"]


def test_resolving_and_entered_in_error_keep_the_row(therapist_x: User, client_a: User) -> None:
    d = record_diagnosis(
        therapist_x, client_a, code="F43.21", rank=Rank.SECONDARY, onset=date(2026, 3, 1)
    )
    with pytest.raises(DiagnosisError, match="before the onset"):
        change_diagnosis(therapist_x, d, action="resolve", resolved_on=date(2026, 2, 1))
    with pytest.raises(DiagnosisError, match="Enter the date"):
        change_diagnosis(therapist_x, d, action="resolve", resolved_on=None)
    change_diagnosis(therapist_x, d, action="resolve", resolved_on=date(2026, 4, 1))
    with pytest.raises(DiagnosisError, match="Only an active"):
        change_diagnosis(therapist_x, d, action="error")
    wrong = record_diagnosis(therapist_x, client_a, code="F32.0", rank=Rank.SECONDARY, onset=None)
    change_diagnosis(therapist_x, wrong, action="error")
    assert Diagnosis.objects.count() == 2 and not active_diagnoses(client_a).exists()
    assert Diagnosis.objects.get(pk=wrong.pk).status == Status.ENTERED_IN_ERROR
    assert DiagnosisChange.objects.count() == 4
    assert AuditEvent.objects.filter(action=Action.DIAGNOSIS_CHANGED).count() == 2
    with pytest.raises(IntegrityError), transaction.atomic():  # resolved before onset
        Diagnosis.objects.filter(pk=d.pk).update(resolved_on=date(2025, 1, 1))


def test_the_notes_are_encrypted_at_rest(therapist_x: User, client_a: User) -> None:
    from django.db import connection

    record_diagnosis(
        therapist_x, client_a, code="F41.1", rank=Rank.PRIMARY, onset=None, notes="Worse at work"
    )
    with connection.cursor() as cursor:
        cursor.execute("SELECT notes FROM diagnoses_diagnosis")
        (stored,) = cursor.fetchone()
    assert "Worse" not in stored


def test_frequent_codes_default_and_edited(admin: User, therapist_x: User) -> None:
    assert frequent_codes() == list(icd.DEFAULT_FREQUENT)
    set_frequent_codes(admin, ["F60.3", "Z63.0"], request=post())
    assert frequent_codes() == ["F60.3", "Z63.0"]
    with pytest.raises(Exception, match="admins"):
        set_frequent_codes(therapist_x, [], request=post())
    assert FrequentCode.objects.count() == 2


# --- Access -----------------------------------------------------------------------------------


def test_only_the_therapist_in_care_writes_admins_read_under_emergency(
    therapist_x: User, therapist_y: User, client_a: User, admin: User
) -> None:
    assert access_diagnoses(therapist_x, client_a.pk, write=True)[0] == client_a
    for user in (therapist_y, admin, client_a):
        with pytest.raises(Http404):
            access_diagnoses(user, client_a.pk)
    EmergencyAccess.objects.create(
        admin=admin, client=client_a, reason="Unreachable", expires_at=timezone.now() + timedelta(1)
    )
    assert access_diagnoses(admin, client_a.pk)[1] == "emergency"
    with pytest.raises(Http404):
        access_diagnoses(admin, client_a.pk, write=True)


# --- Pages ------------------------------------------------------------------------------------


def test_search_page_works_without_script_and_records(therapist_x: User, client_a: User) -> None:
    browser = signed_in(therapist_x)
    url = reverse("client_diagnoses", args=[client_a.pk])
    page = browser.get(url, {"q": "generalized anx"})
    assert page.status_code == 200 and b"F41.1" in page.content and b"Record F41.1" in page.content
    prefilled = browser.get(url, {"q": "generalized anx", "code": "F41.1"})
    assert b'value="F41.1"' in prefilled.content
    done = browser.post(url, {"code": "F41.1", "rank": "primary", "onset": "2026-01-02"})
    assert done.status_code == 302
    record_page = browser.get(reverse("client_record", args=[client_a.pk]))
    assert (
        b"F41.1" in record_page.content and b"Generalized anxiety disorder" in record_page.content
    )
    typeahead = browser.get(reverse("diagnosis_code_search"), {"q": "F43.1"}).json()
    assert typeahead["results"][0]["code"] == "F43.10"


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"code": "F41", "rank": "primary", "onset": ""}, b"has subdivisions"),
        ({"code": "nonsense", "rank": "primary", "onset": ""}, b"not an ICD-10-CM code"),
        ({"code": "F41.1", "rank": "primary", "onset": "2999-01-01"}, b"in the future"),
        ({"code": "F41.1", "rank": "primary", "onset": "not a date"}, b"Enter a valid date"),
        ({"code": "F41.1", "rank": "tertiary", "onset": ""}, b"Select a valid choice"),
        ({"code": "F41.1" * 5, "rank": "primary", "onset": ""}, b"at most 10 characters"),
    ],
)
def test_bad_input_keeps_what_was_typed(
    therapist_x: User, client_a: User, data: dict[str, str], message: bytes
) -> None:
    page = signed_in(therapist_x).post(
        reverse("client_diagnoses", args=[client_a.pk]), {**data, "notes": "Kept text"}
    )
    assert page.status_code == 400 and message in page.content
    assert b"Kept text" in page.content and b"error-summary" in page.content
    assert not Diagnosis.objects.exists()


def test_a_second_primary_on_the_page_is_a_clear_error(therapist_x: User, client_a: User) -> None:
    record_diagnosis(therapist_x, client_a, code="F41.1", rank=Rank.PRIMARY, onset=None)
    page = signed_in(therapist_x).post(
        reverse("client_diagnoses", args=[client_a.pk]),
        {"code": "F32.1", "rank": "primary", "notes": "Kept"},
    )
    assert page.status_code == 400 and b"already has an active primary" in page.content


def test_changing_on_the_page_and_bad_changes(therapist_x: User, client_a: User) -> None:
    d = record_diagnosis(
        therapist_x, client_a, code="F41.1", rank=Rank.PRIMARY, onset=date(2026, 1, 1)
    )
    browser = signed_in(therapist_x)
    url = reverse("change_diagnosis", args=[client_a.pk, d.pk])
    assert browser.post(url, {"action": "resolve", "resolved_on": "2025-01-01"}).status_code == 400
    assert browser.post(url, {"action": "explode"}).status_code == 400
    assert browser.post(url, {"action": "resolve", "resolved_on": "2026-02-01"}).status_code == 302
    assert Diagnosis.objects.get(pk=d.pk).status == Status.RESOLVED


def test_frequent_codes_page_refuses_unknown_codes(admin: User) -> None:
    browser = signed_in(admin)
    url = reverse("diagnosis_frequent_codes")
    page = browser.post(url, {"codes": "F41.1\nNOPE1"})
    assert page.status_code == 400 and b"NOPE1" in page.content and b"F41.1" in page.content
    assert browser.post(url, {"codes": "f41.1\nZ63"}).status_code == 302
    assert frequent_codes() == ["F41.1", "Z63"]


# --- The record provider ----------------------------------------------------------------------


def _three(therapist: User, client: User) -> None:
    record_diagnosis(therapist, client, code="F41.1", rank=Rank.PRIMARY, onset=date(2026, 1, 1))
    resolved = record_diagnosis(therapist, client, code="F43.21", rank=Rank.SECONDARY, onset=None)
    change_diagnosis(therapist, resolved, action="resolve", resolved_on=date(2026, 2, 1))
    wrong = record_diagnosis(therapist, client, code="F32.0", rank=Rank.SECONDARY, onset=None)
    change_diagnosis(therapist, wrong, action="error")


def test_entries_and_conditions_in_a_fixed_number_of_queries(
    therapist_x: User, client_a: User, django_assert_num_queries: Any
) -> None:
    _three(therapist_x, client_a)
    with django_assert_num_queries(1):
        rows = record.entries(client_a, viewer=therapist_x)
    with django_assert_num_queries(1):
        resources = record.fhir_resources(client_a, viewer=therapist_x)
    assert [e.title for e in rows] == ["Diagnosis F41.1", "Diagnosis F43.21", "Diagnosis F32.0"]
    assert [e.status for e in rows] == ["Active", "Resolved", "Entered in error"]
    for resource in resources:
        Condition.model_validate(resource)
        assert resource["subject"]["reference"] == fhir_reference("patient", client_a.pk)
        assert resource["code"]["coding"][0]["system"] == "http://hl7.org/fhir/sid/icd-10-cm"
    active, resolved, wrong = resources
    assert active["id"] == fhir_id("condition", Diagnosis.objects.get(code="F41.1").pk)
    assert active["clinicalStatus"]["coding"][0]["code"] == "active"
    assert active["onsetDateTime"] == "2026-01-01"
    assert resolved["clinicalStatus"]["coding"][0]["code"] == "resolved"
    assert resolved["abatementDateTime"] == "2026-02-01"
    assert "clinicalStatus" not in wrong
    assert wrong["verificationStatus"]["coding"][0]["code"] == "entered-in-error"
    _more(therapist_x, client_a)
    with django_assert_num_queries(1):
        record.entries(client_a, viewer=client_a, export=True)


def _more(therapist: User, client: User) -> None:
    for code in ["F40.10", "F42.2", "Z63.0", "Z56.0"]:
        record_diagnosis(therapist, client, code=code, rank=Rank.SECONDARY, onset=None)


def test_the_diagnoses_page_reads_a_fixed_number_of_queries(
    therapist_x: User, client_a: User, django_assert_max_num_queries: Any
) -> None:
    def count() -> int:
        browser = signed_in(therapist_x)
        url = reverse("client_diagnoses", args=[client_a.pk])
        browser.get(url)  # warm the session
        with django_assert_max_num_queries(1000) as queries:
            assert browser.get(url, {"q": "F43"}).status_code == 200
        return len(queries.captured_queries)

    record_diagnosis(therapist_x, client_a, code="F41.1", rank=Rank.PRIMARY, onset=None)
    few = count()
    _more(therapist_x, client_a)
    assert count() == few
