"""Billing rows for tests: a line of a client's session, straight into the table."""

from __future__ import annotations

import datetime as dt
from typing import Any

from rapport.accounts.models import User
from rapport.billing.models import BillingLine


def billing_line(client: User, therapist: User, **fields: Any) -> BillingLine:
    values: dict[str, Any] = {
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
