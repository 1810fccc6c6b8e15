"""The safety plan's form: the page's and the room's (the room sends the same field names over
its socket, and they are checked here too)."""

from __future__ import annotations

import re
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from rapport.safety.models import STEPS, SafetyPlanVersion

CONTACT_ROWS = 4  # rows for people to ask and for professionals
LIST_MAX = 2000
NAME_MAX = 120
PHONE_MAX = 30
REASON_MAX = 1000
PHONE = re.compile(r"^\+?[0-9 ()./-]{2,29}$")


def _list_field(label: Any, help_text: Any) -> forms.CharField:
    """A textarea step of the plan (``label`` and ``help_text``: lazy translations)."""
    return forms.CharField(
        label=label,
        max_length=LIST_MAX,
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=help_text,
    )


class SafetyPlanForm(forms.Form):
    warning_signs = _list_field(
        _("1. Warning signs"),
        _(
            "Thoughts, feelings, situations or things I do that tell me a crisis may be coming. "
            "One per line."
        ),
    )
    coping_strategies = _list_field(
        _("2. Things I can do on my own"),
        _("To take my mind off my problems without contacting anyone. One per line."),
    )
    distractions = _list_field(
        _("3. People and places that take my mind off things"),
        _("People to be with and places to go. One per line."),
    )
    environment = _list_field(
        _("6. Making where I am safer"),
        _("What I will do to keep away from things I could use to hurt myself. One per line."),
    )
    reason_for_living = forms.CharField(
        label=_("The one thing most important to me and worth living for"),
        max_length=REASON_MAX,
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        labels = {
            "people_to_ask": (gettext("Person %(n)d: name"), gettext("Person %(n)d: phone")),
            "professionals": (gettext("Service %(n)d: name"), gettext("Service %(n)d: phone")),
        }
        for step, (name_label, phone_label) in labels.items():
            for row in range(CONTACT_ROWS):
                self.fields[f"{step}_name_{row}"] = forms.CharField(
                    label=name_label % {"n": row + 1}, max_length=NAME_MAX, required=False
                )
                self.fields[f"{step}_phone_{row}"] = forms.CharField(
                    label=phone_label % {"n": row + 1},
                    max_length=PHONE_MAX,
                    required=False,
                    widget=forms.TextInput(attrs={"type": "tel", "autocomplete": "off"}),
                )

    def contact_rows(self, step: str) -> list[tuple[forms.BoundField, forms.BoundField]]:
        return [
            (self[f"{step}_name_{row}"], self[f"{step}_phone_{row}"]) for row in range(CONTACT_ROWS)
        ]

    def people_rows(self) -> list[tuple[forms.BoundField, forms.BoundField]]:
        return self.contact_rows("people_to_ask")

    def professional_rows(self) -> list[tuple[forms.BoundField, forms.BoundField]]:
        return self.contact_rows("professionals")

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        for step, _kind in STEPS:
            if _kind != "contacts":
                continue
            for row in range(CONTACT_ROWS):
                name = str(data.get(f"{step}_name_{row}") or "").strip()
                phone = str(data.get(f"{step}_phone_{row}") or "").strip()
                if phone and not PHONE.match(phone):
                    self.add_error(
                        f"{step}_phone_{row}",
                        _("Write a phone number with digits, spaces and an optional + only."),
                    )
                if phone and not name:
                    self.add_error(f"{step}_name_{row}", _("Add a name for this number."))
        if not self.errors and not any(plan_content(data).values()):
            raise ValidationError(_("Write at least one step of the plan."), code="empty")
        return data


def plan_content(data: dict[str, Any]) -> dict[str, Any]:
    """Cleaned form data as a version's content: list steps as lists, contacts as pairs."""
    content: dict[str, Any] = {}
    for step, kind in STEPS:
        if kind == "lines":
            text = str(data.get(step) or "")
            content[step] = [line.strip() for line in text.splitlines() if line.strip()]
        else:
            rows = []
            for row in range(CONTACT_ROWS):
                name = str(data.get(f"{step}_name_{row}") or "").strip()
                phone = str(data.get(f"{step}_phone_{row}") or "").strip()
                if name:
                    rows.append({"name": name, "phone": phone})
            content[step] = rows
    content["reason_for_living"] = str(data.get("reason_for_living") or "").strip()
    return content


def initial_from(version: SafetyPlanVersion | None) -> dict[str, str]:
    """The form's starting values: the latest version, for the next one to start from."""
    if version is None:
        return {}
    initial: dict[str, str] = {"reason_for_living": version.reason_for_living}
    for step, kind in STEPS:
        if kind == "lines":
            initial[step] = "\n".join(version.lines(step))
        else:
            for row, contact in enumerate(version.contacts(step)[:CONTACT_ROWS]):
                initial[f"{step}_name_{row}"] = contact.name
                initial[f"{step}_phone_{row}"] = contact.phone
    return initial


# Every field of the form and its longest text (the room's live edits name one of these).
FIELD_LIMITS: dict[str, int] = {
    "warning_signs": LIST_MAX,
    "coping_strategies": LIST_MAX,
    "distractions": LIST_MAX,
    "environment": LIST_MAX,
    "reason_for_living": REASON_MAX,
    **{
        f"{step}_{part}_{row}": limit
        for step in ("people_to_ask", "professionals")
        for part, limit in (("name", NAME_MAX), ("phone", PHONE_MAX))
        for row in range(CONTACT_ROWS)
    },
}


def field_names() -> frozenset[str]:
    return frozenset(FIELD_LIMITS)


def field_limit(name: str) -> int:
    return FIELD_LIMITS[name]


def form_problems(form: SafetyPlanForm) -> list[str]:
    """Every error of a bound form as "label: what is wrong" (the room's socket refusal)."""
    problems = [str(error) for error in form.non_field_errors()]
    for name, errors in form.errors.items():
        if name == "__all__":
            continue
        label = form.fields[name].label
        problems.extend(f"{label}: {error}" for error in errors)
    return problems
