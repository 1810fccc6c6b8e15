"""What sign-up keeps beyond the account, the profile and the care request: a minor's guardian
and their consent, and the safety alerts a new client's screen raises before any therapist is
assigned. The guardian's name, address and message and the action taken are encrypted.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from rapport.core.encryption import EncryptedTextField
from rapport.measures.models import Response


class GuardianConsent(models.Model):
    """A minor's parent or guardian, asked by email to consent; matching waits until they do.

    Only the hash of the link's token is kept (``rapport.accounts.models.hash_token``)."""

    client = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="guardian_consent"
    )
    guardian_name = EncryptedTextField()
    guardian_email = EncryptedTextField()
    message = EncryptedTextField(blank=True, default="")
    token_hash = models.CharField(max_length=64, blank=True, default="", db_index=True)
    created_at = models.DateTimeField(default=timezone.now)
    # When the email went out: once the minor has confirmed their own address.
    asked_at = models.DateTimeField(null=True, blank=True)
    # When the one reminder went out (a new request by hand clears it).
    reminded_at = models.DateTimeField(null=True, blank=True)
    consented_at = models.DateTimeField(null=True, blank=True)
    # The name the guardian typed as their signature (encrypted).
    signed_name = EncryptedTextField(blank=True, default="")

    def __str__(self) -> str:
        return f"guardian consent for client {self.client_id}"

    @property
    def is_pending(self) -> bool:
        return self.consented_at is None


class IntakeAlert(models.Model):
    """A risk answer in a new client's screen, before any therapist: it goes to the practice's
    on-call admin (or every active admin), who records the action taken."""

    class Source(models.TextChoices):
        SCREEN = "screen", _("Screen")
        INTAKE = "intake", _("Intake form")

    client = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    source = models.CharField(max_length=10, choices=Source.choices, default=Source.SCREEN)
    # The screen's response with the risk answer (blank for an intake form's answer).
    response = models.ForeignKey(
        Response, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    opened_at = models.DateTimeField(default=timezone.now, db_index=True)
    # The admins told (user ids), as decided when it was raised.
    notified = models.JSONField(default=list)
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    acknowledged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    action_taken = EncryptedTextField(blank=True, default="")

    class Meta:
        ordering = ["-opened_at"]

    def __str__(self) -> str:
        return f"intake alert {self.pk}"

    @property
    def is_open(self) -> bool:
        return self.acknowledged_at is None
