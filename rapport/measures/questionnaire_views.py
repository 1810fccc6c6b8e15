"""The client's questionnaires: what to fill in, the form (save and resume, one question at a
time on a phone), and a result, which the client's therapist sees in clinical terms.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from rapport.accounts.decorators import role_required
from rapport.accounts.models import Role, User
from rapport.care.access import Reach
from rapport.crisis.resources import resources_for
from rapport.measures.access import access_response, access_task
from rapport.measures.answers import risk_answered, save_draft, submit
from rapport.measures.assignments import due_tasks
from rapport.measures.errors import MeasureError
from rapport.measures.forms import QuestionnaireForm, field_name
from rapport.measures.instruments import definition_of
from rapport.measures.models import TaskStatus
from rapport.measures.results import (
    answer_row,
    band_for_client,
    recent_responses,
    risk_summary,
    subscale_rows,
)
from rapport.measures.scoring import Score, ScoringError


def _wants_json(request: HttpRequest) -> bool:
    return "application/json" in request.headers.get("Accept", "")


@role_required(Role.CLIENT)
@require_http_methods(["GET"])
def my_measures(request: HttpRequest) -> HttpResponse:
    user: User = request.user  # type: ignore[assignment]
    tasks = due_tasks(user)
    done = recent_responses(user)
    return render(request, "measures/my_measures.html", {"tasks": tasks, "done": done})


@role_required(Role.CLIENT)
@require_http_methods(["GET", "POST"])
def measure_task(request: HttpRequest, task_id: int) -> HttpResponse:
    user: User = request.user  # type: ignore[assignment]
    task = access_task(user, task_id)
    if task.status == TaskStatus.DONE:
        submitted = task.responses.order_by("-submitted_at").first()
        if submitted is not None:
            return redirect("measure_result", submitted.pk)
    if task.status != TaskStatus.OPEN:
        return render(request, "measures/task_closed.html", {"task": task}, status=410)
    # In the reader's language only when a validated translation exists; else in English.
    language = definition_of(task.instrument).language_for(get_language() or "en")
    definition = definition_of(task.instrument).in_language(language)
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
                    response = submit(task, user, answers, request=request, language=language)
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
    # A risk answer already given: the crisis resources and the ask to send show without a script.
    given = form.answers() if form.is_bound else task.draft_answers()
    return render(
        request,
        "measures/task.html",
        {
            "task": task,
            "definition": definition,
            "form": form,
            "questions": questions,
            "answered": answered,
            "risk_now": risk_answered(definition, given),
            "crisis_help": resources_for(user),
            # The page is in another language than the questionnaire, which has no validated
            # translation into it: say so, and mark the English text as English.
            "english_only": (get_language() or "en").split("-")[0] != definition.language,
        },
        status=status,
    )


@login_required
@require_http_methods(["GET"])
def measure_result(request: HttpRequest, response_id: int) -> HttpResponse:
    user: User = request.user  # type: ignore[assignment]
    response, how = access_response(user, response_id, request=request)
    # The wording the client answered, whatever language the reader uses.
    definition = definition_of(response.instrument).in_language(response.language)
    result = Score.from_json(response.result_data())
    context: dict[str, Any] = {
        "response": response,
        "definition": definition,
        "result": result,
        "via": how,
        "correction": response.corrections.order_by("-submitted_at").first(),
        "translation": definition.translations.get(response.language),
    }
    if how == Reach.SELF:
        context["crisis_help"] = resources_for(user)
        context["client_band"] = band_for_client(
            definition, result.band, risk_positive=response.risk_positive
        )
        return render(request, "measures/result_client.html", context)
    answers = response.answer_values()
    context["answers"] = [
        answer_row(item, answers.get(item.key), result) for item in definition.items
    ]
    context["alerts"] = list(response.alerts.all())
    context["subscales"] = subscale_rows(definition, result)
    context["risk"] = risk_summary(response)
    return render(request, "measures/result_clinical.html", context)
