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
    # A JPEG re-encoded from the upload (rapport.matching.photos): no metadata, at most 512 px.
    photo = models.BinaryField(null=True, blank=True, editable=False)
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
    # Keys of rapport.matching.vocab.POPULATIONS the client belongs to (soft fit only).
    populations = models.JSONField(default=list, blank=True)
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
    # What matching last found (rapport.matching.rules): the suggested therapists in rank order
    # with the facts that explain each ([{"therapist": id, "facts": {...}}]), or, when nobody
    # fits, the constraints nobody met (["language", "region"]). ``matched_at``: when it ran.
    suggestions = models.JSONField(default=list, blank=True)
    unmet = models.JSONField(default=list, blank=True)
    matched_at = models.DateTimeField(null=True, blank=True)
    # The therapists the client chose, in their order; an Offer is made to one at a time.
    choices = models.JSONField(default=list, blank=True)

    class Meta:
        ordering = ["created_at"]
        indexes = [models.Index(fields=["status", "created_at"])]

    def __str__(self) -> str:
        return f"care request of {self.client} ({self.status})"

    def suggested_ids(self) -> list[int]:
        return [int(s["therapist"]) for s in self.suggestions]


class Offer(models.Model):
    """A care request put to one therapist (or to the admins, per the practice's setting)."""

    class Status(models.TextChoices):
        PENDING = "pending", _("Waiting for an answer")
        ACCEPTED = "accepted", _("Accepted")
        DECLINED = "declined", _("Declined")
        EXPIRED = "expired", _("No answer in time")
        WITHDRAWN = "withdrawn", _("Withdrawn")

    request = models.ForeignKey(CareRequest, on_delete=models.CASCADE, related_name="offers")
    therapist = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="care_offers"
    )
    # 1 for the client's first choice; 0 when the practice chose.
    rank = models.PositiveSmallIntegerField(default=1)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    answered_at = models.DateTimeField(null=True, blank=True)
    answered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    # Why the therapist declined: for the practice, never shown to the client.
    decline_reason = EncryptedTextField(blank=True, default="")

    class Meta:
        ordering = ["created_at", "pk"]
        indexes = [models.Index(fields=["status", "expires_at"])]
        constraints = [
            models.UniqueConstraint(
                fields=["request"],
                condition=models.Q(status="pending"),
                name="one_pending_offer_per_request",
            )
        ]

    def __str__(self) -> str:
        return f"offer {self.pk} of request {self.request_id} to {self.therapist_id}"


class RematchRequest(models.Model):
    """A client in care asks the practice, privately, for a different therapist."""

    client = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="rematch_requests"
    )
    # The therapist the client wants to leave; not told until the practice acts.
    therapist = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    reason = EncryptedTextField(_("anything the practice should know (optional)"), blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    handled_at = models.DateTimeField(null=True, blank=True)
    handled_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    # The new request opened for the client when the practice acted.
    care_request = models.ForeignKey(
        CareRequest, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # The admin's choice when acting: care with ``therapist`` ends (and their sessions still to
    # come are cancelled) once a new therapist accepts; or both go on until ended by hand.
    hand_over = models.BooleanField(default=True)

    class Meta:
        ordering = ["created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["client"],
                condition=models.Q(handled_at__isnull=True),
                name="one_open_rematch_per_client",
            )
        ]

    def __str__(self) -> str:
        return f"re-match request of {self.client_id}"
