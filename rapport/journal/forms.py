"""The journal entry form: a mood from 0 to 10 (optional), words and tags for it, the entry
itself, and whether the therapist may read it (not unless ticked). The reminder form: whether
and when to be reminded to check in."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from rapport.journal.models import MOOD_MAX, MOOD_MIN
from rapport.journal.services import TAGS_LIMIT, TEXT_LIMIT


class EntryForm(forms.Form):
    mood = forms.TypedChoiceField(
        label=_("Mood today, from 0 (worst) to 10 (best)"),
        choices=[("", _("Skip"))] + [(str(n), str(n)) for n in range(MOOD_MIN, MOOD_MAX + 1)],
        coerce=int,
        empty_value=None,
        required=False,
        widget=forms.RadioSelect,
    )
    mood_words = forms.CharField(
        label=_("A few words about your mood (optional)"), max_length=500, required=False
    )
    tags = forms.CharField(
        label=_("Tags (optional)"),
        max_length=TAGS_LIMIT,
        required=False,
        help_text=_("Separated by commas, for example: sleep, work, family."),
    )
    text = forms.CharField(
        label=_("Journal (optional)"),
        max_length=TEXT_LIMIT,
        required=False,
        widget=forms.Textarea(attrs={"rows": 5}),
    )
    shared = forms.BooleanField(
        label=_("Let my therapist read this entry"),
        required=False,
        help_text=_("Unticked, the entry is yours alone: your therapist never sees it."),
    )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        nothing = data.get("mood") is None and not (
            data.get("mood_words", "").strip() or data.get("text", "").strip()
        )
        if nothing and not self.errors:
            self.add_error(None, _("Choose a mood or write something first."))
        return data


class ReminderForm(forms.Form):
    enabled = forms.BooleanField(
        label=_("Remind me by email on days I have not checked in"),
        required=False,
        help_text=_(
            "Off unless you tick it. The email says only that this is the reminder you asked "
            "for. In your quiet hours it waits until they end."
        ),
    )
    remind_at = forms.TimeField(
        label=_("At this time of day (your own time)"),
        required=False,
        input_formats=["%H:%M", "%H:%M:%S"],
        error_messages={"invalid": _("Enter a time of day as hours and minutes, such as 20:00.")},
        widget=forms.TimeInput(attrs={"type": "time"}, format="%H:%M"),
    )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("enabled") and data.get("remind_at") is None and "remind_at" not in self.errors:
            self.add_error("remind_at", _("Choose the time of day for the reminder."))
        return data
