"""Turning a filled-in intake form (POST data) into answers, checking them, and reading them back
as the rows a person reads: question → answer, follow-ups under their question, risk marked.

Form fields are named ``f-<key>``; a follow-up ``f-<key>__follow_up``. A draft keeps whatever
was typed; only a submission is checked for required fields, the consent box and the signature.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from django.http import QueryDict
from django.utils.translation import gettext as _

from rapport.intake import definitions as d
from rapport.intake.definitions import Field, FormDefinition

FOLLOW_UP = "__follow_up"
FOLLOW_UP_MAX = 5000


def name_of(key: str) -> str:
    return f"f-{key}"


def read_post(definition: FormDefinition, data: QueryDict) -> dict[str, Any]:
    """Everything typed, by field key, trimmed and cut to size (nothing unknown kept)."""
    answers: dict[str, Any] = {}
    for item in definition.fields:
        name = name_of(item.key)
        if item.type == d.MULTIPLE_CHOICE:
            allowed = {c.value for c in item.choices}
            answers[item.key] = [v for v in data.getlist(name) if v in allowed]
        elif item.type == d.CONSENT:
            answers[item.key] = data.get(name) == "yes"
        else:
            answers[item.key] = data.get(name, "").strip()[: d.TEXT_MAX.get(item.type, 5000)]
        if item.follow_up is not None:
            key = item.key + FOLLOW_UP
            answers[key] = data.get(name_of(key), "").strip()[:FOLLOW_UP_MAX]
    return answers


def problems_in(definition: FormDefinition, answers: dict[str, Any]) -> dict[str, str]:
    """What stops a submission, by form field name (empty when it may be sent)."""
    problems: dict[str, str] = {}
    for item in definition.fields:
        value = answers.get(item.key)
        name = name_of(item.key)
        if item.type == d.CONSENT:
            if not value:
                problems[name] = _("Tick the box to give your consent.")
            continue
        if item.type == d.SIGNATURE:
            if len(" ".join(str(value or "").split())) < 2:
                problems[name] = _("Type your full name to sign.")
            continue
        if item.required and not value:
            problems[name] = _("Answer this question.")
            continue
        if item.type in (d.SINGLE_CHOICE, d.YES_NO) and value:
            allowed = {c.value for c in item.choices} or {"yes", "no"}
            if value not in allowed:
                problems[name] = _("Choose one of the answers.")
        if item.type == d.DATE and value:
            try:
                date.fromisoformat(str(value))
            except ValueError:
                problems[name] = _("Enter a date as year-month-day, for example 2010-04-28.")
        needs_more = item.follow_up is not None and item.follow_up.required and value == "yes"
        if needs_more and not answers.get(item.key + FOLLOW_UP):
            problems[name_of(item.key + FOLLOW_UP)] = _("Tell us a little more here.")
    return problems


def signed(definition: FormDefinition, answers: dict[str, Any], today: date) -> dict[str, Any]:
    """The answers as stored at submission: each signature becomes the typed name and the date."""
    stored = dict(answers)
    for item in definition.fields:
        if item.type == d.SIGNATURE:
            stored[item.key] = {
                "name": " ".join(str(answers.get(item.key) or "").split()),
                "date": today.isoformat(),
            }
        elif item.follow_up is not None and answers.get(item.key) != "yes":
            stored[item.key + FOLLOW_UP] = ""  # a follow-up only counts when the answer is yes
    return stored


def risk_answers(definition: FormDefinition, answers: dict[str, Any]) -> list[Field]:
    """The risk questions answered with one of their risk answers."""
    found = []
    for item in definition.fields:
        value = answers.get(item.key)
        given = value if isinstance(value, list) else [value]
        if item.risk_answers and any(v in item.risk_answers for v in given):
            found.append(item)
    return found


@dataclass(frozen=True)
class AnswerRow:
    question: str
    answer: str
    risk: bool = False
    follow_up: bool = False


def display(item: Field, value: Any) -> str:
    """One answer in words."""
    if item.type == d.CONSENT:
        return _("Given") if value else _("Not given")
    if item.type == d.SIGNATURE:
        if isinstance(value, dict):
            return _("Signed by %(name)s on %(date)s") % {
                "name": value.get("name", ""),
                "date": value.get("date", ""),
            }
        return str(value or "")
    if item.type == d.YES_NO:
        return {"yes": _("Yes"), "no": _("No")}.get(str(value), "")
    if item.type == d.MULTIPLE_CHOICE:
        return ", ".join(item.choice_label(v) for v in value or [])
    if item.type == d.SINGLE_CHOICE:
        return item.choice_label(str(value)) if value else ""
    return str(value or "")


def readable(
    definition: FormDefinition, answers: dict[str, Any]
) -> list[tuple[str, list[AnswerRow]]]:
    """Sections, each with its rows; a follow-up is its own row right under its question."""
    risky = {item.key for item in risk_answers(definition, answers)}
    sections = []
    for section in definition.sections:
        rows = []
        for item in section.fields:
            value = answers.get(item.key)
            rows.append(AnswerRow(item.label, display(item, value), item.key in risky))
            if item.follow_up is not None and answers.get(item.key + FOLLOW_UP):
                text = str(answers[item.key + FOLLOW_UP])
                rows.append(AnswerRow(item.follow_up.label, text, item.key in risky, True))
        sections.append((section.title, rows))
    return sections
