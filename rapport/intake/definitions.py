"""Intake form definitions as data: the shapes, and the strict loader that explains every problem.

A definition is JSON (see ``rapport/intake/forms/*.json``)::

    {"key": "adult", "version": "1", "name": "...", "audience": "adult" | "guardian",
     "sections": [{"title": "...", "intro": "...", "fields": [FIELD, ...]}]}

    FIELD = {"key": "reason", "type": TYPE, "label": "...", "help": "...", "required": true,
             "choices": [{"value": "...", "label": "..."}],       # single/multiple choice
             "risk_answers": ["yes"],                               # marks a risk question
             "follow_up": {"label": "...", "required": false}}       # yes/no only

The loader never stops at the first problem: it collects them all, each naming where it is.
A form may also carry ``translations`` (see ``forms/README.md``): its wording in other languages.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

SHORT_TEXT = "short_text"
LONG_TEXT = "long_text"
SINGLE_CHOICE = "single_choice"
MULTIPLE_CHOICE = "multiple_choice"
DATE = "date"
YES_NO = "yes_no"
CONSENT = "consent"
SIGNATURE = "signature"
FIELD_TYPES = (
    SHORT_TEXT,
    LONG_TEXT,
    SINGLE_CHOICE,
    MULTIPLE_CHOICE,
    DATE,
    YES_NO,
    CONSENT,
    SIGNATURE,
)
AUDIENCES = ("adult", "guardian")
KEY = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
VERSION = re.compile(r"^[0-9A-Za-z.\-]{1,20}$")
TEXT_MAX = {SHORT_TEXT: 200, LONG_TEXT: 5000}


class DefinitionError(ValueError):
    """Every problem found in a definition, each a sentence naming where it is."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


@dataclass(frozen=True)
class Choice:
    value: str
    label: str


@dataclass(frozen=True)
class FollowUp:
    label: str
    required: bool = False


@dataclass(frozen=True)
class Field:
    key: str
    type: str
    label: str
    help: str = ""
    required: bool = False
    choices: tuple[Choice, ...] = ()
    risk_answers: tuple[str, ...] = ()
    follow_up: FollowUp | None = None

    @property
    def is_risk_question(self) -> bool:
        return bool(self.risk_answers)

    def choice_label(self, value: str) -> str:
        for choice in self.choices:
            if choice.value == value:
                return choice.label
        return value


@dataclass(frozen=True)
class Section:
    title: str
    intro: str = ""
    fields: tuple[Field, ...] = ()


@dataclass(frozen=True)
class FormDefinition:
    key: str
    version: str
    name: str
    audience: str
    sections: tuple[Section, ...] = field(default=())
    # The form's wording in other languages: {"es": {"name", "sections", "fields"}} as in
    # forms/README.md. Keys and values stay the same, so answers read alike in every language.
    translations: Mapping[str, Mapping[str, Any]] = field(default_factory=dict, compare=False)
    language: str = "en"

    @property
    def fields(self) -> list[Field]:
        return [item for section in self.sections for item in section.fields]

    def language_for(self, language: str) -> str:
        """The language shown to someone reading ``language``: theirs if the form has it."""
        base = language.split("-")[0].lower()
        return base if base in self.translations else "en"

    def in_language(self, language: str) -> FormDefinition:
        """The form in ``language`` (itself when it has no such translation)."""
        words = self.translations.get(language)
        if words is None:
            return self
        sections = tuple(
            replace(
                section,
                title=heading["title"],
                intro=heading.get("intro", ""),
                fields=tuple(_field_in(item, words["fields"][item.key]) for item in section.fields),
            )
            for section, heading in zip(self.sections, words["sections"], strict=True)
        )
        return replace(self, name=words["name"], sections=sections, language=language)


def _field_in(item: Field, words: Mapping[str, Any]) -> Field:
    choices = tuple(replace(c, label=words["choices"][c.value]) for c in item.choices)
    follow_up = item.follow_up and replace(item.follow_up, label=words["follow_up"])
    return replace(
        item, label=words["label"], help=words.get("help", ""), choices=choices, follow_up=follow_up
    )


