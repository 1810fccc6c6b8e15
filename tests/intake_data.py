"""Intakes for tests: a form sent, and one sent back (with or without a risk answer)."""

from __future__ import annotations

from typing import Any

from rapport.accounts.models import User
from rapport.intake.catalogue import newest_version
from rapport.intake.models import Intake, IntakeSubmission
from rapport.intake.services import send_intake, submit


def send_form(therapist: User, client: User, key: str = "adult") -> Intake:
    form = newest_version(key)
    assert form is not None
    return send_intake(client, form, sent_by=therapist)


def adult_answers(*, risk: bool, signer: str = "Alice Client") -> dict[str, Any]:
    """Every required answer of the built-in adult intake."""
    return {
        "reason": "Low mood since the spring.",
        "how_long": "months",
        "self_harm_now": "yes" if risk else "no",
        "self_harm_now__follow_up": "Passing thoughts, no plan." if risk else "",
        "self_harm_past": "no",
        "harm_others": "no",
        "goals": "Sleep better and go back to work.",
        "emergency_name": "Sam Client",
        "emergency_phone": "+1 555 0101",
        "telehealth_consent": True,
        "signature": signer,
    }


def send_and_submit(therapist: User, client: User, *, risk: bool) -> IntakeSubmission:
    intake = send_form(therapist, client, "adult")
    return submit(intake, client, adult_answers(risk=risk))


def as_post(answers: dict[str, Any]) -> dict[str, Any]:
    """The same answers as the form posts them."""
    data: dict[str, Any] = {}
    for key, value in answers.items():
        if value is True:
            data[f"f-{key}"] = "yes"
        elif value is not False:
            data[f"f-{key}"] = value
    return data
