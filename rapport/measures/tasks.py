"""Background jobs of measures (run by ``rapport worker``): reminders, alert emails, escalation.

Thin on purpose: whether a message is still worth sending, or an alert still needs escalating,
is decided when the task runs (``rapport.measures.notifications``, ``alerts`` and
``assignments``), not when it was queued. Tasks are queued inside the transaction that makes
them necessary.
"""

from __future__ import annotations

from django.tasks import task  # type: ignore[import-untyped,unused-ignore]


@task()  # type: ignore[untyped-decorator,unused-ignore]
def send_task_reminder(task_id: int) -> None:
    """Tell the client, once and without content, that a questionnaire waits for them."""
    from rapport.measures import notifications

    notifications.deliver_task_reminder(task_id)


@task()  # type: ignore[untyped-decorator,unused-ignore]
def send_alert_email(alert_id: int) -> None:
    """Tell the therapist, without content, that a client's answers need attention."""
    from rapport.measures import notifications

    notifications.deliver_alert_email(alert_id)


@task()  # type: ignore[untyped-decorator,unused-ignore]
def send_unsent_risk_email(task_id: int) -> None:
    """Tell the therapist, without content, that an unsent questionnaire has a risk answer."""
    from rapport.measures import notifications

    notifications.deliver_unsent_risk_email(task_id)


@task()  # type: ignore[untyped-decorator,unused-ignore]
def escalate_alert(alert_id: int) -> None:
    """At the deadline: hand the alert to the practice admins if nobody acknowledged it.

    Then sweep for any other overdue alert, in case its own task was lost with a worker.
    """
    from rapport.measures import alerts

    alerts.escalate(alert_id)
    alerts.escalate_overdue()


@task()  # type: ignore[untyped-decorator,unused-ignore]
def send_escalation_email(alert_id: int, admin_id: int) -> None:
    from rapport.measures import notifications

    notifications.deliver_escalation_email(alert_id, admin_id)


@task()  # type: ignore[untyped-decorator,unused-ignore]
def refresh_assignment(assignment_id: int) -> None:
    """Create the questionnaires a scheduled assignment calls for by now."""
    from rapport.measures import assignments

    assignments.refresh_assignment(assignment_id)
