"""Billed lines are locked: the model refuses, and the database refuses a raw UPDATE or DELETE."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import DatabaseError, IntegrityError, transaction
from django.utils import timezone

from rapport.accounts.models import User
from rapport.billing.models import BillingLine, LineStatus, LockedLine, npi_is_valid
from rapport.notes.models import erasing


def make_line(client: User, therapist: User, **fields: object) -> BillingLine:
    values: dict[str, object] = {
        "client": client,
        "therapist": therapist,
        "date_of_service": dt.date(2026, 3, 2),
        "cpt_code": "90834",
        "modifiers": "95",
        "place_of_service": "10",
        "diagnosis_codes": ["F41.1"],
        "fee": 15000,
        "currency": "USD",
        "created_by": therapist,
    }
    values.update(fields)
    return BillingLine.objects.create(**values)


def billed_line(client: User, therapist: User) -> BillingLine:
    return make_line(client, therapist, status=LineStatus.BILLED, billed_at=timezone.now())


@pytest.mark.parametrize(
    ("npi", "valid"),
    [
        ("1234567893", True),  # the check-digit example of the NPI standard
        ("1234567890", False),
        ("123456789", False),
        ("12345678930", False),
        ("12345678a3", False),
        ("", False),
    ],
)
def test_npi_check_digit(npi: str, valid: bool) -> None:
    assert npi_is_valid(npi) is valid


def test_a_billed_line_refuses_save(therapist_x: User, client_a: User) -> None:
    line = billed_line(client_a, therapist_x)
    line.fee = 1
    with pytest.raises(LockedLine):
        line.save()
    line.refresh_from_db()
    assert line.fee == 15000


@pytest.mark.parametrize(
    "change",
    [
        {"fee": 1},
        {"cpt_code": "90837"},
        {"status": LineStatus.VOID},
        {"diagnosis_codes": ["F32.1"]},
        {"modifiers": "93"},
        {"place_of_service": "02"},
        {"units": 2},
    ],
)
def test_the_database_refuses_an_update_of_a_billed_line(
    therapist_x: User, client_a: User, change: dict[str, object]
) -> None:
    line = billed_line(client_a, therapist_x)
    with pytest.raises((IntegrityError, DatabaseError)), transaction.atomic():
        BillingLine.objects.filter(pk=line.pk).update(**change)
    line.refresh_from_db()
    assert (line.fee, line.cpt_code, line.status, line.units) == (15000, "90834", "billed", 1)


def test_the_database_refuses_a_delete_of_a_billed_line(therapist_x: User, client_a: User) -> None:
    line = billed_line(client_a, therapist_x)
    with pytest.raises((IntegrityError, DatabaseError)), transaction.atomic():
        BillingLine.objects.filter(pk=line.pk).delete()
    assert BillingLine.objects.filter(pk=line.pk).exists()


def test_unbilled_lines_change_and_columns_outside_the_lock_stay_writable(
    therapist_x: User, client_a: User
) -> None:
    line = make_line(client_a, therapist_x)
    BillingLine.objects.filter(pk=line.pk).update(fee=12000)
    locked = billed_line(client_a, therapist_x)
    BillingLine.objects.filter(pk=locked.pk).update(updated_at=timezone.now())
    line.refresh_from_db()
    assert line.fee == 12000


def test_an_erasure_may_delete_a_billed_line(therapist_x: User, client_a: User) -> None:
    line = billed_line(client_a, therapist_x)
    with erasing(client_a.pk):
        BillingLine.objects.filter(pk=line.pk).delete()
    assert not BillingLine.objects.filter(pk=line.pk).exists()
