"""People who use Rapport, the practice they belong to, and invitations to join it."""

from __future__ import annotations

import hashlib
import secrets
import zoneinfo
from contextvars import ContextVar, Token
from datetime import timedelta
from typing import Any, ClassVar

from django.conf import settings
from django.contrib.auth.base_user import AbstractBaseUser, BaseUserManager
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils import timezone
from django.utils.crypto import salted_hmac
from django.utils.translation import gettext_lazy as _


def validate_time_zone(value: str) -> None:
    if value not in zoneinfo.available_timezones():
        raise ValidationError(_("“%(value)s” is not a known time zone."), params={"value": value})


class Role(models.TextChoices):
    CLIENT = "client", _("Client")
    THERAPIST = "therapist", _("Therapist")
    ADMIN = "admin", _("Practice admin")
    # Staff who keep the practice's billing: they see billing lines and fees, never notes.
    BILLING = "billing", _("Billing staff")


class UserManager(BaseUserManager["User"]):
    use_in_migrations = True

    def create_user(self, email: str, password: str | None = None, **fields: Any) -> User:
        if not email:
            raise ValueError("an email address is required")
        user = self.model(email=self.normalize_email(email).lower(), **fields)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_superuser(self, email: str, password: str | None = None, **fields: Any) -> User:
        fields.setdefault("role", Role.ADMIN)
        return self.create_user(email, password, **fields)


class User(AbstractBaseUser):
    """A client, therapist or practice admin, signing in with their email address."""

    email = models.EmailField(_("email address"), unique=True, max_length=254)
    full_name = models.CharField(_("full name"), max_length=150)
    role = models.CharField(_("role"), max_length=16, choices=Role.choices, default=Role.CLIENT)
    time_zone = models.CharField(
        _("time zone"), max_length=64, default="UTC", validators=[validate_time_zone]
    )
    language = models.CharField(
        _("language"), max_length=8, choices=settings.LANGUAGES, default="en"
    )
    # Blank: as usual in the person's language (rapport.core.clock).
    clock = models.CharField(
        _("times of day"),
        max_length=2,
        blank=True,
        default="",
        choices=[
            ("", _("As usual in my language")),
            ("12", _("12-hour (2:30 PM)")),
            ("24", _("24-hour (14:30)")),
        ],
    )
    is_active = models.BooleanField(_("active"), default=True)
    date_joined = models.DateTimeField(default=timezone.now)
    # Bumped by "sign out everywhere": every session minted before holds a stale auth hash.
    session_generation = models.PositiveIntegerField(default=0)

    objects: ClassVar[UserManager] = UserManager()

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS: ClassVar[list[str]] = ["full_name"]

    class Meta:
        ordering = ["full_name", "email"]

    def __str__(self) -> str:
        return self.full_name or self.email

    @property
    def is_client(self) -> bool:
        return self.role == Role.CLIENT

    @property
    def is_therapist(self) -> bool:
        return self.role == Role.THERAPIST

    @property
    def is_practice_admin(self) -> bool:
        return self.role == Role.ADMIN

    @property
    def is_billing_staff(self) -> bool:
        return self.role == Role.BILLING

    @property
    def requires_mfa(self) -> bool:
        return self.role in {Role.THERAPIST, Role.ADMIN, Role.BILLING}

    def second_factor_missing(self) -> bool:
        """Their role requires an authenticator and none is enrolled: pages send them to
        enrolment (``RequireMFAMiddleware``) and every socket refuses them at the handshake."""
        if not self.requires_mfa:
            return False
        # Read with the person by the sign-in backends (rapport.accounts.backends).
        enrolled = getattr(self, "has_authenticator", None)
        if enrolled is None:
            from allauth.mfa.models import Authenticator

            enrolled = Authenticator.objects.filter(user_id=self.pk).exists()
        return not enrolled

    @property
    def initials(self) -> str:
        parts = [p for p in self.full_name.split() if p]
        return "".join(p[0].upper() for p in parts[:3]) or self.email[:1].upper()

    # Django's staff/permission machinery is not used: Rapport has no Django admin site.
    @property
    def is_staff(self) -> bool:
        return False

    @property
    def is_superuser(self) -> bool:
        return False

    def _get_session_auth_hash(self, secret: str | None = None) -> str:
        # Includes the session generation so that "sign out everywhere" ends every session.
        return salted_hmac(
            "rapport.accounts.User.session_auth_hash",
            f"{self.password}:{self.session_generation}",
            secret=secret,
            algorithm="sha256",
        ).hexdigest()


def validate_reminder_minutes(value: str) -> None:
    parts = [p.strip() for p in value.split(",") if p.strip()]
    if not parts or not all(p.isdigit() and 0 < int(p) <= 20160 for p in parts):
        raise ValidationError(
            _("List minutes before the session, like “1440,60” (at most two weeks).")
        )


