"""Emails about measures: a questionnaire to fill in, an alert to look at, a risk answer left
unsent, an escalated alert.

None of them carries clinical content: no instrument, no answer, no score, no client name. They
say that something waits in Rapport and link to it; the details are shown only after sign-in.
Each ``deliver_*`` runs in the task worker and decides then whether the email is still needed.
"""

from __future__ import annotations

from django.conf import settings
from django.core.mail import EmailMessage
from django.db import transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone, translation

from rapport.accounts.models import Practice, Role, User
from rapport.core import outbox
from rapport.measures.models import AlertKind, MeasureTask, SafetyAlert, TaskStatus
from rapport.push import services as push
from rapport.push.models import NoticeKind


def _link(path: str) -> str:
    return f"{settings.SITE_URL}{path}"


def _email(person: User, template: str, context: dict[str, object]) -> EmailMessage:
    with translation.override(person.language):
        context = {"practice": Practice.get(), "person": person, **context}
        subject = render_to_string(f"measures/email/{template}_subject.txt", context)
        body = render_to_string(f"measures/email/{template}.txt", context)
    return EmailMessage(
        subject=" ".join(subject.split()),
        body=body,
        to=[person.email],
        headers={"Auto-Submitted": "auto-generated"},
    )


def deliver_task_reminder(task_id: int) -> bool:
    """Remind the client of a new questionnaire, once. True if sent.

    ``reminded_at`` and the outbox row are written in one transaction, the email sent after it
    commits (``rapport.core.outbox``): any later run finds ``reminded_at`` set and sends nothing.
    """
    with transaction.atomic():
        task = (
            MeasureTask.objects.select_for_update(of=("self",))
            .select_related("client")
            .filter(pk=task_id)
            .first()
        )
        if task is None or task.status != TaskStatus.OPEN or task.reminded_at is not None:
            return False
        client = task.client
        if not client.is_active or not client.email:
            return False
        task.reminded_at = timezone.now()
        task.save(update_fields=["reminded_at"])
        push.notify(client.pk, NoticeKind.QUESTIONNAIRE_DUE, f"measure-task:{task.pk}")
        link = _link(reverse("measure_task", kwargs={"task_id": task.pk}))
        message = _email(client, "task_reminder", {"link": link})
        delivery = outbox.record(message, key=f"measure-task:{task.pk}", kind="questionnaire")
    return delivery is not None and outbox.send(delivery, message)


def deliver_alert_email(alert_id: int) -> bool:
    """Tell the therapist an alert is open. True if sent.

    Queued once, with the alert. Not sent when the alert was acknowledged before the worker got
    to it.
    """
    alert = SafetyAlert.objects.select_related("therapist").filter(pk=alert_id).first()
    if alert is None or alert.acknowledged_at is not None:
        return False
    therapist = alert.therapist
    if therapist.is_active:
        with transaction.atomic():
            push.notify(therapist.pk, NoticeKind.SAFETY_ALERT, f"alert:{alert.pk}")
    if not therapist.is_active or not therapist.email:
        return False  # the escalation to the practice admins still runs
    practice = Practice.get()
    context = {
        "link": _link(reverse("alert_detail", kwargs={"alert_id": alert.pk})),
        "escalates": alert.kind == AlertKind.RISK_ITEM,
        "escalation_minutes": practice.alert_escalation_minutes,
    }
    return _send(_email(therapist, "alert", context), f"alert:{alert.pk}", "safety alert")


def deliver_unsent_risk_email(task_id: int) -> bool:
    """Tell the therapist a questionnaire their client saved but has not sent holds a risk
    answer. True if sent. Not sent once the client has sent it (the alert takes over)."""
    task = MeasureTask.objects.select_related("therapist").filter(pk=task_id).first()
    if task is None or task.status != TaskStatus.OPEN:
        return False
    therapist = task.therapist
    if not therapist.is_active or not therapist.email:
        return False
    link = _link(reverse("client_measures", kwargs={"client_id": task.client_id}))
    message = _email(therapist, "unsent_risk", {"link": link})
    return _send(message, f"unsent-risk:{task.pk}", "unsent risk answer")


def deliver_escalation_email(alert_id: int, person_id: int) -> bool:
    """Tell one practice admin an alert went unacknowledged (or, when the practice had no active
    admin, one of its therapists, with that warning and whose client it is). True if sent."""
    alert = SafetyAlert.objects.select_related("therapist").filter(pk=alert_id).first()
    if alert is None or alert.escalated_at is None or alert.acknowledged_at is not None:
        return False
    role = Role.THERAPIST if alert.escalated_to_therapists else Role.ADMIN
    person = User.objects.filter(pk=person_id, role=role, is_active=True).first()
    if person is not None:
        with transaction.atomic():
            push.notify(person.pk, NoticeKind.SAFETY_ALERT, f"escalation:{alert.pk}:{person.pk}")
    if person is None or not person.email:
        return False
    context = {
        "link": _link(reverse("alerts" if alert.escalated_to_therapists else "escalated_alerts")),
        "escalation_minutes": Practice.get().alert_escalation_minutes,
        "no_admin": alert.escalated_to_therapists,
        "therapist": alert.therapist,
    }
    message = _email(person, "escalation", context)
    return _send(message, f"escalation:{alert.pk}:{person.pk}", "alert escalation")


def _send(message: EmailMessage, key: str, kind: str) -> bool:
    """Record and send an email decided by reading alone (no row of the decision to write)."""
    delivery = outbox.record(message, key=key, kind=kind)
    return delivery is not None and outbox.send(delivery, message)
