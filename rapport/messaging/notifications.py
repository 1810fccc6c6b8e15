"""Emails about unread messages: one, without content, when a message stays unread for a while.

The send path only marks the start of a cycle: the recipient's ``Participant.notice_due_at`` is
set to ``first_look`` (the message's time plus the shortest delay anyone can choose) when no
cycle runs, in the UPDATE that counts the message as unread. Nothing is queued. Reading
everything ends the cycle (``services.mark_read`` empties ``notice_due_at``).

``rapport worker`` sweeps the cycles that are due (``send_due_notices``, every poll interval)
and decides then: has the person read it meanwhile, what delay did they choose (a later one
moves ``notice_due_at`` on), do they want emails or push notices (``rapport.push``, with the same
delay and quiet hours), is it their quiet time. One email (and one push notice) covers every
conversation of that person with unread messages; messages after it start a new cycle. The
state is the database's, so a worker that stops, crashes or runs twice loses and doubles
nothing.

The email names nobody and quotes nothing (a therapist's name alone can reveal therapy): it says
that there are new messages and links to them and to these settings.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.core.mail import EmailMessage
from django.db import transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone, translation

from rapport.accounts.models import Practice, User
from rapport.core import outbox
from rapport.messaging.access import conversations_of
from rapport.messaging.models import Conversation, Message, MessagingSettings, Participant
from rapport.messaging.preferences import (
    SHORTEST_DELAY_MINUTES,
    quiet_hours_end,
    settings_for,
    zone_of,
)
from rapport.push import services as push
from rapport.push.models import NoticeKind


def first_look(now: datetime) -> datetime:
    """When a cycle that starts with a message at ``now`` is first due: no one's delay is
    shorter, and the worker moves it on to the person's own delay when that is longer."""
    return now + timedelta(minutes=SHORTEST_DELAY_MINUTES)


def send_due_notices(now: datetime | None = None) -> int:
    """Run every cycle that is due (the worker's sweep); the number of emails sent."""
    now = now or timezone.now()
    due = Participant.objects.filter(notice_due_at__lte=now).order_by("notice_due_at")
    return sum(deliver_unread_notice(pk) for pk in due.values_list("pk", flat=True))


# --- Worker side ---------------------------------------------------------------------------------


def _oldest_unread(participant: Participant) -> datetime | None:
    """When the oldest message from the other person that is neither read nor emailed came."""
    after = max(participant.last_read_seq, participant.notified_seq)
    return (
        Message.objects.filter(
            conversation_id=participant.conversation_id, seq__gt=after, retracted_at__isnull=True
        )
        .exclude(sender_id=participant.user_id)
        .order_by("seq")
        .values_list("created_at", flat=True)
        .first()
    )


def _postpone(participant: Participant, until: datetime) -> None:
    participant.notice_due_at = until
    participant.save(update_fields=["notice_due_at"])


def _end_cycle(participant: Participant) -> None:
    participant.notice_due_at = None
    participant.save(update_fields=["notice_due_at"])


def deliver_unread_notice(participant_id: int) -> bool:
    """Email the person once if a message has waited unread for their delay. True if sent.

    Runs under the person's settings row (one email per person at a time), then the rows of
    their conversations with a running cycle, then those participants, in the order the send
    path takes them (conversation, then participant). The conversation locks make a message
    being sent right now wait: it is either in this email or starts a new cycle after it.
    The cycle is closed (``notified_seq``, ``notice_due_at``) and the email recorded in one
    transaction; it is sent after commit, with no lock held (``rapport.core.outbox``): a second
    run finds nothing to do.
    """
    user_id = (
        Participant.objects.filter(pk=participant_id).values_list("user_id", flat=True).first()
    )
    if user_id is None:
        return False
    settings_for(user_id)
    now = timezone.now()
    with transaction.atomic():
        prefs = (
            MessagingSettings.objects.select_for_update(of=("self",))
            .select_related("user")
            .get(user_id=user_id)
        )
        waiting_in = list(
            Participant.objects.filter(user_id=user_id, notice_due_at__isnull=False)
            .order_by("conversation_id")
            .values_list("conversation_id", flat=True)
        )
        conversations = {
            c.pk: c
            for c in Conversation.objects.select_for_update()
            .filter(pk__in=waiting_in)
            .order_by("pk")
        }
        waiting = list(
            Participant.objects.select_for_update()
            .filter(user_id=user_id, notice_due_at__isnull=False, conversation_id__in=conversations)
            .order_by("conversation_id")
        )
        this = next((p for p in waiting if p.pk == participant_id), None)
        # Closed by an earlier email or by reading, or postponed.
        if this is None or this.notice_due_at is None or this.notice_due_at > now:
            return False
        person: User = prefs.user
        reachable = set(
            conversations_of(person).filter(pk__in=conversations).values_list("pk", flat=True)
        )
        oldest = _oldest_unread(this)
        by_email = prefs.email_when_unread and bool(person.email)
        if (
            oldest is None
            or this.conversation_id not in reachable
            or not (by_email or push.wants(person.pk, NoticeKind.NEW_MESSAGE))
        ):
            _end_cycle(this)
            return False
        delay = timedelta(minutes=prefs.email_delay_minutes)
        if oldest + delay > now:
            _postpone(this, oldest + delay)
            return False
        quiet_end = quiet_hours_end(prefs, zone_of(person), now)
        if quiet_end is not None:
            _postpone(this, quiet_end)
            return False
        covered = [this] + [
            p
            for p in waiting
            if p is not this and p.conversation_id in reachable and _oldest_unread(p) is not None
        ]
        for participant in covered:
            participant.notified_seq = conversations[participant.conversation_id].last_seq
            participant.notice_due_at = None
            participant.save(update_fields=["notified_seq", "notice_due_at"])
        key = f"unread:{this.pk}:{this.notified_seq}"
        push.notify(person.pk, NoticeKind.NEW_MESSAGE, key)
        if not by_email:
            return False
        message = unread_email(person)
        delivery = outbox.record(message, key=key, kind="unread messages")
    return delivery is not None and outbox.send(delivery, message)


def unread_email(person: User) -> EmailMessage:
    """ "You have new messages", a link to them and to these settings; nothing else."""
    context = {
        "practice": Practice.get(),
        "person": person,
        "link": f"{settings.SITE_URL}{reverse('inbox')}",
        "settings_link": f"{settings.SITE_URL}{reverse('messaging_settings')}",
    }
    with translation.override(person.language):
        subject = render_to_string("messaging/email/unread_subject.txt", context)
        body = render_to_string("messaging/email/unread.txt", context)
    return EmailMessage(
        subject=" ".join(subject.split()),
        body=body,
        to=[person.email],
        headers={"Auto-Submitted": "auto-generated"},
    )