class Jurisdiction(models.TextChoices):
    """Where the practice keeps records, for the default retention period. Each default and its
    source is in docs/security.md, "Retention": a starting point, never legal advice."""

    US = "us", _("United States (APA guideline; state law may ask for longer)")
    ENGLAND = "uk_england", _("England (NHS records code: mental health)")
    GERMANY = "de", _("Germany (BGB § 630f)")
    OTHER = "other", _("Elsewhere (set the years yourself)")


# Years after the last contact each jurisdiction keeps an adult's record (docs/security.md).
RETENTION_DEFAULT_YEARS = {Jurisdiction.US: 7, Jurisdiction.ENGLAND: 20, Jurisdiction.GERMANY: 10}


# Within one request the practice row is read once (``PracticeOncePerRequestMiddleware`` opens
# the scope): the layout, the view and the services it calls each ask for it. Outside a request
# (tasks, sockets, commands) every call reads the row afresh.
_practice_of_request: ContextVar[dict[str, Practice] | None] = ContextVar(
    "practice_of_request", default=None
)


class MinorsPolicy(models.TextChoices):
    """What sign-up does with someone younger than the practice's age of majority."""

    REFUSE = "refuse", _("Refuse: point them to crisis help and to an adult they trust")
    GUARDIAN = "guardian", _("Ask a parent or guardian to consent before matching")


