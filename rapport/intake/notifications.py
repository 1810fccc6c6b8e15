"""The email telling a client an intake form waits: no form name, no question, no answer."""

from __future__ import annotations

from django.conf import settings
from django.core.mail import EmailMessage
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import translation

from rapport.accounts.models import Practice
from rapport.core import outbox
from rapport.intake.models import Intake


def deliver_intake_notice(intake_id: int) -> bool:
    """Send the notice, once, unless the intake is already submitted or the client cannot get
    it. True if sent."""
    intake = Intake.objects.select_related("client").filter(pk=intake_id).first()
    if intake is None or intake.submitted_at is not None:
        return False
    client = intake.client
    if not client.is_active or not client.email:
        return False
    link = f"{settings.SITE_URL}{reverse('intake_fill', kwargs={'intake_id': intake.pk})}"
    with translation.override(client.language):
        context = {"practice": Practice.get(), "person": client, "link": link}
        subject = render_to_string("intake/email/sent_subject.txt", context)
        body = render_to_string("intake/email/sent.txt", context)
    message = EmailMessage(
        subject=" ".join(subject.split()),
        body=body,
        to=[client.email],
        headers={"Auto-Submitted": "auto-generated"},
    )
    delivery = outbox.record(message, key=f"intake:{intake.pk}", kind="intake form")
    return delivery is not None and outbox.send(delivery, message)
