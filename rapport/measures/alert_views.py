"""Safety alerts: the therapist's list and an alert with the form that closes it, and the practice
admin's list of alerts that escalated.
"""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from rapport.accounts.decorators import role_required
from rapport.accounts.models import Practice, Role, User
from rapport.care.access import Reach
from rapport.measures.access import ESCALATION, access_alert
from rapport.measures.alerts import acknowledge, acknowledged_alerts, open_alerts
from rapport.measures.alerts import escalated_alerts as escalated_alert_rows
from rapport.measures.errors import MeasureError
from rapport.measures.forms import AcknowledgeForm
from rapport.measures.instruments import definition_of
from rapport.measures.models import Response
from rapport.measures.results import answer_row, risk_summary, subscale_rows
from rapport.measures.scoring import Score
from rapport.safety.access import latest_version_of
from rapport.safety.services import reviews_for_alert

# An alert list names the client and the instrument: leave answers and definitions undecrypted.
ALERT_LIST_DEFER = (
    "action_taken",
    "response__answers",
    "response__result",
    "response__instrument__definition",
)


@role_required(Role.THERAPIST)
@require_http_methods(["GET"])
def alerts(request: HttpRequest) -> HttpResponse:
    user: User = request.user  # type: ignore[assignment]
    return render(
        request,
        "measures/alerts.html",
        {
            "open_alerts": list(open_alerts(user).defer(*ALERT_LIST_DEFER)),
            "recent": acknowledged_alerts(user),
        },
    )


@role_required(Role.THERAPIST, Role.ADMIN)
@require_http_methods(["GET", "POST"])
def alert_detail(request: HttpRequest, alert_id: int) -> HttpResponse:
    """The therapist's alert (or, once escalated, the practice admin's) with the form that
    closes it. Every opening is audited as a read of the client's record."""
    user: User = request.user  # type: ignore[assignment]
    alert, how = access_alert(user, alert_id, request=request)
    # The client's safety plan: linked from the alert, and reviewable with the acknowledgement
    # by their therapist (an admin under escalation sees the answers only).
    safety_plan = latest_version_of(alert.client) if how == Reach.CARE else None
    form = AcknowledgeForm(
        request.POST or None,
        safety_plan_version=safety_plan.number if safety_plan is not None else None,
    )
    if request.method == "POST" and form.is_valid():
        reviewed = safety_plan if form.cleaned_data.get("safety_plan_reviewed") else None
        try:
            acknowledge(
                alert,
                user,
                form.cleaned_data["action_taken"],
                safety_plan_reviewed=reviewed,
                request=request,
            )
        except MeasureError as exc:
            if getattr(exc, "code", None) == "done":
                messages.info(request, _("This alert was already acknowledged."))
                return redirect("alert_detail", alert.pk)
            form.add_error("action_taken", exc)
        except PermissionDenied as exc:
            raise Http404("No such alert.") from exc
        else:
            messages.success(request, _("Acknowledged. The action you took is recorded."))
            return redirect("alert_detail", alert.pk)
    answers_context: dict[str, object] = {}
    if alert.response is not None:
        answers_context = _answers_of(alert.response, how)
    acknowledged_by = (
        User.objects.filter(pk=alert.acknowledged_by_id).only("full_name").first()
        if alert.acknowledged_by_id
        else None
    )
    return render(
        request,
        "measures/alert_detail.html",
        {
            "alert": alert,
            "acknowledged_by": acknowledged_by,
            "via": how,
            "form": form,
            "safety_plan": safety_plan,
            "safety_plan_reviews": reviews_for_alert(alert.pk) if safety_plan else [],
            **answers_context,
        },
        status=400 if form.is_bound else 200,
    )


def _answers_of(response: Response, how: str) -> dict[str, object]:
    """The response's answers as the alert page shows them (risk items only on escalation)."""
    definition = definition_of(response.instrument).in_language(response.language)
    result = Score.from_json(response.result_data())
    answers = response.answer_values()
    rows = [answer_row(item, answers.get(item.key), result) for item in definition.items]
    if how == ESCALATION:
        rows = [row for row in rows if row.item.risk_at_or_above is not None]
    return {
        "definition": definition,
        "result": result,
        "risk": risk_summary(response),
        "rows": rows,
        "subscales": subscale_rows(definition, result),
    }


@role_required(Role.ADMIN)
@require_http_methods(["GET"])
def escalated_alerts(request: HttpRequest) -> HttpResponse:
    """Alerts that went unacknowledged past the practice's time: who and when, no answers."""
    escalated = escalated_alert_rows().defer("action_taken")[:200]
    return render(
        request,
        "measures/escalated_alerts.html",
        {"escalated": escalated, "practice": Practice.get()},
    )
