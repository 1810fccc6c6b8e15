"""Forms of the homework pages: assigning, the client's answers (built from the exercise's
definition, with repeating rows), and the therapist's comment."""

from __future__ import annotations

from datetime import date, time
from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from rapport.core.forms import PlausibleDateField
from rapport.homework.exercises import DATE, FREE_TASK, SCORE, TIME, Exercise, Field, choices
from rapport.homework.models import Assignment, Repeat
from rapport.homework.services import TEXT_LIMIT

DATE_INPUT = forms.DateInput(attrs={"type": "date"})
TIME_INPUT = forms.TimeInput(attrs={"type": "time"}, format="%H:%M")
EMPTY_ROWS = 2  # blank rows offered below the ones filled in


class AssignForm(forms.Form):
    exercise = forms.ChoiceField(label=_("Exercise"), choices=choices)
    title = forms.CharField(
        label=_("Title of a free task"),
        max_length=200,
        required=False,
        help_text=_("Only for a free task."),
    )
    instructions = forms.CharField(
        label=_("Your instructions (optional)"),
        max_length=TEXT_LIMIT,
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("The client reads these above the exercise. Plain words."),
    )
    first_due = PlausibleDateField(label=_("Due on"), widget=DATE_INPUT)
    repeat = forms.ChoiceField(label=_("Repeat"), choices=Repeat.choices, initial=Repeat.NONE)
    repeat_until = PlausibleDateField(
        label=_("Repeat until"),
        widget=DATE_INPUT,
        required=False,
        help_text=_("The last day it is due, when it repeats."),
    )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("exercise") == FREE_TASK and not data.get("title", "").strip():
            self.add_error("title", _("Give the free task a title."))
        repeats = data.get("repeat") not in (None, Repeat.NONE)
        if repeats and data.get("repeat_until") is None and not self.has_error("repeat_until"):
            self.add_error("repeat_until", _("Say until when the homework repeats."))
        return data


class ChangeAssignmentForm(forms.Form):
    """What may change once assigned: the words the client reads and a repeat's last day."""

    title = forms.CharField(label=_("Title of the free task"), max_length=200, required=False)
    instructions = forms.CharField(
        label=_("Your instructions (optional)"),
        max_length=TEXT_LIMIT,
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("The client reads these above the exercise. Plain words."),
    )
    repeat_until = PlausibleDateField(
        label=_("Repeat until"),
        widget=DATE_INPUT,
        required=False,
        help_text=_(
            "The last day it is due. An earlier day removes the days after it that the client"
            " has not started."
        ),
    )

    def __init__(self, *args: Any, assignment: Assignment, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if assignment.exercise != FREE_TASK:
            del self.fields["title"]
        if assignment.repeat == Repeat.NONE:
            del self.fields["repeat_until"]
        else:
            self.fields["repeat_until"].required = True
            self.fields["repeat_until"].error_messages["required"] = _(
                "Say until when the homework repeats."
            )


def _form_field(spec: Field) -> forms.Field:
    if spec.kind == SCORE:
        return forms.IntegerField(
            label=spec.label,
            min_value=0,
            max_value=100,
            required=False,
            widget=forms.NumberInput(attrs={"inputmode": "numeric"}),
            error_messages={
                "min_value": _("Give a number from 0 to 100."),
                "max_value": _("Give a number from 0 to 100."),
                "invalid": _("Give a number from 0 to 100."),
            },
        )
    if spec.kind == TIME:
        return forms.TimeField(label=spec.label, required=False, widget=TIME_INPUT)
    if spec.kind == DATE:
        return PlausibleDateField(label=spec.label, required=False, widget=DATE_INPUT)
    widget = forms.Textarea(attrs={"rows": 3}) if spec.long else forms.TextInput()
    return forms.CharField(label=spec.label, max_length=TEXT_LIMIT, required=False, widget=widget)


def _as_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, time):
        return value.strftime("%H:%M")
    if isinstance(value, date):
        return value.isoformat()
    return str(value).strip()


class AnswerForm(forms.Form):
    """The exercise's fields (``f-<key>``) and its rows (``r<n>-<key>``), prefilled with what
    the client saved; blank rows are dropped when saved."""

    def __init__(
        self, *args: Any, exercise: Exercise, saved: dict[str, Any], **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self.exercise = exercise
        for spec in exercise.fields:
            self.fields[f"f-{spec.key}"] = _form_field(spec)
            self.initial[f"f-{spec.key}"] = saved["fields"].get(spec.key, "")
        self.row_count = 0
        if exercise.rows:
            filled = len(saved["rows"])
            if self.is_bound:  # as many rows as were sent, so nothing typed is lost
                filled = max(filled, self._rows_sent() - EMPTY_ROWS)
            self.row_count = min(max(filled + EMPTY_ROWS, 3), exercise.max_rows)
            for n in range(self.row_count):
                row = saved["rows"][n] if n < len(saved["rows"]) else {}
                for spec in exercise.rows:
                    name = f"r{n}-{spec.key}"
                    self.fields[name] = _form_field(spec)
                    self.initial[name] = row.get(spec.key, "")

    def _rows_sent(self) -> int:
        numbers = {
            int(key[1:].split("-", 1)[0])
            for key in self.data
            if key.startswith("r") and key[1:].split("-", 1)[0].isdigit()
        }
        return max(numbers, default=-1) + 1

    def single_fields(self) -> list[forms.BoundField]:
        return [self[f"f-{spec.key}"] for spec in self.exercise.fields]

    def rows(self) -> list[list[forms.BoundField]]:
        return [
            [self[f"r{n}-{spec.key}"] for spec in self.exercise.rows] for n in range(self.row_count)
        ]

    def answers(self) -> dict[str, Any]:
        """The cleaned answers as saved: text only, empty rows left out."""
        data = self.cleaned_data
        fields = {spec.key: _as_text(data.get(f"f-{spec.key}")) for spec in self.exercise.fields}
        rows = []
        for n in range(self.row_count):
            row = {spec.key: _as_text(data.get(f"r{n}-{spec.key}")) for spec in self.exercise.rows}
            if any(row.values()):
                rows.append(row)
        return {"fields": {k: v for k, v in fields.items() if v}, "rows": rows}


class CommentForm(forms.Form):
    comment = forms.CharField(
        label=_("Your comment for the client"),
        max_length=TEXT_LIMIT,
        widget=forms.Textarea(attrs={"rows": 3}),
    )
