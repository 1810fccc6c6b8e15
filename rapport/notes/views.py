"""Note pages: the note of a session (opened from the session's timeline), a note to write, read,
sign, add to, release or co-sign. Views parse, call one service, render."""

from __future__ import annotations

import uuid
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from rapport.accounts.models import User
from rapport.care.access import Reach, access_client
from rapport.core.clock import clock
from rapport.notes import services
from rapport.notes.access import Role, access_note
from rapport.notes.forms import AddendumForm, ContactNoteForm, NoteForm, ReleaseForm
from rapport.notes.models import Note, NoteKind
from rapport.notes.note_templates import available, shipped, template_for
from rapport.visits.access import access_visit
from rapport.visits.services import THERAPIST


def _user(request: HttpRequest) -> User:
    user: User = request.user  # type: ignore[assignment]
    return user


def _wants_json(request: HttpRequest) -> bool:
    return "application/json" in request.headers.get("Accept", "")


def _saved(note: Note) -> JsonResponse:
    at = clock(note.updated_at)
    return JsonResponse(
        {
            "saved_at": at,
            "url": reverse("note", args=[note.pk]),
            "message": _("Saved %(at)s") % {"at": at},
        }
    )


def _note_form(request: HttpRequest, sections: list[dict[str, Any]], note: Note | None) -> NoteForm:
    initial = {}
    if note is not None:
        initial = {
            "client_location": note.client_location,
            "attendees": note.attendees,
            "include_measures": bool(note.measures),
        }
    data = request.POST if request.method == "POST" else None
    return NoteForm(data, sections=sections, initial=initial)


@login_required
@require_http_methods(["GET", "HEAD", "POST"])
def visit_note(request: HttpRequest, visit_id: uuid.UUID) -> HttpResponse:
    """The therapist's note of a session: opens it when it exists; otherwise the form, with the
    session's facts filled in, whose first save (or autosave) makes the draft."""
    user = _user(request)
    visit, role = access_visit(user, visit_id)
    if role != THERAPIST:
        raise PermissionDenied("notes are written by the session's therapist")
    kind = request.POST.get("kind") or request.GET.get("kind") or NoteKind.PROGRESS
    kind = kind if kind in NoteKind.values else NoteKind.PROGRESS
    existing = Note.objects.filter(visit=visit, author=user, kind=kind).first()
    if existing is not None and request.method != "POST":
        return redirect("note", existing.pk)
    key = request.POST.get("template") or request.GET.get("template") or services.DEFAULT_TEMPLATE
    template = template_for(key) or shipped()[services.DEFAULT_TEMPLATE]
    if request.method == "POST":
        note, _created = services.start_for_visit(
            user, visit, kind=kind, template_key=template.key, request=request
        )
        return _edit(request, note)
    facts = services.visit_facts(visit)
    texts = services.prefill(
        template,
        visit.client,
        user,
        before=visit.started_at or visit.created_at,
        on=facts.date_of_service,
    )
    sections = [
        {
            "key": s.key,
            "label": s.label,
            "help": s.help,
            "required": s.required,
            "text": texts.get(s.key, ""),
        }
        for s in template.sections
    ]
    form = NoteForm(
        sections=sections,
        initial={"client_location": facts.client_location, "attendees": facts.attendees},
    )
    return render(
        request,
        "notes/note.html",
        {
            "form": form,
            "note": None,
            "visit": visit,
            "client": visit.client,
            "facts": facts,
            "kind": kind,
            "template": template,
            "templates": available(),
            "editable": True,
            "role": Role.AUTHOR,
            "measures": [],
        },
    )


@login_required
@require_http_methods(["GET", "HEAD", "POST"])
def contact_note(request: HttpRequest, client_id: int) -> HttpResponse:
    """A note about a contact outside a session (a phone call, a no-show, other), by one of the
    client's therapists."""
    user = _user(request)
    client, how = access_client(user, client_id, request=request, purpose="note")
    if how != Reach.CARE:
        raise PermissionDenied("notes are written by the client's therapists")
    templates = [(t.key, t.name) for t in available()]
    form = ContactNoteForm(
        request.POST or None,
        templates=templates,
        initial={"date_of_service": timezone.localdate(), "template": services.DEFAULT_TEMPLATE},
    )
    if request.method == "POST" and form.is_valid():
        try:
            note = services.start_standalone(
                user,
                client,
                contact=form.cleaned_data["contact"],
                date_of_service=form.cleaned_data["date_of_service"],
                kind=form.cleaned_data["kind"],
                template_key=form.cleaned_data["template"],
                request=request,
            )
        except services.NoteError as error:
            form.add_error(None, error)
        else:
            return redirect("note", note.pk)
    return render(
        request,
        "notes/contact_note.html",
        {"form": form, "client": client},
        status=400 if form.is_bound else 200,
    )


