"""Measures' refusal: a change that the state of a questionnaire, an assignment, an
instrument or an alert does not allow.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError


class MeasureError(ValidationError):
    """A change the measure's state does not allow; the message is for the person."""
