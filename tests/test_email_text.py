"""Plain-text emails read as plain text: names with &, ' and < arrive as typed, never as HTML
entities, in every kind of email Rapport sends (subject and body).

Every email goes through its real builder and the real SMTP backend to the test's SMTP server.
"""

from __future__ import annotations

import re
from datetime import timedelta
from email.message import EmailMessage as Mail
from pathlib import Path

import pytest
from django.test import Client
from django.utils import timezone

import rapport
from rapport.accounts.models import Practice, User
from rapport.accounts.services import invite
from rapport.core import outbox
from rapport.measures.models import MeasureTask, SafetyAlert
from rapport.measures.notifications import (
    deliver_alert_email,
    deliver_escalation_email,
    deliver_task_reminder,
)
from rapport.messaging.notifications import unread_email
from rapport.scheduling import notifications
from rapport.scheduling.models import SessionType
from tests.mail import Inbox, text_of
from tests.measures_data import builtin, builtin_instrument, response
from tests.scheduling_data import direct_appointment
from tests.worker import run_task_worker

AWKWARD = "O'Brien & Sons <x>"
ENTITIES = ("&amp;", "&#x27;", "&#39;", "&lt;", "&gt;", "&quot;")


def plain(message: Mail) -> str:
    """Subject and every text part, as a mail app shows them."""
    return f"{message['Subject']}\n{text_of(message)}"


def assert_unescaped(message: Mail, *, names: int = 1) -> None:
    text = plain(message)
    for entity in ENTITIES:
        assert entity not in text, f"{entity} in {message['Subject']!r}:\n{text}"
    assert text.count(AWKWARD) >= names, text


@pytest.mark.django_db(transaction=True)
def test_plain_text_emails_are_never_html_escaped(
    smtp: Inbox, admin: User, therapist_x: User, client_a: User
) -> None:
    Practice.objects.update_or_create(id=1, defaults={"name": AWKWARD})
    User.objects.filter(pk__in=[admin.pk, therapist_x.pk, client_a.pk]).update(full_name=AWKWARD)
    for person in (admin, therapist_x, client_a):
        person.refresh_from_db()

    # Invitation (names the invitee, the inviter and the practice).
    invite(admin, email="new.person@example.test", full_name=AWKWARD, role="therapist")
    run_task_worker()
    [invitation] = smtp.take()
    assert_unescaped(invitation, names=3)

    # Appointment booked / moved / cancelled, and the reminder.
    session_type = SessionType.objects.create(therapist=therapist_x, name="Session", minutes=50)
    appointment = direct_appointment(session_type, client_a, timezone.now() + timedelta(days=2))
    for change in notifications.CHANGES:
        for person in (client_a, therapist_x):
            notifications.change_email(appointment, change, person).send()
    notifications.reminder_email(appointment, 60, client_a).send()
    appointment_mails = smtp.take()
    assert len(appointment_mails) == 7
    for message in appointment_mails:
        assert_unescaped(message)

    # Measures: a questionnaire to fill in, an alert, an escalated alert.
    instrument = builtin_instrument("phq9")
    task = MeasureTask.objects.create(client=client_a, therapist=therapist_x, instrument=instrument)
    answers = {item.key: 1 for item in builtin("phq9").items}
    answered = response(client_a, instrument, answers, at=timezone.now())
    alert = SafetyAlert.objects.create(
        response=answered, client=client_a, therapist=therapist_x, escalated_at=timezone.now()
    )
    assert deliver_task_reminder(task.pk)
    assert deliver_alert_email(alert.pk)
    assert deliver_escalation_email(alert.pk, admin.pk)
    measure_mails = smtp.take()
    assert len(measure_mails) == 3
    for message in measure_mails:
        assert_unescaped(message)

    # Messages waiting.
    unread_email(client_a).send()
    [unread] = smtp.take()
    assert_unescaped(unread)

    # allauth's emails (here: a password reset) are plain text as well.
    asked = Client().post("/accounts/password/reset/", {"email": client_a.email})
    assert asked.status_code == 302
    outbox.send_due()  # the worker's sweep: allauth's emails go through the outbox
    [reset] = smtp.take()
    assert_unescaped(reset, names=0)


def test_every_email_template_turns_autoescape_off() -> None:
    """A new email template cannot forget it: each ``*/email/*.txt`` wraps its whole text."""
    root = Path(rapport.__file__).parent
    templates = sorted(root.glob("*/templates/*/email/*.txt"))
    assert len(templates) >= 14
    for path in templates:
        text = path.read_text().rstrip("\n")
        parent = re.match(r'{% extends "(\w+/email/\w+\.txt)" %}', text)
        if parent:  # the whole text is the parent's, which must turn autoescape off itself
            assert any(str(t).endswith(parent.group(1)) for t in templates), path
            assert "autoescape" not in text, path
            continue
        assert text.startswith("{% load i18n %}{% autoescape off %}"), path
        assert text.endswith("{% endautoescape %}"), path
        assert text.count("{% endautoescape %}") == 1, path
