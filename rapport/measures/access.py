"""Permission-checked access to measures: questionnaires, responses, assignments and alerts.

Every measures view reaches these rows through the accessors here, which build on
``rapport.care.access``; writes check again under their row lock (``may_act_on``). An id that
does not exist and an id the user may not see answer the same way, with a 404, and every read of
a client's record by someone else is audited.
"""

from __future__ import annotations

from django.http import Http404, HttpRequest

from rapport.accounts.models import User
from rapport.audit.services import Action, record
from rapport.care.access import Reach, access_client, active_relationship
from rapport.measures.models import Assignment, MeasureTask, Response, SafetyAlert

# How a practice admin reaches an alert: it escalated to them (not a reach of the whole record).
ESCALATION = "escalation"


def access_task(user: User, task_id: int) -> MeasureTask:
    """The client's own task, or 404 (a task is filled in by its client only)."""
    task = (
        MeasureTask.objects.select_related("instrument", "therapist", "client")
        .filter(pk=task_id, client=user)
        .first()
    )
    if task is None or not user.is_active:
        raise Http404("No such questionnaire.")
    return task


def access_response(
    user: User,
    response_id: int,
    *,
    request: HttpRequest | None = None,
    purpose: str = "measure_response",
) -> tuple[Response, str]:
    """A response and how ``user`` reaches its client (``Reach``): the client themself, their
    therapist, or an admin under emergency access; the read is audited. Otherwise 404."""
    response = (
        Response.objects.filter(pk=response_id).select_related("instrument", "client").first()
    )
    if response is None:
        raise Http404("No such response.")
    _client, how = access_client(user, response.client_id, request=request, purpose=purpose)
    return response, how


def access_client_in_care(
    user: User, client_id: int, *, request: HttpRequest | None = None, purpose: str = "measures"
) -> User:
    """The client if ``user`` is their therapist now (audited); otherwise 404.

    Assigning measures is care: emergency access, which is for reading, does not reach it.
    """
    client, how = access_client(user, client_id, request=request, purpose=purpose)
    if how != Reach.CARE:
        raise Http404("Only the client's therapist assigns measures.")
    return client


def access_assignment(
    user: User, client_id: int, assignment_id: int, *, request: HttpRequest | None = None
) -> Assignment:
    """An assignment of a client in ``user``'s care (the client read audited); otherwise 404."""
    client = access_client_in_care(user, client_id, request=request)
    assignment = Assignment.objects.filter(pk=assignment_id, client=client).first()
    if assignment is None:
        raise Http404("No such assignment.")
    return assignment


def may_act_on(user: User, alert: SafetyAlert) -> bool:
    """Its therapist, a therapist treating the client, or a practice admin once it escalated."""
    if not user.is_active:
        return False
    if user.pk == alert.therapist_id:
        return True
    if user.is_therapist and active_relationship(user, alert.client) is not None:
        return True
    return user.is_practice_admin and alert.escalated_at is not None


def access_alert(
    user: User, alert_id: int, *, request: HttpRequest | None = None
) -> tuple[SafetyAlert, str]:
    """An alert ``user`` may act on, and how they reach it: ``Reach.CARE`` for a therapist
    treating the client, ``ESCALATION`` for a practice admin once it escalated. Opening it is
    audited as a read of the client's record. Otherwise 404."""
    alert = (
        SafetyAlert.objects.select_related("client", "therapist", "response__instrument")
        .filter(pk=alert_id)
        .first()
    )
    if alert is None or not may_act_on(user, alert):
        raise Http404("No such alert.")
    if user.is_therapist:
        # The alert's own therapist too: only while they still treat the client.
        _client, how = access_client(user, alert.client_id, request=request, purpose="alert")
        return alert, how
    record(
        Action.CLIENT_RECORD_VIEWED,
        actor=user,
        request=request,
        obj=alert.client,
        client=alert.client,
        purpose="alert",
        via=ESCALATION,
    )
    return alert, ESCALATION
