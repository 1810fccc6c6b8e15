"""Therapist profiles and clients' requests for a therapist.

A ``CareRequest`` is what a client asks for (region, language, how to meet, concerns, when they are
free) and where that request stands. It is created at sign-up (``rapport.signup``) and moved on by
the matching services; a care relationship starts only when a therapist (or an admin) accepts.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from rapport.core.encryption import EncryptedTextField


class TherapistProfile(models.Model):
    """What a client may read about a therapist before choosing, and what matching reads."""

    therapist = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="therapist_profile"
    )
    pronouns = models.CharField(_("pronouns"), max_length=40, blank=True, default="")
    bio = models.TextField(_("short bio"), max_length=1200, blank=True, default="")
    # Keys from rapport.matching.vocab (APPROACHES, CONCERNS, POPULATIONS).
    approaches = models.JSONField(_("approaches"), default=list, blank=True)
    specialties = models.JSONField(_("specialties"), default=list, blank=True)
    populations = models.JSONField(_("populations"), default=list, blank=True)
    # Language codes as in settings.LANGUAGES plus any other ISO 639-1 code ("en", "es", "pl").
    languages = models.JSONField(_("languages"), default=list, blank=True)
    # "video", "audio", "text" (rapport.scheduling.models.Modality).
    modalities = models.JSONField(_("modalities offered"), default=list, blank=True)
    # ISO 3166-2 ("US-CA") or country ("GB") codes (rapport.matching.vocab.region_code).
    licensed_regions = models.JSONField(_("licensed in"), default=list, blank=True)
    fee_information = models.CharField(
        _("fees and insurance"), max_length=300, blank=True, default=""
    )
    accepting_new_clients = models.BooleanField(_("accepting new clients"), default=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"profile of {self.therapist}"


class CareRequest(models.Model):
    """A client's request for a therapist, from sign-up until a therapist accepts."""

    class Status(models.TextChoices):
        INTAKE = "intake", _("Completing the intake and screen")
        CHOOSING = "choosing", _("Choosing a therapist")
        OFFERED = "offered", _("Waiting for a therapist's answer")
        PRACTICE = "practice", _("The practice is choosing")
        WAITLISTED = "waitlisted", _("On the waitlist")
        MATCHED = "matched", _("Matched")
        CLOSED = "closed", _("Closed")

    class Payment(models.TextChoices):
        SELF_PAY = "self_pay", _("I will pay myself")
        INSURANCE = "insurance", _("Insurance")

    client = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="care_requests"
    )
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.INTAKE)
    region = models.CharField(_("where you live"), max_length=6)
    language = models.CharField(_("language for therapy"), max_length=8)
    modalities = models.JSONField(_("how you prefer to meet"), default=list)
    concerns = models.JSONField(_("what you want help with"), default=list, blank=True)
    concerns_text = EncryptedTextField(_("in your own words"), blank=True, default="")
    approaches = models.JSONField(_("approaches you would like"), default=list, blank=True)
    # When the client is free, in their own time zone: [{"weekday": 0-6 (Monday 0),
    # "start": "HH:MM", "end": "HH:MM"}, ...].
    availability = models.JSONField(_("when you are free"), default=list, blank=True)
    time_zone = models.CharField(_("time zone"), max_length=64)
    payment_route = models.CharField(
        _("how you will pay"), max_length=10, choices=Payment.choices, default=Payment.SELF_PAY
    )
    insurer_name = models.CharField(_("insurance company"), max_length=120, blank=True, default="")
    created_at = models.DateTimeField(default=timezone.now)
    status_changed_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["created_at"]
        indexes = [models.Index(fields=["status", "created_at"])]

    def __str__(self) -> str:
        return f"care request of {self.client} ({self.status})"
