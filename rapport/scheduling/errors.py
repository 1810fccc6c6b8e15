"""Scheduling's refusals: a booking or a change the rules do not allow, with the reason for
the person."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _


class SchedulingError(ValidationError):
    """A booking or change that cannot be made; the message says why, for the person."""


class SlotTaken(SchedulingError):
    def __init__(self) -> None:
        super().__init__(
            _("That time was just taken by another booking. Please choose another time."),
            code="slot_taken",
        )