def _translations(raw: Any, sections: list[Section], problems: list[str]) -> dict[str, Any]:
    """Check that each translation words every section, field, choice and follow-up."""
    if not isinstance(raw, dict):
        problems.append("“translations” must be an object keyed by language code.")
        return {}
    for language, words in raw.items():
        where = f"Translation “{language}”"
        if not re.fullmatch(r"[a-z]{2}", language) or language == "en":
            problems.append(f"{where}: the key must be a two-letter language code other than en.")
            continue
        if not isinstance(words, dict) or set(words) != {"name", "sections", "fields"}:
            problems.append(f"{where}: must have exactly “name”, “sections” and “fields”.")
            continue
        if not isinstance(words["name"], str) or not words["name"].strip():
            problems.append(f"{where}: “name” must be text.")
        headings = words["sections"]
        if not isinstance(headings, list) or len(headings) != len(sections):
            problems.append(f"{where}: “sections” must give one title per section, in order.")
        else:
            for section, heading in zip(sections, headings, strict=True):
                if not isinstance(heading, dict) or not isinstance(heading.get("title"), str):
                    problems.append(f"{where}: each section needs its “title”.")
                elif bool(section.intro) != bool(heading.get("intro")):
                    problems.append(f"{where}: “{heading['title']}” must word its intro too.")
        texts = words["fields"]
        fields = [item for section in sections for item in section.fields]
        if not isinstance(texts, dict) or set(texts) != {item.key for item in fields}:
            problems.append(f"{where}: “fields” must word every field, by key.")
            continue
        for item in fields:
            text = texts[item.key]
            ok = (
                isinstance(text, dict)
                and isinstance(text.get("label"), str)
                and bool(item.help) == bool(text.get("help"))
                and (item.follow_up is None) == ("follow_up" not in text)
                and (
                    not item.choices
                    or (
                        isinstance(text.get("choices"), dict)
                        and set(text["choices"]) == {c.value for c in item.choices}
                    )
                )
            )
            if not ok:
                problems.append(
                    f"{where}: “{item.key}” must word its label, and its help, choices and "
                    "follow-up where the form has them."
                )
    return dict(raw)


def _text(data: dict[str, Any], name: str, where: str, problems: list[str], *, need: bool) -> str:
    value = data.get(name, "")
    if not isinstance(value, str):
        problems.append(f"{where}: “{name}” must be text.")
        return ""
    if need and not value.strip():
        problems.append(f"{where}: “{name}” is missing.")
    return value.strip()


def _choices(raw: Any, where: str, problems: list[str]) -> tuple[Choice, ...]:
    if not isinstance(raw, list) or len(raw) < 2:
        problems.append(f"{where}: “choices” must list at least two choices.")
        return ()
    choices: list[Choice] = []
    for n, item in enumerate(raw, 1):
        spot = f"{where}, choice {n}"
        if not isinstance(item, dict):
            problems.append(f"{spot}: must be an object with “value” and “label”.")
            continue
        value = _text(item, "value", spot, problems, need=True)
        label = _text(item, "label", spot, problems, need=True)
        if value in {c.value for c in choices}:
            problems.append(f"{spot}: the value “{value}” is used twice.")
        choices.append(Choice(value, label))
    return tuple(choices)


