"""Forms of the treatment-plan pages: a draft's details, a goal (optionally tied to a measure),
an intervention, removing a part of a draft, and the client's signature."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from rapport.core.forms import PlausibleDateField
from rapport.measures.instruments import assignable_instruments, definition_of
from rapport.plans.models import Comparison, Goal, Modality

DATE = forms.DateInput(attrs={"type": "date"})


class DetailsForm(forms.Form):
    form = forms.CharField(widget=forms.HiddenInput, initial="details")
    starts_on = PlausibleDateField(label=_("Plan starts on"), widget=DATE)
    review_on = PlausibleDateField(
        label=_("Review date"),
        widget=DATE,
        help_text=_("Your home page lists the plan, and you get an email, from this day."),
    )
    modality = forms.ChoiceField(label=_("Usual modality"), choices=Modality.choices)
    frequency = forms.CharField(
        label=_("How often"),
        max_length=300,
        required=False,
        help_text=_("For example weekly, 50 minutes."),
    )
    summary = forms.CharField(
        label=_("Summary for the client"),
        max_length=2000,
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("Plain words: what we are working on together and why."),
    )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if (
            data.get("starts_on")
            and data.get("review_on")
            and data["review_on"] < data["starts_on"]
        ):
            self.add_error("review_on", _("The review date is before the plan starts."))
        return data


class GoalForm(forms.Form):
    form = forms.CharField(widget=forms.HiddenInput, initial="goal")
    problem = forms.CharField(
        label=_("Problem"), max_length=1000, help_text=_("What the goal addresses.")
    )
    description = forms.CharField(
        label=_("Goal or objective"),
        max_length=1000,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=_("Measurable, in clinical words."),
    )
    client_words = forms.CharField(
        label=_("In the client's words"),
        max_length=1000,
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=_("What the client reads on their plan. Without it they read the goal above."),
    )
    target_on = PlausibleDateField(label=_("Target date"), required=False, widget=DATE)
    instrument_key = forms.ChoiceField(label=_("Measure (optional)"), required=False)
    comparison = forms.ChoiceField(
        label=_("The score should be"), choices=[("", "—"), *Comparison.choices], required=False
    )
    threshold = forms.IntegerField(
        label=_("Target score"), required=False, min_value=-1000, max_value=1000
    )
    sustained_over = forms.IntegerField(
        label=_("Sustained over how many scores"), min_value=1, max_value=10, initial=1
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.instruments = {i.key: i for i in assignable_instruments()}
        field = self.fields["instrument_key"]
        assert isinstance(field, forms.ChoiceField)  # noqa: S101
        field.choices = [("", _("None")), *((k, i.short_name) for k, i in self.instruments.items())]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        key = data.get("instrument_key")
        if not key:
            data.update(instrument_key="", comparison="", threshold=None)
            return data
        if not data.get("comparison"):
            self.add_error("comparison", _("Say how the score should compare to the target."))
        threshold = data.get("threshold")
        if threshold is None:
            self.add_error("threshold", _("Enter the target score."))
        else:
            definition = definition_of(self.instruments[key])
            if not definition.range_min <= threshold <= definition.range_max:
                self.add_error(
                    "threshold",
                    _("%(name)s scores run from %(low)s to %(high)s.")
                    % {
                        "name": definition.short_name,
                        "low": definition.range_min,
                        "high": definition.range_max,
                    },
                )
        return data


class InterventionForm(forms.Form):
    form = forms.CharField(widget=forms.HiddenInput, initial="intervention")
    what = forms.CharField(
        label=_("Intervention"), max_length=1000, help_text=_("What we will do.")
    )
    who = forms.CharField(label=_("Who"), max_length=200, required=False)
    frequency = forms.CharField(label=_("How often"), max_length=200, required=False)
    modality = forms.ChoiceField(label=_("Modality"), choices=Modality.choices)
    goal = forms.TypedChoiceField(
        label=_("For the goal"), required=False, coerce=int, empty_value=None
    )

    def __init__(self, *args: Any, goals: list[Goal], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.goals = {g.pk: g for g in goals}
        field = self.fields["goal"]
        assert isinstance(field, forms.ChoiceField)  # noqa: S101
        field.choices = [("", _("All goals")), *((g.pk, g.description[:80]) for g in goals)]

    def clean_goal(self) -> Goal | None:
        pk = self.cleaned_data["goal"]
        return None if pk is None else self.goals[pk]


class RemoveForm(forms.Form):
    kind = forms.ChoiceField(choices=[("goal", "goal"), ("intervention", "intervention")])
    part_id = forms.IntegerField(min_value=1)


class SignForm(forms.Form):
    typed_name = forms.CharField(
        label=_("Type your full name to sign"),
        max_length=150,
        help_text=_("Signing says you have read this plan and agree to work on it together."),
    )
