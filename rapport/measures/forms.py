"""Forms of the measures screens: a questionnaire built from its definition, assigning a measure,
acknowledging a safety alert, and importing an instrument a practice holds a licence for."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from rapport.measures.definitions import Definition, Item
from rapport.measures.models import Instrument, Schedule

MAX_IMPORT_BYTES = 256 * 1024


def field_name(item: Item) -> str:
    return f"q-{item.key}"


class QuestionnaireForm(forms.Form):
    """One radio group per item. Every answer is optional here: a draft may be partial, and the
    instrument's own rules (``scoring.score``) decide whether a submission is complete."""

    def __init__(self, definition: Definition, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.definition = definition
        for item in definition.items:
            self.fields[field_name(item)] = forms.TypedChoiceField(
                label=item.text,
                choices=[(str(o.value), o.label) for o in item.options],
                coerce=int,
                empty_value=None,
                required=False,
                widget=forms.RadioSelect,
                error_messages={"invalid_choice": _("Choose one of the answers shown.")},
            )

    @classmethod
    def initial_from(cls, answers: Mapping[str, Any]) -> dict[str, str]:
        return {f"q-{key}": str(value) for key, value in answers.items() if value is not None}

    def answers(self) -> dict[str, int | None]:
        """The valid answers given so far, by item key (a bad value counts as unanswered)."""
        data = self.cleaned_data if hasattr(self, "cleaned_data") else {}
        return {
            item.key: data.get(field_name(item))
            for item in self.definition.items
            if data.get(field_name(item)) is not None
        }

    def flag_unanswered(self, message: str) -> None:
        answered = self.answers()
        for item in self.definition.items:
            if item.key not in answered and (item.scored or item.required):
                self.add_error(field_name(item), message)


class InstrumentChoiceField(forms.ModelChoiceField):  # type: ignore[type-arg]
    def label_from_instance(self, obj: Any) -> str:
        return f"{obj.short_name} — {obj.name}"


class AssignForm(forms.Form):
    instrument = InstrumentChoiceField(
        label=_("Measure"), queryset=Instrument.objects.none(), empty_label=None
    )
    schedule = forms.ChoiceField(
        label=_("When"),
        choices=Schedule.choices,
        initial=Schedule.BEFORE_EACH_SESSION,
        widget=forms.RadioSelect,
    )
    interval_days = forms.IntegerField(
        label=_("Every how many days"),
        min_value=1,
        max_value=365,
        required=False,
        help_text=_("Only for “every few days”: for example 14 for every two weeks."),
    )

    def __init__(self, *args: Any, instruments: list[Instrument], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["instrument"]
        assert isinstance(field, forms.ModelChoiceField)  # noqa: S101
        field.queryset = Instrument.objects.filter(pk__in=[i.pk for i in instruments]).order_by(
            "short_name"
        )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("schedule") == Schedule.EVERY_N_DAYS:
            if not data.get("interval_days"):
                self.add_error("interval_days", _("Say how many days apart."))
        else:
            data["interval_days"] = None
        return data


class AcknowledgeForm(forms.Form):
    action_taken = forms.CharField(
        label=_("Action taken"),
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text=_(
            "What you did, for example: “Phoned the client at 14:10, completed a risk "
            "assessment, safety plan updated.” Kept in the record and audited."
        ),
    )

    def __init__(self, *args: Any, safety_plan_version: int | None = None, **kwargs: Any) -> None:
        """``safety_plan_version``: the number of the client's current safety plan, which the
        therapist may record as reviewed with the acknowledgement (None: no plan, no box)."""
        super().__init__(*args, **kwargs)
        if safety_plan_version is not None:
            self.fields["safety_plan_reviewed"] = forms.BooleanField(
                label=_("I reviewed the safety plan (version %(number)d)")
                % {"number": safety_plan_version},
                required=False,
            )

    def clean_action_taken(self) -> str:
        text = str(self.cleaned_data["action_taken"]).strip()
        if not text:
            raise ValidationError(_("Write what you did."))
        return text


class InstrumentImportForm(forms.Form):
    definition_file = forms.FileField(
        label=_("Definition file (JSON)"),
        help_text=_("In the format described in Rapport's instrument README."),
    )
    licence_record = forms.CharField(
        label=_("Licence record"),
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text=_("Who holds the licence, its terms and until when."),
    )

    def clean_definition_file(self) -> Any:
        """The parsed file; ``instruments.import_instrument`` checks it against the format."""
        upload = self.cleaned_data["definition_file"]
        if upload.size > MAX_IMPORT_BYTES:
            raise ValidationError(_("The file is larger than 256 kB."))
        try:
            return json.loads(upload.read().decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as exc:
            raise ValidationError(
                _("The file is not valid JSON: %(error)s") % {"error": exc}
            ) from exc


class InstrumentForm(forms.Form):
    licence_record = forms.CharField(
        label=_("Licence record"),
        max_length=2000,
        required=False,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text=_("Who holds the licence, its terms and until when (built-in ones need none)."),
    )
    is_active = forms.BooleanField(label=_("Therapists may assign it"), required=False)
