"""The forms of notes: a note's sections (built from its template), an addendum, a release,
a supervision, a practice template."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from rapport.accounts.models import Role, User
from rapport.core.forms import PlausibleDateField
from rapport.notes.models import NoteContact, NoteKind
from rapport.notes.services import TEXT_LIMIT


class NoteForm(forms.Form):
    """One text box per section of the note's template, and the facts the therapist may
    correct. Required sections are checked when signing, not on every save."""

    client_location = forms.CharField(
        label=_("Client's stated location"), max_length=300, required=False
    )
    attendees = forms.CharField(label=_("Who attended"), max_length=300, required=False)
    include_measures = forms.BooleanField(
        label=_("Include the latest questionnaire results"), required=False
    )

    def __init__(self, *args: Any, sections: list[dict[str, Any]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.section_keys = []
        for section in sections:
            name = f"s-{section['key']}"
            self.section_keys.append(section["key"])
            self.fields[name] = forms.CharField(
                # A shipped template's words in the reader's language (notes/words.py).
                label=gettext(section["label"])
                + ("" if section.get("required") else str(_(" (optional)"))),
                help_text=gettext(section["help"]) if section.get("help") else "",
                required=False,
                max_length=TEXT_LIMIT,
                widget=forms.Textarea(attrs={"rows": 5}),
                initial=section.get("text", ""),
            )

    def section_fields(self) -> list[forms.BoundField]:
        return [self[f"s-{key}"] for key in self.section_keys]

    def texts(self) -> dict[str, str]:
        return {key: self.cleaned_data.get(f"s-{key}", "") for key in self.section_keys}


class ContactNoteForm(forms.Form):
    """A note about a contact outside a session: a phone call, a no-show, other."""

    contact = forms.ChoiceField(
        label=_("What was it?"),
        choices=[c for c in NoteContact.choices if c[0] != NoteContact.SESSION],
        widget=forms.RadioSelect,
    )
    date_of_service = PlausibleDateField(
        label=_("Date"), widget=forms.DateInput(attrs={"type": "date"})
    )
    kind = forms.ChoiceField(label=_("Kind of note"), choices=NoteKind.choices, initial="progress")
    template = forms.ChoiceField(label=_("Template"))

    def __init__(self, *args: Any, templates: list[tuple[str, str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["template"]
        if isinstance(field, forms.ChoiceField):
            field.choices = templates


class AddendumForm(forms.Form):
    text = forms.CharField(
        label=_("Addendum"),
        max_length=TEXT_LIMIT,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text=_("Signed and timestamped when you add it; it cannot be changed afterwards."),
    )


class ReleaseForm(forms.Form):
    reason = forms.CharField(
        label=_("Why this note is released"),
        max_length=2000,
        help_text=_("For example: the client's written authorisation of 4 March."),
    )


def _name(user: User) -> str:
    return user.full_name or user.email


class SupervisionForm(forms.Form):
    supervisee = forms.ModelChoiceField(
        label=_("Therapist (supervisee)"), queryset=User.objects.none()
    )
    supervisor = forms.ModelChoiceField(label=_("Supervisor"), queryset=User.objects.none())

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        therapists = User.objects.filter(role=Role.THERAPIST, is_active=True).order_by("full_name")
        for name in ("supervisee", "supervisor"):
            field = self.fields[name]
            if isinstance(field, forms.ModelChoiceField):
                field.queryset = therapists
                field.label_from_instance = _name  # type: ignore[method-assign,assignment]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("supervisee") and data.get("supervisee") == data.get("supervisor"):
            self.add_error("supervisor", _("A therapist cannot supervise themselves."))
        return data


class TemplateImportForm(forms.Form):
    definition = forms.CharField(
        label=_("Template definition (JSON)"),
        widget=forms.Textarea(attrs={"rows": 14, "spellcheck": "false"}),
        required=False,
        max_length=50_000,
    )
    definition_file = forms.FileField(label=_("Or upload a .json file"), required=False)

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        upload = data.get("definition_file")
        if upload is not None:
            if upload.size > 50_000:
                self.add_error("definition_file", _("The file is larger than 50 kB."))
                return data
            data["source"] = upload.read()
        elif data.get("definition", "").strip():
            data["source"] = data["definition"]
        else:
            self.add_error("definition", _("Paste the template's JSON or upload its file."))
        return data
