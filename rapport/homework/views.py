"""Homework pages: the therapist's homework page of a client (assign, see what is due and
done), one piece of homework to read and comment on; the client's own list and the page to fill
one in (drafts and handing in). Views parse and render; the rules live in ``services``."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_http_methods

from rapport.accounts.decorators import role_required
from rapport.accounts.models import Role, User
from rapport.care.access import Reach
from rapport.homework import services
from rapport.homework.access import (
    access_assignment,
    access_client_homework,
    access_homework,
    own_homework,
)
from rapport.homework.forms import AnswerForm, AssignForm, ChangeAssignmentForm, CommentForm
from rapport.homework.models import Status
from rapport.homework.services import HomeworkError


def _user(request: HttpRequest) -> User:
    user: User = request.user  # type: ignore[assignment]
    return user


@role_required(Role.THERAPIST, Role.ADMIN)
@require_http_methods(["GET", "POST"])
def client_homework(request: HttpRequest, client_id: int) -> HttpResponse:
    user = _user(request)
    write = request.method == "POST"
    client, how = access_client_homework(user, client_id, request=request, write=write)
    form = AssignForm(request.POST if write else None, initial={"first_due": timezone.localdate()})
    if write and form.is_valid():
        try:
            services.assign(user, client, request=request, **form.cleaned_data)
        except HomeworkError as exc:
            form.add_error(None, exc.message)
        else:
            messages.success(request, _("Homework assigned."))
            return redirect("client_homework", client.pk)
    homework = services.homework_of(client)
    return render(
        request,
        "homework/client_homework.html",
        {
            "client": client,
            "via": how,
            "form": form if how == Reach.CARE else None,
            "homework": [(h, services.title_of(h.assignment)) for h in homework],
            "assignments": [(a, services.title_of(a)) for a in services.assignments_of(client)],
        },
        status=400 if write else 200,
    )


@role_required(Role.THERAPIST, Role.ADMIN)
@require_http_methods(["GET", "POST"])
def homework_assignment(request: HttpRequest, client_id: int, assignment_id: int) -> HttpResponse:
    """Change or stop one assignment: the client's therapist in active care only."""
    user = _user(request)
    write = request.method == "POST"
    assignment = access_assignment(user, client_id, assignment_id, request=request)
    client = assignment.client
    stopping = write and request.POST.get("action") == "stop"
    initial = {
        "title": assignment.title,
        "instructions": assignment.instructions,
        "repeat_until": assignment.repeat_until,
    }
    form = ChangeAssignmentForm(
        request.POST if write and not stopping else None, assignment=assignment, initial=initial
    )
    try:
        if stopping:
            removed = services.stop_assignment(user, assignment, request=request)
            messages.success(
                request,
                ngettext(
                    "Homework stopped. %(n)d day still to do was removed.",
                    "Homework stopped. %(n)d days still to do were removed.",
                    removed,
                )
                % {"n": removed},
            )
            return redirect("client_homework", client.pk)
        if write and form.is_valid():
            services.change_assignment(user, assignment, request=request, **form.cleaned_data)
            messages.success(request, _("Homework changed. The client sees the new version."))
            return redirect("client_homework", client.pk)
    except HomeworkError as exc:
        form.add_error(None, exc.message)
    return render(
        request,
        "homework/assignment.html",
        {
            "client": client,
            "assignment": assignment,
            "title": services.title_of(assignment),
            "form": form if assignment.stopped_at is None else None,
        },
        status=400 if write else 200,
    )


@role_required(Role.THERAPIST, Role.ADMIN)
@require_http_methods(["GET", "POST"])
def homework_review(request: HttpRequest, homework_id: int) -> HttpResponse:
    user = _user(request)
    write = request.method == "POST"
    homework, how = access_homework(user, homework_id, request=request, write=write)
    form = CommentForm(request.POST if write else None)
    if write and form.is_valid():
        try:
            services.add_comment(user, homework, form.cleaned_data["comment"], request=request)
        except HomeworkError as exc:
            form.add_error("comment", exc.message)
        else:
            messages.success(request, _("Comment saved. The client sees it with their homework."))
            return redirect("homework_review", homework.pk)
    may_comment = how == Reach.CARE and homework.status == Status.SUBMITTED
    return render(
        request,
        "homework/review.html",
        {
            "homework": homework,
            "client": homework.client,
            "title": services.title_of(homework.assignment),
            "answers": services.readable_answers(homework),
            "form": form if may_comment or form.errors else None,
        },
        status=400 if write else 200,
    )


@role_required(Role.CLIENT)
@require_http_methods(["GET"])
def my_homework(request: HttpRequest) -> HttpResponse:
    rows = list(own_homework(_user(request)).order_by("due_on", "pk"))
    # Homework the therapist stopped leaves the list unless the client had started it.
    to_do = [
        (h, services.title_of(h.assignment))
        for h in rows
        if not h.is_done and (h.status == Status.DRAFT or h.assignment.stopped_at is None)
    ]
    done = [(h, services.title_of(h.assignment)) for h in reversed(rows) if h.is_done]
    return render(
        request,
        "homework/my_homework.html",
        {"to_do": to_do, "done": done, "today": timezone.localdate()},
    )


@role_required(Role.CLIENT)
@require_http_methods(["GET", "POST"])
def homework_fill(request: HttpRequest, homework_id: int) -> HttpResponse:
    user = _user(request)
    homework, _how = access_homework(user, homework_id, request=request)
    exercise = services.exercise_of(homework.assignment)
    write = request.method == "POST"
    form = AnswerForm(
        request.POST if write and not homework.is_done else None,
        exercise=exercise,
        saved=services.answers_of(homework),
    )
    if write and not homework.is_done and form.is_valid():
        submit = request.POST.get("action") == "submit"
        answers = form.answers()
        if submit and not (answers["fields"] or answers["rows"]):
            form.add_error(None, _("Fill in at least one answer before handing it in."))
        else:
            try:
                services.save_answers(user, homework, answers, submit=submit, request=request)
            except HomeworkError as exc:
                form.add_error(None, exc.message)
            else:
                if submit:
                    messages.success(request, _("Handed in. Your therapist can read it now."))
                    return redirect("my_homework")
                messages.success(
                    request, _("Draft saved. Only you can see it until you hand it in.")
                )
                return redirect("homework_fill", homework.pk)
    elif write and homework.is_done:
        messages.error(request, _("You already handed this in, so it cannot change."))
        return redirect("homework_fill", homework.pk)
    return render(
        request,
        "homework/fill.html",
        {
            "homework": homework,
            "title": services.title_of(homework.assignment),
            "exercise": exercise,
            "form": form,
            "answers": services.readable_answers(homework) if homework.is_done else None,
        },
        status=400 if write else 200,
    )