class Practice(models.Model):
    """The practice running this Rapport instance (one row)."""

    id = models.PositiveSmallIntegerField(primary_key=True, default=1)
    name = models.CharField(_("practice name"), max_length=120, default="Rapport practice")
    allow_client_self_registration = models.BooleanField(
        _("clients may create their own account"), default=False
    )
    requires_booking_approval = models.BooleanField(
        _("client bookings wait for the therapist's approval"), default=False
    )
    late_cancel_hours = models.PositiveSmallIntegerField(
        _("late cancellation window (hours before the session)"), default=24
    )
    reminder_minutes = models.CharField(
        _("reminders (minutes before the session, comma-separated)"),
        max_length=60,
        default="1440,60",
        validators=[validate_reminder_minutes],
    )
    join_opens_minutes = models.PositiveSmallIntegerField(
        _("the session can be joined this many minutes before it starts"), default=10
    )
    calendar_shows_client_names = models.BooleanField(
        _("therapist calendar feeds show client full names (otherwise initials)"), default=False
    )
    crisis_resources = models.TextField(
        _("crisis resources shown to clients"),
        max_length=2000,
        default="If you are in danger, call your local emergency number. "
        "In the US, call or text 988 (Suicide & Crisis Lifeline).",
    )

    message_attachment_limit_mb = models.PositiveSmallIntegerField(
        _("largest file a message may carry (MB)"),
        default=20,
        validators=[MinValueValidator(1), MaxValueValidator(100)],
    )

    alert_escalation_minutes = models.PositiveSmallIntegerField(
        _("an unacknowledged safety alert goes to the practice admins after (minutes)"),
        default=60,
        validators=[MinValueValidator(5), MaxValueValidator(24 * 60)],
    )

    # A risk answer in a questionnaire saved but not sent alerts nobody: after this long the
    # therapist is told that one waits (docs/security.md, "Measures and safety alerts").
    unsent_risk_minutes = models.PositiveSmallIntegerField(
        _("tell the therapist of a risk answer left unsent after (minutes)"),
        default=120,
        validators=[MinValueValidator(15), MaxValueValidator(24 * 60)],
    )

    # A note left unsigned longer than this is late (listed on the therapist's home page).
    late_note_hours = models.PositiveSmallIntegerField(
        _("a note unsigned after this many hours is late"),
        default=72,
        validators=[MinValueValidator(1), MaxValueValidator(24 * 30)],
    )

    # The form clients get after each session: Rapport's own feedback form (blank), or the key of
    # an imported, licensed alliance measure.
    after_session_instrument = models.CharField(
        _("after each session, ask"), max_length=40, blank=True, default=""
    )

    # Retention: records whose last contact is older than this are listed for erasure.
    retention_jurisdiction = models.CharField(
        _("records are kept under the law of"),
        max_length=12,
        choices=Jurisdiction.choices,
        default=Jurisdiction.US,
    )
    retention_years = models.PositiveSmallIntegerField(
        _("keep a record this many years after the last contact"),
        null=True,
        blank=True,
        validators=[MinValueValidator(1), MaxValueValidator(100)],
        help_text=_("Leave blank for the jurisdiction's default. Check your local law."),
    )

    # Practice outcomes (rapport.outcomes): a count of fewer clients than this is never shown
    # (never below 5, docs/architecture.md "Outcomes"); an episode of care has ended once care
    # ended or this many days passed without a session.
    outcomes_suppression_threshold = models.PositiveSmallIntegerField(
        _("outcomes: hide any count of fewer clients than"),
        default=10,
        validators=[MinValueValidator(5), MaxValueValidator(100)],
    )
    outcomes_episode_gap_days = models.PositiveSmallIntegerField(
        _("outcomes: an episode has ended after this many days without a session"),
        default=90,
        validators=[MinValueValidator(14), MaxValueValidator(730)],
    )

    # Matching (rapport.matching): who answers a client's choice of therapist, and how long
    # they have before it passes to the client's next choice.
    offers_answered_by = models.CharField(
        _("a client's choice of therapist is accepted by"),
        max_length=10,
        choices=[("therapist", _("The therapist chosen")), ("admin", _("A practice admin"))],
        default="therapist",
    )
    offer_answer_hours = models.PositiveSmallIntegerField(
        _("hours to answer before the request passes on"),
        default=48,
        validators=[MinValueValidator(1), MaxValueValidator(24 * 14)],
    )

    # Sign-up (rapport.signup): minors, and who hears of a risk answer before any therapist
    # is assigned (blank: every active admin).
    minors_policy = models.CharField(
        _("people under the age of majority who sign up"),
        max_length=10,
        choices=MinorsPolicy.choices,
        default=MinorsPolicy.REFUSE,
    )
    age_of_majority = models.PositiveSmallIntegerField(
        _("age of majority"),
        default=18,
        validators=[MinValueValidator(14), MaxValueValidator(21)],
    )
    on_call_admin = models.ForeignKey(
        User,
        verbose_name=_("on-call admin for new clients' safety alerts"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        limit_choices_to={"role": Role.ADMIN, "is_active": True},
    )

    def __str__(self) -> str:
        return self.name

    def save(self, *args: Any, **kwargs: Any) -> None:
        super().save(*args, **kwargs)
        remembered = _practice_of_request.get()
        if remembered is not None:  # the rest of this request sees what was just saved
            remembered["practice"] = self

    @property
    def retention_period_years(self) -> int | None:
        """The years a record is kept after the last contact; None when nobody has said."""
        if self.retention_years is not None:
            return self.retention_years
        return RETENTION_DEFAULT_YEARS.get(Jurisdiction(self.retention_jurisdiction))

    def clean(self) -> None:
        if self.retention_jurisdiction == Jurisdiction.OTHER and self.retention_years is None:
            raise ValidationError(
                {"retention_years": _("Say how many years the law where you practise asks for.")}
            )

    @property
    def reminder_offsets(self) -> list[int]:
        return sorted({int(p) for p in self.reminder_minutes.split(",") if p.strip()}, reverse=True)

    @classmethod
    def get(cls) -> Practice:
        remembered = _practice_of_request.get()
        if remembered is not None and "practice" in remembered:
            return remembered["practice"]
        practice, _ = cls.objects.get_or_create(id=1)
        if remembered is not None:
            remembered["practice"] = practice
        return practice

    @staticmethod
    def once_per_request() -> Token[dict[str, Practice] | None]:
        """Open a request's scope (``reset_request_scope`` closes it)."""
        return _practice_of_request.set({})

    @staticmethod
    def reset_request_scope(token: Token[dict[str, Practice] | None]) -> None:
        _practice_of_request.reset(token)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


class InvitationQuerySet(models.QuerySet["Invitation"]):
    def pending(self) -> InvitationQuerySet:
        return self.filter(
            accepted_at__isnull=True, revoked_at__isnull=True, expires_at__gt=timezone.now()
        )


class Invitation(models.Model):
    """A single-use, expiring link that lets one email address create one account.

    Only the hash of the token is stored: a leaked database does not hand out accounts.
    """

    email = models.EmailField(_("email address"), max_length=254)
    full_name = models.CharField(_("full name"), max_length=150)
    role = models.CharField(max_length=16, choices=Role.choices)
    invited_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="invitations_sent")
    token_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    accepted_at = models.DateTimeField(null=True, blank=True)
    accepted_user = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    revoked_at = models.DateTimeField(null=True, blank=True)

    objects = InvitationQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"invitation for {self.email}"

    @staticmethod
    def new_token() -> str:
        return secrets.token_urlsafe(32)

    @staticmethod
    def default_expiry() -> Any:
        return timezone.now() + timedelta(days=settings.INVITATION_DAYS)

    @property
    def status(self) -> str:
        if self.accepted_at:
            return "accepted"
        if self.revoked_at:
            return "revoked"
        if self.expires_at <= timezone.now():
            return "expired"
        return "pending"