def _field(raw: Any, where: str, problems: list[str]) -> Field | None:
    if not isinstance(raw, dict):
        problems.append(f"{where}: must be an object.")
        return None
    known = {"key", "type", "label", "help", "required", "choices", "risk_answers", "follow_up"}
    for extra in sorted(set(raw) - known):
        problems.append(f"{where}: unknown property “{extra}”.")
    key = _text(raw, "key", where, problems, need=True)
    if key and not KEY.match(key):
        problems.append(f"{where}: the key “{key}” must be lower-case letters, digits and _.")
    where = f"{where} (“{key}”)" if key else where
    kind = raw.get("type")
    if kind not in FIELD_TYPES:
        problems.append(f"{where}: “type” must be one of {', '.join(FIELD_TYPES)}.")
        return None
    label = _text(raw, "label", where, problems, need=True)
    required = raw.get("required", kind in (CONSENT, SIGNATURE))
    if not isinstance(required, bool):
        problems.append(f"{where}: “required” must be true or false.")
        required = False
    if kind in (CONSENT, SIGNATURE) and not required:
        problems.append(f"{where}: a {kind} field is always required.")
    choices: tuple[Choice, ...] = ()
    if kind in (SINGLE_CHOICE, MULTIPLE_CHOICE):
        choices = _choices(raw.get("choices"), where, problems)
    elif "choices" in raw:
        problems.append(f"{where}: only choice fields have “choices”.")
    allowed = (
        {c.value for c in choices} if choices else ({"yes", "no"} if kind == YES_NO else set())
    )
    risk = raw.get("risk_answers", [])
    if not isinstance(risk, list) or not all(isinstance(v, str) for v in risk):
        problems.append(f"{where}: “risk_answers” must be a list of answer values.")
        risk = []
    elif risk and not allowed:
        problems.append(f"{where}: only yes/no and choice fields can be risk questions.")
    for value in risk:
        if allowed and value not in allowed:
            problems.append(f"{where}: the risk answer “{value}” is not one of its answers.")
    follow_up = None
    if "follow_up" in raw:
        spot = f"{where}, follow-up"
        if kind != YES_NO:
            problems.append(f"{where}: only a yes/no field has a follow-up.")
        elif not isinstance(raw["follow_up"], dict):
            problems.append(f"{spot}: must be an object with a “label”.")
        else:
            up = raw["follow_up"]
            up_required = up.get("required", False)
            if not isinstance(up_required, bool):
                problems.append(f"{spot}: “required” must be true or false.")
                up_required = False
            follow_up = FollowUp(_text(up, "label", spot, problems, need=True), up_required)
    help_text = _text(raw, "help", where, problems, need=False)
    return Field(key, kind, label, help_text, required, choices, tuple(risk), follow_up)


def load_definition(data: Any) -> FormDefinition:
    """A checked definition, or ``DefinitionError`` listing every problem found."""
    problems: list[str] = []
    if not isinstance(data, dict):
        raise DefinitionError(["The definition must be a JSON object."])
    known = {"key", "version", "name", "audience", "sections", "translations"}
    for extra in sorted(set(data) - known):
        problems.append(f"Unknown property “{extra}” at the top level.")
    key = _text(data, "key", "The form", problems, need=True)
    if key and not KEY.match(key):
        problems.append(f"The form key “{key}” must be lower-case letters, digits and _.")
    version = _text(data, "version", "The form", problems, need=True)
    if version and not VERSION.match(version):
        problems.append(f"The version “{version}” must be up to 20 letters, digits, . or -.")
    name = _text(data, "name", "The form", problems, need=True)
    audience = data.get("audience", "adult")
    if audience not in AUDIENCES:
        problems.append(f"“audience” must be one of {', '.join(AUDIENCES)}.")
    raw_sections = data.get("sections")
    sections: list[Section] = []
    if not isinstance(raw_sections, list) or not raw_sections:
        problems.append("“sections” must list at least one section.")
        raw_sections = []
    seen: set[str] = set()
    for s, raw in enumerate(raw_sections, 1):
        where = f"Section {s}"
        if not isinstance(raw, dict):
            problems.append(f"{where}: must be an object.")
            continue
        title = _text(raw, "title", where, problems, need=True)
        intro = _text(raw, "intro", where, problems, need=False)
        raw_fields = raw.get("fields", [])
        if not isinstance(raw_fields, list):
            problems.append(f"{where}: “fields” must be a list.")
            raw_fields = []
        fields: list[Field] = []
        for f, raw_field in enumerate(raw_fields, 1):
            item = _field(raw_field, f"{where}, field {f}", problems)
            if item is None:
                continue
            if item.key in seen:
                problems.append(f"{where}, field {f}: the key “{item.key}” is used twice.")
            seen.add(item.key)
            fields.append(item)
        sections.append(Section(title, intro, tuple(fields)))
    if not any(section.fields for section in sections) and not problems:
        problems.append("The form has no fields.")
    translations = _translations(data.get("translations", {}), sections, problems)
    if problems:
        raise DefinitionError(problems)
    return FormDefinition(key, version, name, str(audience), tuple(sections), translations)
