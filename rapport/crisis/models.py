"""The practice's crisis resources: emergency numbers and crisis lines, each for one country
(and, if it serves only part of one, a region), with where the facts came from and when they
were last checked. They are practice facts, not client data: nothing here is encrypted."""

from __future__ import annotations

import re

from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from rapport.core.countries import country_name, validate_country

# What a person may type as a number: digits, spaces and + - ( ) . (at least three digits).
PHONE_CHARACTERS = re.compile(r"^\+?[0-9][0-9 ()./-]*$")


def validate_phone(value: str) -> None:
    if not PHONE_CHARACTERS.match(value) or sum(c.isdigit() for c in value) < 3:
        raise ValidationError(
            _(
                "Enter a number to dial: digits, with spaces, + - ( ) allowed, "
                "like 988 or +44 116 123."
            )
        )


def dial_string(number: str) -> str:
    """What a phone dials for a written number: its digits, with a leading + kept."""
    digits = "".join(c for c in number if c.isdigit())
    return f"+{digits}" if number.strip().startswith("+") else digits


class Kind(models.TextChoices):
    EMERGENCY = "emergency", _("Emergency number (police, ambulance)")
    CRISIS_LINE = "crisis_line", _("Crisis line")


class CrisisResource(models.Model):
    country = models.CharField(_("country"), max_length=2, validators=[validate_country])
    region = models.CharField(
        _("region (optional)"),
        max_length=80,
        blank=True,
        help_text=_(
            "Only if it serves part of the country, e.g. England. Clients see “England only”."
        ),
    )
    kind = models.CharField(
        _("kind"), max_length=12, choices=Kind.choices, default=Kind.CRISIS_LINE
    )
    name = models.CharField(_("name"), max_length=120)
    phone = models.CharField(
        _("phone number"), max_length=40, blank=True, validators=[validate_phone]
    )
    text_number = models.CharField(
        _("text (SMS) number"), max_length=40, blank=True, validators=[validate_phone]
    )
    chat_url = models.URLField(_("chat web address"), blank=True, max_length=300)
    hours = models.CharField(
        _("hours"), max_length=120, blank=True, help_text=_("e.g. 24 hours, every day")
    )
    note = models.CharField(
        _("how to use it (optional)"),
        max_length=200,
        blank=True,
        help_text=_("e.g. Choose option 2 for mental health."),
    )
    order = models.PositiveSmallIntegerField(
        _("order"), default=10, help_text=_("Lower numbers come first within a country.")
    )
    verified_on = models.DateField(_("checked against the source on"))
    source_url = models.URLField(
        _("source (official web page)"),
        max_length=300,
        help_text=_("Where the number is published by the service itself or a government."),
    )

    class Meta:
        ordering = ["country", "order", "name", "pk"]
        constraints = [
            models.CheckConstraint(
                name="crisis_resource_has_a_way_to_reach_it",
                condition=~Q(phone="") | ~Q(text_number="") | ~Q(chat_url=""),
            ),
            models.CheckConstraint(
                name="emergency_number_has_a_phone",
                condition=~Q(kind="emergency") | ~Q(phone=""),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.country})"

    def clean(self) -> None:
        if not (self.phone or self.text_number or self.chat_url):
            raise ValidationError(
                _(
                    "Give at least one way to reach it: a phone number, a text number "
                    "or a chat address."
                )
            )
        if self.kind == Kind.EMERGENCY and not self.phone:
            raise ValidationError({"phone": _("An emergency number needs its phone number.")})
        for field in ("chat_url", "source_url"):
            if getattr(self, field) and not getattr(self, field).startswith("https://"):
                raise ValidationError({field: _("Use an https:// address.")})

    @property
    def country_name(self) -> str:
        return country_name(self.country)

    @property
    def tel_href(self) -> str:
        return f"tel:{dial_string(self.phone)}" if self.phone else ""

    @property
    def sms_href(self) -> str:
        return f"sms:{dial_string(self.text_number)}" if self.text_number else ""
