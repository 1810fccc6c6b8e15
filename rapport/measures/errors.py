"""Measures' refusal: a change the state of a questionnaire, assignment, instrument or alert
does not allow."""

from __future__ import annotations

from django.core.exceptions import ValidationError


class MeasureError(ValidationError):
    """A change the measure's state does not allow; the message is for the person."""
