"""Filling in an intake (the client), reading a submitted one, and correcting it.

One page with sections that works without script; Save keeps a draft, Send submits once. Bad
input comes back with status 400, an error summary and everything typed still there.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from rapport.accounts.decorators import role_required
from rapport.accounts.models import Role, User
from rapport.care.access import Reach, therapists_of
from rapport.crisis.resources import resources_for
from rapport.intake import answers as a
from rapport.intake.access import access_intake_to_fill, access_submission
from rapport.intake.catalogue import definition_of
from rapport.intake.definitions import FormDefinition
from rapport.intake.models import IntakeSubmission
from rapport.intake.services import IntakeProblems, correct, save_draft, submit


def _form_context(
    definition: FormDefinition, values: dict[str, Any], problems: dict[str, str]
) -> dict[str, Any]:
    """What the form template draws: sections of (field, value, follow-up value, error)."""
    labels = {a.name_of(item.key): item.label for item in definition.fields}
    for item in definition.fields:
        if item.follow_up is not None:
            labels[a.name_of(item.key + a.FOLLOW_UP)] = item.follow_up.label
    sections = []
    for section in definition.sections:
        rows = []
        for item in section.fields:
            name = a.name_of(item.key)
            follow = a.name_of(item.key + a.FOLLOW_UP)
            value = values.get(item.key)
            if item.type == "signature" and isinstance(value, dict):
                value = value.get("name", "")
            rows.append(
                {
                    "item": item,
                    "name": name,
                    "value": value if value is not None else "",
                    "error": problems.get(name, ""),
                    "follow_name": follow,
                    "follow_value": values.get(item.key + a.FOLLOW_UP, ""),
                    "follow_error": problems.get(follow, ""),
                }
            )
        sections.append({"section": section, "rows": rows})
    summary = [(name, labels.get(name, ""), text) for name, text in problems.items()]
    return {"definition": definition, "sections": sections, "summary": summary}


def _in_readers_language(definition: FormDefinition) -> FormDefinition:
    return definition.in_language(definition.language_for(get_language() or "en"))


@role_required(Role.CLIENT)
@require_http_methods(["GET", "POST"])
def intake_fill(request: HttpRequest, intake_id: int) -> HttpResponse:
    user: User = request.user  # type: ignore[assignment]
    intake = access_intake_to_fill(user, intake_id)
    if intake.submitted_at is not None:
        sent = intake.submissions.order_by("-pk").first()
        return redirect("intake_detail", sent.pk) if sent else redirect("home")
    definition = _in_readers_language(definition_of(intake.form))
    values, problems, status = intake.draft_answers(), {}, 200
    if request.method == "POST":
        values = a.read_post(definition, request.POST)
        if request.POST.get("action") == "save":
            save_draft(intake, user, values)
            messages.success(request, _("Saved. Come back to finish it whenever you like."))
            return redirect("intake_fill", intake.pk)
        try:
            submission = submit(intake, user, values, language=definition.language)
        except IntakeProblems as exc:
            problems, status = exc.problems, 400
        except ValidationError:
            messages.info(request, _("This form has already been sent."))
            return redirect("home")
        else:
            if therapists_of(user).exists():
                messages.success(request, _("Thank you. Your form is sent to your therapist."))
            else:  # a new client (rapport.signup): the practice reads it before matching
                messages.success(request, _("Thank you. Your form is sent to the practice."))
            return redirect("intake_detail", submission.pk)
    context = {
        "intake": intake,
        "saved_at": intake.draft_saved_at,
        **_form_context(definition, values, problems),
    }
    return render(request, "intake/fill.html", context, status=status)


@role_required(Role.CLIENT, Role.THERAPIST, Role.ADMIN)
@require_http_methods(["GET"])
def intake_detail(request: HttpRequest, submission_id: int) -> HttpResponse:
    """A submitted intake, question by question, with every version of it."""
    user: User = request.user  # type: ignore[assignment]
    submission, how = access_submission(user, submission_id, request=request)
    versions = list(
        IntakeSubmission.objects.filter(intake_id=submission.intake_id)
        .select_related("submitted_by")
        .defer("answers")
        .order_by("submitted_at", "pk")
    )
    # The wording the client read when they sent it (the consent they gave among it).
    definition = definition_of(submission.form).in_language(submission.language)
    values = submission.answer_values()
    newest = versions[-1].pk if versions else submission.pk
    context = {
        "submission": submission,
        "definition": definition,
        "sections": a.readable(definition, values),
        # The client who sent a risk answer sees where to get help now, as after a measure.
        "crisis_help": resources_for(user)
        if how == Reach.SELF and a.risk_answers(definition, values)
        else None,
        "versions": versions,
        "is_newest": newest == submission.pk,
        "may_correct": how in (Reach.SELF, Reach.CARE) and newest == submission.pk,
        "via": how,
    }
    return render(request, "intake/detail.html", context)


@role_required(Role.CLIENT, Role.THERAPIST)
@require_http_methods(["GET", "POST"])
def intake_correct(request: HttpRequest, submission_id: int) -> HttpResponse:
    """A corrected version: the old one's answers to start from; both versions kept."""
    user: User = request.user  # type: ignore[assignment]
    original, how = access_submission(user, submission_id, request=request)
    if how not in (Reach.SELF, Reach.CARE):
        raise Http404("Only the client or their therapist corrects an intake.")
    definition = _in_readers_language(definition_of(original.form))
    values, problems, status = original.answer_values(), {}, 200
    if request.method == "POST":
        values = a.read_post(definition, request.POST)
        try:
            submission = correct(original, user, values, language=definition.language)
        except IntakeProblems as exc:
            problems, status = exc.problems, 400
        except ValidationError:
            messages.info(request, _("This version has already been corrected."))
            return redirect("intake_detail", original.pk)
        else:
            messages.success(request, _("The corrected version is saved; the earlier one is kept."))
            return redirect("intake_detail", submission.pk)
    context = {
        "original": original,
        "correcting": True,
        **_form_context(definition, values, problems),
    }
    return render(request, "intake/fill.html", context, status=status)
