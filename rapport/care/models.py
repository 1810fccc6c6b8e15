"""Care relationships: the root of who may see which client's data."""

from __future__ import annotations

from datetime import date

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from rapport.core.countries import validate_country
from rapport.core.encryption import EncryptedDateField, EncryptedTextField


class CareRelationship(models.Model):
    """A therapist treating a client. Access to client data flows only through active ones."""

    class Status(models.TextChoices):
        ACTIVE = "active", _("Active")
        ENDED = "ended", _("Ended")

    therapist = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="caseload"
    )
    client = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="care_relationships"
    )
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.ACTIVE)
    started_at = models.DateTimeField(default=timezone.now)
    ended_at = models.DateTimeField(null=True, blank=True)
    ended_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )

    class Meta:
        ordering = ["-started_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["therapist", "client"],
                condition=Q(status="active"),
                name="one_active_relationship_per_pair",
            ),
            models.CheckConstraint(
                condition=~Q(therapist=models.F("client")), name="therapist_is_not_own_client"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.therapist} ↔ {self.client} ({self.status})"


OLDEST_AGE = 120  # years: a date of birth further back is a typing mistake


def validate_date_of_birth(value: date) -> None:
    """A date of birth is not in the future and not more than ``OLDEST_AGE`` years ago."""
    today = timezone.localdate()
    if value > today:
        raise ValidationError(_("A date of birth cannot be in the future."), code="future")
    try:
        earliest = today.replace(year=today.year - OLDEST_AGE)
    except ValueError:  # 29 February
        earliest = today.replace(year=today.year - OLDEST_AGE, day=28)
    if value < earliest:
        raise ValidationError(
            _("A date of birth cannot be more than %(years)s years ago.") % {"years": OLDEST_AGE},
            code="too_old",
        )


class ClientProfile(models.Model):
    """What the practice keeps about a client beyond their account. Free text is encrypted."""

    client = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="client_profile"
    )
    preferred_name = models.CharField(_("preferred name"), max_length=80, blank=True)
    phone = EncryptedTextField(_("phone number"), blank=True, default="")
    emergency_contact = EncryptedTextField(
        _("emergency contact (name, relation, phone)"), blank=True, default=""
    )
    date_of_birth = EncryptedDateField(_("date of birth"), validators=[validate_date_of_birth])
    # One block as the client writes it (street lines, city, region, postal code, country): what
    # a superbill and a record export print as it is.
    postal_address = EncryptedTextField(_("postal address"), blank=True, default="")
    intake_notes = EncryptedTextField(
        _("reason for referral / intake notes"), blank=True, default=""
    )
    # Where the client lives (ISO 3166-1 alpha-2): their crisis resources until a session
    # check-in says where they are.
    country = models.CharField(
        _("country the client lives in"),
        max_length=2,
        blank=True,
        default="",
        validators=[validate_country],
    )
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"profile of {self.client}"


class EmergencyAccess(models.Model):
    """A practice admin's time-limited "break glass" access to one client's record."""

    admin = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="emergency_accesses"
    )
    client = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    reason = EncryptedTextField(_("reason"))
    granted_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()

    class Meta:
        ordering = ["-granted_at"]

    def __str__(self) -> str:
        return f"emergency access by {self.admin} to {self.client}"
