"""Live sessions ("visits"): who may be in the room, and a timeline of what happened in it.

A visit belongs to one care relationship, and to an appointment when it was booked. It stays one
record across reloads, reconnects and modality switches. Presence (which socket of each person is
current, and since when they are away) is kept on the row so every server process agrees on it.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from rapport.care.models import CareRelationship
from rapport.core.encryption import EncryptedTextField
from rapport.scheduling.models import Appointment, Modality


class VisitStatus(models.TextChoices):
    OPEN = "open", _("Open")
    LIVE = "live", _("In session")
    ENDED = "ended", _("Ended")


class Visit(models.Model):
    uid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    relationship = models.ForeignKey(
        CareRelationship, on_delete=models.PROTECT, related_name="visits"
    )
    therapist = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="therapist_visits"
    )
    client = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="client_visits"
    )
    appointment = models.OneToOneField(
        Appointment, null=True, blank=True, on_delete=models.PROTECT, related_name="visit"
    )
    planned_modality = models.CharField(max_length=8, choices=Modality.choices)
    modality = models.CharField(_("modality"), max_length=8, choices=Modality.choices)
    status = models.CharField(max_length=8, choices=VisitStatus.choices, default=VisitStatus.OPEN)
    created_at = models.DateTimeField(default=timezone.now)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    started_at = models.DateTimeField(null=True, blank=True)
    ended_at = models.DateTimeField(null=True, blank=True)
    ended_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    # Presence. The *_channel is the current socket (a newer one replaces it); *_connection is
    # its public id, so the peer knows when to build a new peer connection.
    therapist_channel = models.CharField(max_length=120, blank=True)
    therapist_connection = models.CharField(max_length=32, blank=True)
    therapist_away_since = models.DateTimeField(null=True, blank=True)
    client_channel = models.CharField(max_length=120, blank=True)
    client_connection = models.CharField(max_length=32, blank=True)
    client_away_since = models.DateTimeField(null=True, blank=True)
    client_admitted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["relationship"],
                condition=~Q(status="ended"),
                name="one_open_visit_per_relationship",
            )
        ]

    def __str__(self) -> str:
        return f"visit {self.uid}"

    def get_absolute_url(self) -> str:
        return reverse("visit_room", args=[self.uid])

    @property
    def is_ended(self) -> bool:
        return self.status == VisitStatus.ENDED

    def client_is_admitted(self, now: datetime | None = None) -> bool:
        """Admitted, and connected or away for less than the rejoin grace period."""
        if self.client_admitted_at is None or self.is_ended:
            return False
        if self.client_channel or self.client_away_since is None:
            return True
        grace = timedelta(seconds=settings.RAPPORT_VISIT_REJOIN_GRACE_SECONDS)
        return (now or timezone.now()) - self.client_away_since <= grace


class EventKind(models.TextChoices):
    CREATED = "created", _("Room opened")
    CHECKED_IN = "checked_in", _("Client checked in")
    WAITING = "waiting", _("Client waiting")
    ADMITTED = "admitted", _("Client admitted")
    JOINED = "joined", _("Joined")
    LEFT = "left", _("Left")
    MODALITY = "modality", _("Modality switched")
    QUALITY_POOR = "quality_poor", _("Connection poor")
    QUALITY_RECOVERED = "quality_ok", _("Connection recovered")
    RECONNECTING = "reconnecting", _("Reconnecting")
    RECONNECTED = "reconnected", _("Reconnected")
    RECONNECT_FAILED = "reconnect_failed", _("Reconnect failed")
    SIGNALING_LOST = "signaling_lost", _("Signaling lost, media kept flowing")
    SIGNALING_BACK = "signaling_back", _("Signaling back")
    WAIT_MESSAGE = "wait_message", _("Message to the waiting room")
    ENDED = "ended", _("Session ended")


class VisitEvent(models.Model):
    """One line of a visit's timeline. ``detail`` holds figures and codes in the server's words,
    never what was said; encrypted, as it describes the client's session."""

    visit = models.ForeignKey(Visit, on_delete=models.CASCADE, related_name="events")
    at = models.DateTimeField(default=timezone.now)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    kind = models.CharField(max_length=20, choices=EventKind.choices)
    modality = models.CharField(max_length=8, choices=Modality.choices, blank=True)
    reason = models.CharField(max_length=20, blank=True)
    detail = EncryptedTextField(blank=True, default="")
    # How long it lasted, for an event that ends something: a call's media loss (a blackout)
    # on `reconnected`. Queryable (unlike `detail`) for the time lost in a session.
    seconds = models.FloatField(null=True, blank=True)

    class Meta:
        ordering = ["at", "pk"]

    def __str__(self) -> str:
        return f"{self.kind} at {self.at:%H:%M:%S}"


class AtHome(models.TextChoices):
    HOME = "home", _("Yes, I am at home")
    ELSEWHERE = "elsewhere", _("No, I am somewhere else")


class SafetyCheckIn(models.Model):
    """Where the client is for this session and how to reach help: confirmed before every visit."""

    visit = models.ForeignKey(Visit, on_delete=models.CASCADE, related_name="checkins")
    client = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="safety_checkins"
    )
    location = EncryptedTextField(_("where you are right now"))
    # ISO 3166-1 alpha-2; blank on check-ins from before it was asked. Chooses the client's
    # crisis resources (rapport.crisis, through the receiver in rapport.visits.apps).
    country = EncryptedTextField(_("country you are in"), blank=True, default="")
    geolocation = EncryptedTextField(_("position from the browser"), blank=True, default="")
    # Whether the client said they are at home; blank when they did not say. Billing's place of
    # service (10 at home, 02 elsewhere) is read from it, never guessed from ``location``.
    at_home = models.CharField(
        _("at home"), max_length=9, choices=AtHome.choices, blank=True, default=""
    )
    callback_phone = EncryptedTextField(_("phone number to call you back"))
    emergency_contact = EncryptedTextField(_("emergency contact"))
    confirmed_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-confirmed_at", "-pk"]

    def __str__(self) -> str:
        return f"check-in for {self.visit_id}"

    def as_dict(self) -> dict[str, str]:
        return {
            "location": self.location,
            "geolocation": self.geolocation,
            "callback_phone": self.callback_phone,
            "emergency_contact": self.emergency_contact,
            "confirmed_at": self.confirmed_at.isoformat(),
        }
