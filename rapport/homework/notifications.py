"""The homework reminder: one content-free email on the due day. It names no exercise, no
therapist and nothing the client wrote; it says homework is waiting and links to the client's
homework page, where it is named after sign-in. Decided when the worker runs, not when it was
queued: handed-in homework gets no reminder, nor homework whose therapist no longer treats the
client, and one that falls in the client's quiet hours
waits for them to end. The ``EmailDelivery`` key makes it go out once.
"""

from __future__ import annotations

from datetime import datetime

from django.conf import settings
from django.core.mail import EmailMessage
from django.db import transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone, translation

from rapport.accounts.models import Practice
from rapport.care.access import in_active_care
from rapport.core import outbox
from rapport.homework import tasks
from rapport.homework.models import Homework, Status
from rapport.messaging.preferences import quiet_hours_end, settings_for, zone_of


def deliver_due_reminder(homework_id: int, *, now: datetime | None = None) -> bool:
    """Email the client that homework is due. True if this call sent the email."""
    now = now or timezone.now()
    with transaction.atomic():
        homework = (
            Homework.objects.select_for_update(of=("self",))
            .select_related("client", "assignment__assigned_by")
            .filter(pk=homework_id)
            .first()
        )
        if homework is None or homework.status == Status.SUBMITTED:
            return False
        client = homework.client
        if not client.email or not in_active_care(homework.assignment.assigned_by, client):
            return False  # care ended (or an account closed): no reminder from a former therapist
        quiet_end = quiet_hours_end(settings_for(client), zone_of(client), now)
        if quiet_end is not None:
            tasks.send_due_reminder.using(run_after=quiet_end).enqueue(homework.pk)
            return False
        with translation.override(client.language):
            context = {
                "practice": Practice.get(),
                "person": client,
                "link": f"{settings.SITE_URL}{reverse('my_homework')}",
            }
            subject = render_to_string("homework/email/due_subject.txt", context)
            body = render_to_string("homework/email/due.txt", context)
        message = EmailMessage(
            subject=" ".join(subject.split()),
            body=body,
            to=[client.email],
            headers={"Auto-Submitted": "auto-generated"},
        )
        delivery = outbox.record(message, key=f"homework-due:{homework.pk}", kind="homework")
    return delivery is not None and outbox.send(delivery, message)
