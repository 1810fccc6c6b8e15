"""Emails about unread messages: one, without content, when a message stays unread for a while.

``message_arrived`` runs in the send transaction for the recipient and costs one conditional
UPDATE: it starts a delay cycle only when none is running (``Participant.notice_due_at`` is
empty), and only then queues one deferred task. Everything else is decided when the task runs
(``deliver_unread_notice``): has the person read it meanwhile, do they want emails, is it their
quiet time. One email covers every conversation of that person with unread messages; messages
after it start a new cycle.

The email names nobody and quotes nothing (a therapist's name alone can reveal therapy): it says
that there are new messages and links to them and to these settings.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.core.mail import EmailMessage
from django.db import transaction
from django.db.models import Q
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone, translation

from rapport.accounts.models import Practice, User
from rapport.messaging.access import conversations_of
from rapport.messaging.models import Conversation, Message, MessagingSettings, Participant
from rapport.messaging.preferences import (
    DEFAULT_DELAY_MINUTES,
    quiet_hours_end,
    settings_for,
    zone_of,
)

# A cycle whose time passed this long ago has lost its task (a crashed worker, a failed send):
# the next message starts a new one instead of waiting forever.
STALE_AFTER = timedelta(hours=1)


def message_arrived(participant_id: int, now: datetime) -> None:
    """A message for the person of ``participant_id`` was stored at ``now``: start the delay.

    Call it in the send transaction. While a cycle runs this is one UPDATE that changes nothing.
    The task is queued in the same transaction (the task queue is a database table), so it
    exists exactly when the message does.
    """
    default_due = now + timedelta(minutes=DEFAULT_DELAY_MINUTES)
    started = (
        Participant.objects.filter(pk=participant_id)
        .filter(Q(notice_due_at__isnull=True) | Q(notice_due_at__lt=now - STALE_AFTER))
        .update(notice_due_at=default_due)
    )
    if started:
        cycle_started(participant_id, now)


def cycle_started(participant_id: int, now: datetime) -> None:
    """A delay cycle began at ``now`` with the default due time: use the person's own delay and
    queue the task (the send path's single UPDATE set ``notice_due_at`` to the default)."""
    from rapport.messaging.tasks import send_unread_notice

    default_due = now + timedelta(minutes=DEFAULT_DELAY_MINUTES)
    delay = (
        MessagingSettings.objects.filter(user__conversations__pk=participant_id)
        .values_list("email_delay_minutes", flat=True)
        .first()
    )
    due = now + timedelta(minutes=delay or DEFAULT_DELAY_MINUTES)
    if due != default_due:
        Participant.objects.filter(pk=participant_id).update(notice_due_at=due)
    send_unread_notice.using(run_after=due).enqueue(participant_id)


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
    from rapport.messaging.tasks import send_unread_notice

    participant.notice_due_at = until
    participant.save(update_fields=["notice_due_at"])
    send_unread_notice.using(run_after=until).enqueue(participant.pk)


def _end_cycle(participant: Participant) -> None:
    participant.notice_due_at = None
    participant.save(update_fields=["notice_due_at"])


def deliver_unread_notice(participant_id: int) -> bool:
    """Email the person once if a message has waited unread for their delay. True if sent.

    Runs under the person's settings row (one email per person at a time), then the rows of
    their conversations with a running cycle, then those participants, in the order the send
    path takes them (conversation, then participant). The conversation locks make a message
    being sent right now wait: it is either in this email or starts a new cycle after it.
    The cycle is closed (``notified_seq``, ``notice_due_at``) before the email is sent, in the
    same transaction: a failed send rolls both back; a second run finds nothing to do.
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
        # Closed by an earlier email, or postponed (a task for the later time is queued).
        if this is None or this.notice_due_at is None or this.notice_due_at > now:
            return False
        person: User = prefs.user
        reachable = set(
            conversations_of(person).filter(pk__in=conversations).values_list("pk", flat=True)
        )
        oldest = _oldest_unread(this)
        if (
            oldest is None
            or this.conversation_id not in reachable
            or not prefs.email_when_unread
            or not person.email
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
        unread_email(person).send()
    return True


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
