"""Availability, appointments and telehealth consent.

Times are stored in UTC. Weekly windows are wall-clock times in the therapist's IANA zone, so a
09:00 window stays 09:00 across daylight-saving changes. No two live appointments of one
therapist (buffer included) or of one client may overlap: PostgreSQL refuses it with exclusion
constraints (migration 0002); on SQLite, booking runs in IMMEDIATE transactions that serialize
the same check (``rapport.scheduling.booking``).
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class Modality(models.TextChoices):
    VIDEO = "video", _("Video")
    AUDIO = "audio", _("Audio only")
    TEXT = "text", _("Live text")


class OfferedTo(models.TextChoices):
    """Which of a therapist's clients may book a kind of session themselves. A client is new to
    a therapist until they have a session with them that is booked, held or under way (a
    cancelled one or a no-show does not count): a new client books the intake, the others the
    follow-ups. The therapist books any kind for anyone."""

    ALL = "all", _("All clients")
    NEW = "new", _("New clients only (their first session)")
    RETURNING = "returning", _("Returning clients only")


class SessionType(models.Model):
    """A kind of session a therapist offers: its length, modalities and booking rules."""

    therapist = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="session_types"
    )
    name = models.CharField(_("name"), max_length=80)
    minutes = models.PositiveSmallIntegerField(
        _("length (minutes)"), validators=[MinValueValidator(15), MaxValueValidator(240)]
    )
    allow_video = models.BooleanField(_("video"), default=True)
    allow_audio = models.BooleanField(_("audio only"), default=True)
    allow_text = models.BooleanField(_("live text"), default=True)
    buffer_minutes = models.PositiveSmallIntegerField(
        _("buffer after (minutes)"), default=10, validators=[MaxValueValidator(120)]
    )
    min_notice_hours = models.PositiveSmallIntegerField(
        _("minimum notice (hours)"), default=12, validators=[MaxValueValidator(24 * 14)]
    )
    horizon_days = models.PositiveSmallIntegerField(
        _("bookable up to (days ahead)"),
        default=56,
        validators=[MinValueValidator(1), MaxValueValidator(365)],
    )
    is_active = models.BooleanField(_("offered"), default=True)
    offered_to = models.CharField(
        _("clients can book it"),
        max_length=10,
        choices=OfferedTo.choices,
        default=OfferedTo.ALL,
        help_text=_(
            "A client is new until they have a session with you booked or held. You can book "
            "any kind of session for any client yourself."
        ),
    )

    class Meta:
        ordering = ["minutes", "name"]
        constraints = [
            models.CheckConstraint(
                condition=Q(allow_video=True) | Q(allow_audio=True) | Q(allow_text=True),
                name="session_type_has_a_modality",
            )
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.minutes} min)"

    @property
    def modalities(self) -> list[str]:
        allowed = [
            (self.allow_video, Modality.VIDEO),
            (self.allow_audio, Modality.AUDIO),
            (self.allow_text, Modality.TEXT),
        ]
        return [str(modality) for on, modality in allowed if on]


class Weekday(models.IntegerChoices):
    MONDAY = 0, _("Monday")
    TUESDAY = 1, _("Tuesday")
    WEDNESDAY = 2, _("Wednesday")
    THURSDAY = 3, _("Thursday")
    FRIDAY = 4, _("Friday")
    SATURDAY = 5, _("Saturday")
    SUNDAY = 6, _("Sunday")


class WeeklyWindow(models.Model):
    """Every <weekday>, from <start> to <end>, wall-clock time in the therapist's zone."""

    therapist = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="weekly_windows"
    )
    weekday = models.PositiveSmallIntegerField(_("day"), choices=Weekday.choices)
    start_time = models.TimeField(_("from"))
    end_time = models.TimeField(_("until"))
    time_zone = models.CharField(max_length=64)

    class Meta:
        ordering = ["weekday", "start_time"]
        constraints = [
            models.CheckConstraint(
                condition=Q(end_time__gt=F("start_time")), name="window_ends_after_it_starts"
            )
        ]

    def __str__(self) -> str:
        return f"{self.get_weekday_display()} {self.start_time:%H:%M}-{self.end_time:%H:%M}"


class AvailabilityChange(models.Model):
    """A one-off change to the weekly pattern: extra hours, or time off."""

    class Kind(models.TextChoices):
        EXTRA = "extra", _("Extra hours")
        TIME_OFF = "off", _("Time off")

    therapist = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="availability_changes"
    )
    kind = models.CharField(_("kind"), max_length=5, choices=Kind.choices)
    starts_at = models.DateTimeField(_("from"))
    ends_at = models.DateTimeField(_("until"))

    class Meta:
        ordering = ["starts_at"]
        constraints = [
            models.CheckConstraint(
                condition=Q(ends_at__gt=F("starts_at")), name="change_ends_after_it_starts"
            )
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.starts_at:%Y-%m-%d %H:%M}"


