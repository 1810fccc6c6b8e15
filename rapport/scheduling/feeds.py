"""Private calendar subscription feeds: issuing, revoking and finding them by token.

The token is shown to its owner once; the database keeps only its SHA-256, so a leaked backup
does not hand out anyone's calendar. Regenerating replaces the hash: the old address stops
working at once.
"""

from __future__ import annotations

import secrets
from datetime import timedelta

from django.db import transaction
from django.db.models import Q
from django.http import HttpRequest
from django.utils import timezone

from rapport.accounts.models import User, hash_token
from rapport.audit.services import Action, record
from rapport.scheduling.models import Appointment, AppointmentStatus, CalendarFeed

# What a feed holds: recent history and the coming year.
FEED_PAST = timedelta(days=30)
FEED_AHEAD = timedelta(days=365)


def issue_feed(user: User, *, request: HttpRequest | None = None) -> str:
    """Create the user's feed, or replace its token. Returns the new token (shown once)."""
    token = secrets.token_urlsafe(32)
    with transaction.atomic():
        feed, created = CalendarFeed.objects.update_or_create(
            user=user,
            defaults={"token_hash": hash_token(token), "created_at": timezone.now()},
        )
        record(
            Action.CALENDAR_FEED_CHANGED,
            actor=user,
            request=request,
            obj=feed,
            change="created" if created else "regenerated",
        )
    return token


def revoke_feed(user: User, *, request: HttpRequest | None = None) -> bool:
    """Delete the user's feed. False if there was none."""
    with transaction.atomic():
        feed = CalendarFeed.objects.select_for_update().filter(user=user).first()
        if feed is None:
            return False
        record(
            Action.CALENDAR_FEED_CHANGED, actor=user, request=request, obj=feed, change="revoked"
        )
        feed.delete()
    return True


def feed_owner(token: str) -> User | None:
    """The active user whose feed ``token`` opens, or None."""
    feed = (
        CalendarFeed.objects.select_related("user")
        .filter(token_hash=hash_token(token), user__is_active=True)
        .first()
    )
    return feed.user if feed is not None else None


def feed_appointments(user: User) -> list[Appointment]:
    """The user's own appointments for their feed; cancelled ones are left out."""
    now = timezone.now()
    return list(
        Appointment.objects.filter(Q(therapist=user) | Q(client=user))
        .filter(starts_at__gte=now - FEED_PAST, starts_at__lte=now + FEED_AHEAD)
        .exclude(status=AppointmentStatus.CANCELLED)
        .select_related("therapist", "client")
        .order_by("starts_at")
    )
