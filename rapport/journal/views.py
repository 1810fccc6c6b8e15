"""Journal pages: the client's journal (a new entry, the daily reminder, their entries), one
entry to change or share, and the shared entries of a client for their therapist. Views parse
and render; the rules live in ``services`` and who reads what in ``access``."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from rapport.accounts.decorators import role_required
from rapport.accounts.models import Role, User
from rapport.core.clock import clock
from rapport.journal import services
from rapport.journal.access import own_entries, own_entry, shared_entries
from rapport.journal.forms import EntryForm, ReminderForm
from rapport.journal.services import JournalError

SHOWN = 60  # entries on a page: the latest two months of daily check-ins


def _user(request: HttpRequest) -> User:
    user: User = request.user  # type: ignore[assignment]
    return user


@role_required(Role.CLIENT)
@require_http_methods(["GET", "POST"])
def my_journal(request: HttpRequest) -> HttpResponse:
    user = _user(request)
    write = request.method == "POST"
    form = EntryForm(request.POST if write else None)
    if write and form.is_valid():
        try:
            entry = services.write_entry(user, request=request, **form.cleaned_data)
        except JournalError as exc:
            form.add_error(None, exc.message)
        else:
            if entry.shared:
                messages.success(request, _("Saved. Your therapist can read this entry."))
            else:
                messages.success(request, _("Saved. This entry is private: only you see it."))
            return redirect("my_journal")
    return _journal_page(request, user, form=form, status=400 if write else 200)


def _journal_page(
    request: HttpRequest,
    user: User,
    *,
    form: EntryForm | None = None,
    reminder_form: ReminderForm | None = None,
    status: int = 200,
) -> HttpResponse:
    if reminder_form is None:
        reminder = services.reminder_of(user)
        reminder_form = ReminderForm(
            initial={"enabled": reminder.enabled, "remind_at": reminder.at}
        )
    return render(
        request,
        "journal/my_journal.html",
        {
            "form": form or EntryForm(),
            "reminder_form": reminder_form,
            "entries": list(own_entries(user)[:SHOWN]),
        },
        status=status,
    )


@role_required(Role.CLIENT)
@require_http_methods(["POST"])
def journal_reminder(request: HttpRequest) -> HttpResponse:
    user = _user(request)
    form = ReminderForm(request.POST)
    if form.is_valid():
        enabled, at = form.cleaned_data["enabled"], form.cleaned_data["remind_at"]
        try:
            services.set_reminder(user, enabled=enabled, at=at, request=request)
        except JournalError as exc:
            form.add_error(None, exc.message)
        else:
            if enabled:
                messages.success(
                    request,
                    _("Saved. You get a reminder at %(time)s on days you have not checked in.")
                    % {"time": clock(at)},
                )
            else:
                messages.success(request, _("Saved. The daily reminder is off."))
            return redirect("my_journal")
    return _journal_page(request, user, reminder_form=form, status=400)


@role_required(Role.CLIENT)
@require_http_methods(["GET", "POST"])
def journal_entry(request: HttpRequest, entry_id: int) -> HttpResponse:
    user = _user(request)
    entry = own_entry(user, entry_id)
    write = request.method == "POST"
    initial = {
        "mood": entry.mood,
        "mood_words": entry.mood_words,
        "tags": entry.tags,
        "text": entry.text,
        "shared": entry.shared,
    }
    form = EntryForm(request.POST if write else None, initial=initial)
    if write and form.is_valid():
        try:
            services.change_entry(user, entry, request=request, **form.cleaned_data)
        except JournalError as exc:
            form.add_error(None, exc.message)
        else:
            messages.success(request, _("Entry saved."))
            return redirect("my_journal")
    return render(
        request,
        "journal/entry.html",
        {"form": form, "entry": entry},
        status=400 if write else 200,
    )


@role_required(Role.THERAPIST, Role.ADMIN)
@require_http_methods(["GET"])
def client_journal(request: HttpRequest, client_id: int) -> HttpResponse:
    client, how, entries = shared_entries(_user(request), client_id, request=request)
    return render(
        request,
        "journal/client_journal.html",
        {"client": client, "via": how, "entries": list(entries[:SHOWN])},
    )
