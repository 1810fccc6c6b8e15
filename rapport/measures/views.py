"""Measures screens: the client's questionnaires and progress, the therapist's assignments,
clinical progress view and safety alerts, and the practice admin's instruments.

Views stay thin: writes go through ``rapport.measures.services``, reads of a client's data through
``rapport.care.access.access_client`` (404 for outsiders, audited).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from rapport.accounts.decorators import role_required
from rapport.accounts.models import Practice, Role, User
from rapport.care.access import Reach, access_client
from rapport.measures import assignments
from rapport.measures.access import (
    ESCALATION,
    access_alert,
    access_assignment,
    access_client_in_care,
    access_response,
    access_task,
)
from rapport.measures.alerts import (
    acknowledge,
    acknowledged_alerts,
    client_open_alerts,
    open_alerts,
)
from rapport.measures.alerts import escalated_alerts as escalated_alert_rows
from rapport.measures.answers import save_draft, submit
from rapport.measures.assignments import (
    assign,
    client_assignments,
    client_open_tasks,
    due_tasks,
)
from rapport.measures.definitions import Definition, Item
from rapport.measures.errors import MeasureError
from rapport.measures.forms import (
    AcknowledgeForm,
    AssignForm,
    InstrumentForm,
    InstrumentImportForm,
    QuestionnaireForm,
    field_name,
)
from rapport.measures.instruments import (
    assignable_instruments,
    definition_of,
    import_instrument,
    update_instrument,
)
from rapport.measures.models import (
    Instrument,
    TaskStatus,
)
from rapport.measures.progress import progress_of
from rapport.measures.results import recent_responses, risk_summary
from rapport.measures.scoring import Score, ScoringError


def _user(request: HttpRequest) -> User:
    return request.user  # type: ignore[return-value]


def _wants_json(request: HttpRequest) -> bool:
    return "application/json" in request.headers.get("Accept", "")


# --- Client: questionnaires --------------------------------------------------------------------


@role_required(Role.CLIENT)
@require_http_methods(["GET"])
def my_measures(request: HttpRequest) -> HttpResponse:
    user = _user(request)
    tasks = due_tasks(user)
    done = recent_responses(user)
    return render(request, "measures/my_measures.html", {"tasks": tasks, "done": done})


@role_required(Role.CLIENT)
@require_http_methods(["GET", "POST"])
def measure_task(request: HttpRequest, task_id: int) -> HttpResponse:
    user = _user(request)
    task = access_task(user, task_id)
    if task.status == TaskStatus.DONE:
        submitted = task.responses.order_by("-submitted_at").first()
        if submitted is not None:
            return redirect("measure_result", submitted.pk)
    if task.status != TaskStatus.OPEN:
        return render(request, "measures/task_closed.html", {"task": task}, status=410)
    definition = definition_of(task.instrument)
    status = 200
    if request.method == "POST":
        form = QuestionnaireForm(definition, request.POST)
        valid = form.is_valid()
        answers = form.answers()
        try:
            if request.POST.get("action") == "save" or not valid:
                # A bad value is dropped; every good answer is kept for next time.
                save_draft(task, user, answers)
                if valid:
                    if _wants_json(request):
                        return JsonResponse({"saved": len(answers)})
                    messages.success(request, _("Saved. You can come back and finish it later."))
                    return redirect("my_measures")
                status = 400
            else:
                try:
                    response = submit(task, user, answers, request=request)
                except ScoringError:
                    save_draft(task, user, answers)
                    form.flag_unanswered(_("Please choose an answer."))
                    form.add_error(None, _("Some questions still need an answer."))
                    status = 400
                else:
                    return redirect("measure_result", response.pk)
        except MeasureError:
            # Sent already (another tab, a double click): show what was sent.
            if _wants_json(request):
                return JsonResponse({"error": "closed"}, status=409)
            return redirect("measure_task", task.pk)
    else:
        form = QuestionnaireForm(
            definition, initial=QuestionnaireForm.initial_from(task.draft_answers())
        )
    questions = [(item, form[field_name(item)]) for item in definition.items]
    answered = sum(1 for _item, bound in questions if bound.value() not in (None, ""))
    return render(
        request,
        "measures/task.html",
        {
            "task": task,
            "definition": definition,
            "form": form,
            "questions": questions,
            "answered": answered,
        },
        status=status,
    )


@login_required
@require_http_methods(["GET"])
def measure_result(request: HttpRequest, response_id: int) -> HttpResponse:
    response, how = access_response(_user(request), response_id, request=request)
    definition = definition_of(response.instrument)
    result = Score.from_json(response.result_data())
    context: dict[str, Any] = {
        "response": response,
        "definition": definition,
        "result": result,
        "via": how,
        "practice": Practice.get(),
        "correction": response.corrections.order_by("-submitted_at").first(),
    }
    if how == Reach.SELF:
        return render(request, "measures/result_client.html", context)
    answers = response.answer_values()
    context["answers"] = [
        _answer_row(item, answers.get(item.key), result) for item in definition.items
    ]
    context["alerts"] = list(response.alerts.all())
    context["subscales"] = _subscales(definition, result)
    context["risk"] = risk_summary(response)
    return render(request, "measures/result_clinical.html", context)


def _subscales(definition: Definition, result: Score) -> list[tuple[str, int, bool | None]]:
    return [
        (s.name, result.subscales[s.key], result.subscale_positive.get(s.key))
        for s in definition.subscales
        if s.key in result.subscales
    ]


@dataclass(frozen=True)
class AnswerRow:
    item: Item
    value: int | None
    label: str
    risk: bool


def _answer_row(item: Item, value: Any, result: Score) -> AnswerRow:
    option = item.option(value) if isinstance(value, int) else None
    return AnswerRow(
        item=item,
        value=value if isinstance(value, int) else None,
        label=option.label if option else _("not answered"),
        risk=item.key in result.risk_items,
    )


@role_required(Role.CLIENT)
@require_http_methods(["GET"])
def my_progress(request: HttpRequest) -> HttpResponse:
    user = _user(request)
    progress, _feedback = progress_of(user, sessions_of=None, chart_prefix="mine", clinical=False)
    return render(
        request,
        "measures/my_progress.html",
        {"progress": progress},
    )


@role_required(Role.THERAPIST, Role.ADMIN)
@require_http_methods(["GET"])
def client_progress(request: HttpRequest, client_id: int) -> HttpResponse:
    user = _user(request)
    client, how = access_client(user, client_id, request=request, purpose="measures_progress")
    progress, feedback = progress_of(
        client, sessions_of=user if how == Reach.CARE else None, chart_prefix="progress"
    )
    return render(
        request,
        "measures/client_progress.html",
        {
            "client": client,
            "via": how,
            "progress": progress,
            "feedback_trends": feedback,
            "open_alerts": client_open_alerts(client),
        },
    )


# --- Therapist: assigning measures -------------------------------------------------------------


@role_required(Role.THERAPIST)
@require_http_methods(["GET", "POST"])
def client_measures(request: HttpRequest, client_id: int) -> HttpResponse:
    user = _user(request)
    client = access_client_in_care(user, client_id, request=request)
    form = AssignForm(request.POST or None, instruments=assignable_instruments())
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            assign(
                user,
                client,
                data["instrument"],
                data["schedule"],
                interval_days=data["interval_days"],
                request=request,
            )
        except MeasureError as exc:
            form.add_error(None, exc)
        else:
            messages.success(request, _("Measure assigned."))
            return redirect("client_measures", client.pk)
    return render(
        request,
        "measures/client_measures.html",
        {
            "client": client,
            "form": form,
            "assignments": client_assignments(client),
            "tasks": client_open_tasks(client),
        },
        status=400 if form.is_bound else 200,
    )


@role_required(Role.THERAPIST)
@require_POST
def end_assignment(request: HttpRequest, client_id: int, assignment_id: int) -> HttpResponse:
    user = _user(request)
    assignment = access_assignment(user, client_id, assignment_id, request=request)
    assignments.end_assignment(assignment, user, request=request)
    messages.success(request, _("Assignment ended: no new questionnaires will be sent."))
    return redirect("client_measures", assignment.client_id)


# --- Safety alerts ------------------------------------------------------------------------------

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
    user = _user(request)
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
    user = _user(request)
    alert, how = access_alert(user, alert_id, request=request)
    form = AcknowledgeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            acknowledge(alert, user, form.cleaned_data["action_taken"], request=request)
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
    response = alert.response
    definition = definition_of(response.instrument)
    result = Score.from_json(response.result_data())
    answers = response.answer_values()
    rows = [_answer_row(item, answers.get(item.key), result) for item in definition.items]
    if how == ESCALATION:
        rows = [row for row in rows if row.item.risk_at_or_above is not None]
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
            "definition": definition,
            "result": result,
            "risk": risk_summary(response),
            "rows": rows,
            "subscales": _subscales(definition, result),
        },
        status=400 if form.is_bound else 200,
    )


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


# --- Practice admin: instruments ---------------------------------------------------------------


@role_required(Role.ADMIN)
@require_http_methods(["GET", "POST"])
def instruments(request: HttpRequest) -> HttpResponse:
    user = _user(request)
    form = InstrumentImportForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        try:
            instrument = import_instrument(
                user,
                form.cleaned_data["definition_file"],
                form.cleaned_data["licence_record"],
                request=request,
            )
        except MeasureError as exc:
            field = "licence_record" if getattr(exc, "code", None) == "licence" else None
            form.add_error(field or "definition_file", exc)
        else:
            messages.success(
                request,
                _("%(name)s imported. Therapists can now assign it.")
                % {"name": instrument.short_name},
            )
            return redirect("instrument_detail", instrument.pk)
    rows = Instrument.objects.defer("definition").order_by("-builtin", "short_name", "-imported_at")
    return render(
        request,
        "measures/instruments.html",
        {"form": form, "instruments": rows},
        status=400 if form.is_bound else 200,
    )


@role_required(Role.ADMIN)
@require_http_methods(["GET", "POST"])
def instrument_detail(request: HttpRequest, instrument_id: int) -> HttpResponse:
    instrument = Instrument.objects.filter(pk=instrument_id).first()
    if instrument is None:
        raise Http404("No such instrument.")
    form = InstrumentForm(
        request.POST or None,
        initial={"licence_record": instrument.licence_record, "is_active": instrument.is_active},
    )
    if request.method == "POST" and form.is_valid():
        try:
            update_instrument(
                _user(request),
                instrument,
                licence_record=form.cleaned_data["licence_record"],
                is_active=form.cleaned_data["is_active"],
                request=request,
            )
        except MeasureError as exc:
            form.add_error("licence_record", exc)
        else:
            messages.success(request, _("Saved."))
            return redirect("instrument_detail", instrument.pk)
    definition = definition_of(instrument)
    options = {
        item.option_set: [f"{o.value} = {o.label}" for o in item.options]
        for item in definition.items
    }
    return render(
        request,
        "measures/instrument_detail.html",
        {
            "instrument": instrument,
            "definition": definition,
            "option_sets": options,
            "form": form,
        },
        status=400 if form.is_bound else 200,
    )