class AppointmentStatus(models.TextChoices):
    REQUESTED = "requested", _("Requested")
    CONFIRMED = "confirmed", _("Confirmed")
    IN_PROGRESS = "in_progress", _("In progress")
    COMPLETED = "completed", _("Completed")
    CANCELLED = "cancelled", _("Cancelled")
    NO_SHOW = "no_show", _("No-show")


# Appointments that hold their time: only these can collide.
LIVE_STATUSES = [
    AppointmentStatus.REQUESTED,
    AppointmentStatus.CONFIRMED,
    AppointmentStatus.IN_PROGRESS,
]

# Appointments that make a client "returning" to their therapist (``OfferedTo``).
TAKEN_STATUSES = [*LIVE_STATUSES, AppointmentStatus.COMPLETED]


class AppointmentSeries(models.Model):
    """A recurring booking made by a therapist (weekly or every two weeks)."""

    therapist = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    client = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    interval_weeks = models.PositiveSmallIntegerField(
        validators=[MinValueValidator(1), MaxValueValidator(4)]
    )
    created_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"series every {self.interval_weeks} week(s)"


class Appointment(models.Model):
    """A booked time between a therapist and a client."""

    uid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    therapist = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="therapist_appointments"
    )
    client = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="client_appointments"
    )
    session_type = models.ForeignKey(SessionType, on_delete=models.PROTECT, related_name="+")
    modality = models.CharField(_("modality"), max_length=8, choices=Modality.choices)
    starts_at = models.DateTimeField(_("starts"), db_index=True)
    ends_at = models.DateTimeField(_("ends"))
    # End of the therapist's buffer after the session: the therapist is busy until then.
    busy_until = models.DateTimeField()
    status = models.CharField(
        _("status"),
        max_length=12,
        choices=AppointmentStatus.choices,
        default=AppointmentStatus.CONFIRMED,
    )
    series = models.ForeignKey(
        AppointmentSeries,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="appointments",
    )
    booked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    booked_at = models.DateTimeField(default=timezone.now)
    cancelled_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    cancelled_at = models.DateTimeField(null=True, blank=True)
    late_cancellation = models.BooleanField(default=False)
    # iCalendar SEQUENCE: goes up with every change that calendar apps must pick up.
    revision = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["starts_at"]
        indexes = [
            models.Index(fields=["therapist", "starts_at"]),
            models.Index(fields=["client", "starts_at"]),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(ends_at__gt=F("starts_at")) & Q(busy_until__gte=F("ends_at")),
                name="appointment_times_in_order",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.starts_at:%Y-%m-%d %H:%M} {self.therapist} / {self.client}"

    @property
    def is_live(self) -> bool:
        return self.status in LIVE_STATUSES


class ConsentDocument(models.Model):
    """A published version of the practice's telehealth informed-consent text."""

    version = models.PositiveIntegerField(unique=True)
    title = models.CharField(_("title"), max_length=160)
    body = models.TextField(_("text"), max_length=50000)
    published_at = models.DateTimeField(default=timezone.now)
    published_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        ordering = ["-version"]

    def __str__(self) -> str:
        return f"{self.title} v{self.version}"


class ConsentSignature(models.Model):
    """A client's signature of one consent version: typed name, time and address kept."""

    client = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="consent_signatures"
    )
    document = models.ForeignKey(
        ConsentDocument, on_delete=models.PROTECT, related_name="signatures"
    )
    typed_name = models.CharField(_("typed name"), max_length=150)
    signed_at = models.DateTimeField(default=timezone.now)
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["-signed_at"]
        constraints = [
            models.UniqueConstraint(fields=["client", "document"], name="one_signature_per_version")
        ]

    def __str__(self) -> str:
        return f"{self.client} signed v{self.document.version}"


class ReminderDelivery(models.Model):
    """Proof that one reminder for one appointment time went out: the unique key makes it once."""

    appointment = models.ForeignKey(Appointment, on_delete=models.CASCADE, related_name="+")
    minutes_before = models.PositiveIntegerField()
    starts_at = models.DateTimeField()
    sent_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["appointment", "minutes_before", "starts_at"], name="reminder_sent_once"
            )
        ]

    def __str__(self) -> str:
        return f"reminder {self.minutes_before} min before {self.appointment_id}"


class CalendarFeed(models.Model):
    """A user's private calendar subscription. Only the token's hash is stored."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="calendar_feed"
    )
    token_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"calendar feed of {self.user}"
