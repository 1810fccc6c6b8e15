"""Push subscriptions (one per person per browser or device) and push deliveries (one per
decision to send a notice, keyed like the email outbox's rows)."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class NoticeKind(models.TextChoices):
    """The notices push can carry; each is also a choice on a subscription."""

    NEW_MESSAGE = "new_message", _("New messages")
    SESSION_STARTING = "session_starting", _("A session starts in 10 minutes")
    QUESTIONNAIRE_DUE = "questionnaire_due", _("A questionnaire to fill in")
    CLIENT_WAITING = "client_waiting", _("A client is waiting for you")
    SAFETY_ALERT = "safety_alert", _("Safety alerts")
    CARE_REQUEST = "care_request", _("News about a request for a therapist")


class PushSubscription(models.Model):
    """One browser or device where a person turned push notices on, and which notices it gets.

    ``endpoint`` is the push service's address for that browser (a capability: whoever knows it
    with the keys can send to it); ``p256dh`` and ``auth`` are the browser's keys that every
    payload is encrypted to (RFC 8291). A subscription the push service answers 404 or 410 for
    is deleted.
    """

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="push_subscriptions"
    )
    endpoint = models.CharField(max_length=1024, unique=True)
    p256dh = models.CharField(max_length=100)
    auth = models.CharField(max_length=50)
    label = models.CharField(max_length=80, blank=True)  # "Chrome on Android", from the browser
    new_message = models.BooleanField(default=True)
    session_starting = models.BooleanField(default=True)
    questionnaire_due = models.BooleanField(default=True)
    client_waiting = models.BooleanField(default=True)
    safety_alert = models.BooleanField(default=True)
    care_request = models.BooleanField(default=True)
    created_at = models.DateTimeField(default=timezone.now)
    last_success_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["user"], name="push_subscription_user")]

    def __str__(self) -> str:
        return f"push subscription {self.pk} of user {self.user_id}"

    def kinds(self) -> list[str]:
        return [kind for kind in NoticeKind.values if getattr(self, kind)]


class PushStatus(models.TextChoices):
    PENDING = "pending", _("Pending")
    SENDING = "sending", _("Sending")
    SENT = "sent", _("Sent")
    SKIPPED = "skipped", _("Skipped")


class PushDelivery(models.Model):
    """One decision to push a notice to a person, written in the deciding transaction.

    The unique ``key`` names the decision (``message:<participant>:<seq>``, ``alert:<id>`` ...),
    so a decision taken twice records once; the task that sends it claims the row first, so it
    goes out at most once (push is the quick nudge; the email beside it is the record).
    """

    key = models.CharField(max_length=200, unique=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="push_deliveries"
    )
    kind = models.CharField(max_length=30, choices=NoticeKind.choices)
    status = models.CharField(max_length=10, choices=PushStatus.choices, default=PushStatus.PENDING)
    outcome = models.CharField(max_length=60, blank=True)  # "2 devices", "quiet hours"
    created_at = models.DateTimeField(default=timezone.now)
    sent_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.kind} push {self.key} ({self.status})"
