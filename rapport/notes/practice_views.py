"""The practice admin's pages for notes: who supervises whom, and the practice's own templates."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from rapport.accounts.decorators import role_required
from rapport.accounts.models import Role, User
from rapport.notes import services
from rapport.notes.forms import SupervisionForm, TemplateImportForm
from rapport.notes.models import NoteTemplate, Supervision
from rapport.notes.note_templates import TemplateProblems, add_template, shipped


@role_required(Role.ADMIN)
@require_http_methods(["GET", "HEAD", "POST"])
def supervision(request: HttpRequest) -> HttpResponse:
    admin: User = request.user  # type: ignore[assignment]
    form = SupervisionForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.start_supervision(
                admin,
                form.cleaned_data["supervisee"],
                form.cleaned_data["supervisor"],
                request=request,
            )
        except services.NoteError as error:
            form.add_error(None, error)
        else:
            messages.success(request, _("Supervision started."))
            return redirect("supervision")
    rows = Supervision.objects.select_related("supervisee", "supervisor").order_by(
        "ended_at", "-started_at"
    )
    return render(
        request,
        "notes/supervision.html",
        {"form": form, "rows": rows},
        status=400 if form.is_bound else 200,
    )


@role_required(Role.ADMIN)
@require_POST
def end_supervision(request: HttpRequest, supervision_id: int) -> HttpResponse:
    admin: User = request.user  # type: ignore[assignment]
    try:
        services.end_supervision(admin, supervision_id, request=request)
    except services.NoteError as error:
        messages.error(request, " ".join(error.messages))
    else:
        messages.success(request, _("Supervision ended."))
    return redirect("supervision")


@role_required(Role.ADMIN)
@require_http_methods(["GET", "HEAD", "POST"])
def note_templates(request: HttpRequest) -> HttpResponse:
    admin: User = request.user  # type: ignore[assignment]
    form = TemplateImportForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        try:
            row = add_template(admin, form.cleaned_data["source"], request=request)
        except TemplateProblems as problems:
            field = "definition_file" if form.cleaned_data.get("definition_file") else "definition"
            for problem in problems.problems:
                form.add_error(field, problem)
        else:
            messages.success(
                request,
                _("%(name)s (version %(v)s) added. Therapists can now choose it.")
                % {"name": row.name, "v": row.version},
            )
            return redirect("note_templates")
    return render(
        request,
        "notes/templates.html",
        {
            "form": form,
            "shipped": shipped().values(),
            "rows": NoteTemplate.objects.select_related("created_by"),
        },
        status=400 if form.is_bound else 200,
    )