def _edit(request: HttpRequest, note: Note) -> HttpResponse:
    """Save the author's draft from the posted form; sign it when asked."""
    user = _user(request)
    form = _note_form(request, services.sections_of(note), note)
    if not form.is_valid():
        return _page(request, note, Role.AUTHOR, form=form, status=400)
    try:
        note = services.save_draft(
            note.pk,
            user,
            form.texts(),
            client_location=form.cleaned_data["client_location"],
            attendees=form.cleaned_data["attendees"],
            include_measures=form.cleaned_data["include_measures"],
        )
        if request.POST.get("action") == "sign":
            note = services.sign(note.pk, user, request=request)
    except services.NoteError as error:
        if _wants_json(request):
            return JsonResponse({"error": " ".join(error.messages)}, status=400)
        form.add_error(None, error)
        return _page(request, note, Role.AUTHOR, form=form, status=400)
    if _wants_json(request):
        return _saved(note)
    if note.is_signed:
        messages.success(
            request, _("Note signed. It can no longer change; add an addendum if needed.")
        )
    else:
        messages.success(request, _("Draft saved."))
    return redirect("note", note.pk)


def _page(
    request: HttpRequest,
    note: Note,
    role: str,
    *,
    form: NoteForm | None = None,
    addendum_form: AddendumForm | None = None,
    release_form: ReleaseForm | None = None,
    status: int = 200,
) -> HttpResponse:
    editable = role == Role.AUTHOR and not note.is_signed
    if editable and form is None:
        form = _note_form(request, services.sections_of(note), note)
    supervisor = services.supervisor_of(note.author)
    cosignature = getattr(note, "cosignature", None) if note.is_signed else None
    release = getattr(note, "release", None) if note.is_psychotherapy else None
    facts = services.VisitFacts(
        date_of_service=note.date_of_service,
        started_at=note.started_at,
        ended_at=note.ended_at,
        minutes={
            "video": float(note.minutes_video),
            "audio": float(note.minutes_audio),
            "text": float(note.minutes_text),
        },
        client_location=note.client_location,
        attendees=note.attendees,
    )
    context = {
        "note": note,
        "facts": facts,
        "template": None,
        "templates": [],
        "role": role,
        "client": note.client,
        "visit": note.visit,
        "form": form,
        "editable": editable,
        "kind": note.kind,
        "sections": services.sections_of(note),
        "measures": services.measures_of(note),
        "addenda": list(note.addenda.select_related("author")),
        "cosignature": cosignature,
        "release": release,
        "awaits_cosignature": note.is_signed
        and not note.is_psychotherapy
        and cosignature is None
        and supervisor is not None,
        "may_cosign": role in (Role.SUPERVISOR, Role.CARE)
        and supervisor is not None
        and supervisor.pk == request.user.pk
        and note.is_signed
        and cosignature is None,
        "addendum_form": addendum_form
        or (AddendumForm() if role == Role.AUTHOR and note.is_signed else None),
        "release_form": release_form
        or (
            ReleaseForm()
            if role == Role.AUTHOR and note.is_psychotherapy and note.is_signed and release is None
            else None
        ),
    }
    return render(request, "notes/note.html", context, status=status)


@login_required
@require_http_methods(["GET", "HEAD", "POST"])
def note(request: HttpRequest, note_id: int) -> HttpResponse:
    user = _user(request)
    if request.method == "POST":
        found, role = access_note(user, note_id, request=request, audit=False)
        if role != Role.AUTHOR:
            raise PermissionDenied("only the author changes a note")
        if found.is_signed:
            messages.error(
                request, _("This note is signed and can no longer change; add an addendum.")
            )
            return _page(request, found, role, status=409)
        return _edit(request, found)
    found, role = access_note(user, note_id, request=request)
    return _page(request, found, role)


@login_required
@require_POST
def note_addendum(request: HttpRequest, note_id: int) -> HttpResponse:
    user = _user(request)
    found, role = access_note(user, note_id, request=request, audit=False)
    if role != Role.AUTHOR:
        raise PermissionDenied("only the author adds an addendum")
    form = AddendumForm(request.POST)
    if form.is_valid():
        try:
            services.add_addendum(found.pk, user, form.cleaned_data["text"], request=request)
        except services.NoteError as error:
            form.add_error("text", error)
        else:
            messages.success(request, _("Addendum signed and added."))
            return redirect("note", found.pk)
    return _page(request, found, role, addendum_form=form, status=400)


@login_required
@require_POST
def note_release(request: HttpRequest, note_id: int) -> HttpResponse:
    user = _user(request)
    found, role = access_note(user, note_id, request=request, audit=False)
    if role != Role.AUTHOR:
        raise PermissionDenied("only the author releases a note")
    form = ReleaseForm(request.POST)
    if form.is_valid():
        try:
            services.release(found.pk, user, form.cleaned_data["reason"], request=request)
        except services.NoteError as error:
            form.add_error("reason", error)
        else:
            messages.success(
                request, _("Released: the note is now part of the record and its exports.")
            )
            return redirect("note", found.pk)
    return _page(request, found, role, release_form=form, status=400)


@login_required
@require_POST
def note_cosign(request: HttpRequest, note_id: int) -> HttpResponse:
    user = _user(request)
    found, role = access_note(user, note_id, request=request, audit=False)
    try:
        services.cosign(found.pk, user, request=request)
    except services.NoteError as error:
        messages.error(request, " ".join(error.messages))
        return _page(request, found, role, status=400)
    messages.success(request, _("Co-signed."))
    return redirect("note", found.pk)
