"""Note templates as data: the shipped ones (``definitions/*.json``) and the practice's own.

A template is JSON: ``key`` (a slug), ``version`` (a whole number), ``name``, an optional
``description`` and ``sections``, each with ``key``, ``label``, ``help`` and ``required``. The
loader is strict and names every problem it finds, so a practice admin can fix a pasted file.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from django.db import transaction
from django.http import HttpRequest
from django.utils.translation import gettext as _

from rapport.accounts.models import User
from rapport.audit.services import Action, record
from rapport.notes.models import NoteTemplate

SHIPPED = Path(__file__).parent / "definitions"
KEY = re.compile(r"^[a-z][a-z0-9_-]{0,39}$")
TOP_FIELDS = {"key", "version", "name", "description", "sections"}
SECTION_FIELDS = {"key", "label", "help", "required"}


@dataclass(frozen=True)
class Section:
    key: str
    label: str
    help: str
    required: bool


@dataclass(frozen=True)
class Template:
    key: str
    version: int
    name: str
    description: str
    sections: tuple[Section, ...]
    builtin: bool = False


class TemplateProblems(ValueError):
    """Every problem found in a template definition, in words."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


def _text(data: dict[str, Any], name: str, where: str, problems: list[str], *, limit: int) -> str:
    value = data.get(name, "")
    if not isinstance(value, str):
        problems.append(_("%(where)s: “%(name)s” must be text.") % {"where": where, "name": name})
        return ""
    if len(value) > limit:
        problems.append(
            _("%(where)s: “%(name)s” is longer than %(limit)s characters.")
            % {"where": where, "name": name, "limit": limit}
        )
    return value.strip()


def parse(source: str | bytes, *, builtin: bool = False) -> Template:
    """The template in ``source``, or ``TemplateProblems`` listing everything wrong with it."""
    try:
        data = json.loads(source)
    except (ValueError, UnicodeDecodeError) as error:
        raise TemplateProblems(
            [_("This is not valid JSON: %(error)s.") % {"error": error}]
        ) from None
    if not isinstance(data, dict):
        raise TemplateProblems([_("The template must be a JSON object ({ ... }).")])
    problems: list[str] = []
    where = _("The template")
    for extra in sorted(set(data) - TOP_FIELDS):
        problems.append(
            _("Unknown field “%(name)s” (allowed: %(allowed)s).")
            % {"name": extra, "allowed": ", ".join(sorted(TOP_FIELDS))}
        )
    key = _text(data, "key", where, problems, limit=40)
    if not KEY.match(key):
        problems.append(
            _("“key” must be 1 to 40 lower-case letters, digits, - or _, starting with a letter.")
        )
    version = data.get("version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        problems.append(_("“version” must be a whole number from 1."))
        version = 0
    name = _text(data, "name", where, problems, limit=80)
    if not name:
        problems.append(_("“name” is missing."))
    description = _text(data, "description", where, problems, limit=300)
    sections_data = data.get("sections")
    sections: list[Section] = []
    if not isinstance(sections_data, list) or not sections_data:
        problems.append(_("“sections” must be a list of at least one section."))
        sections_data = []
    if len(sections_data) > 20:
        problems.append(_("A template has at most 20 sections."))
    seen: set[str] = set()
    for number, raw in enumerate(sections_data, start=1):
        at = _("Section %(n)s") % {"n": number}
        if not isinstance(raw, dict):
            problems.append(_("%(where)s must be an object.") % {"where": at})
            continue
        for extra in sorted(set(raw) - SECTION_FIELDS):
            problems.append(
                _("%(where)s: unknown field “%(name)s” (allowed: %(allowed)s).")
                % {"where": at, "name": extra, "allowed": ", ".join(sorted(SECTION_FIELDS))}
            )
        section_key = _text(raw, "key", at, problems, limit=40)
        if not KEY.match(section_key):
            problems.append(_("%(where)s: “key” must be a short lower-case slug.") % {"where": at})
        elif section_key in seen:
            problems.append(
                _("%(where)s: the key “%(key)s” is used twice.") % {"where": at, "key": section_key}
            )
        seen.add(section_key)
        label = _text(raw, "label", at, problems, limit=80)
        if not label:
            problems.append(_("%(where)s: “label” is missing.") % {"where": at})
        required = raw.get("required", False)
        if not isinstance(required, bool):
            problems.append(_("%(where)s: “required” must be true or false.") % {"where": at})
            required = False
        help_text = _text(raw, "help", at, problems, limit=300)
        sections.append(Section(section_key, label, help_text, required))
    if problems:
        raise TemplateProblems(problems)
    return Template(key, version, name, description, tuple(sections), builtin=builtin)


@cache
def shipped() -> dict[str, Template]:
    found = {}
    for path in sorted(SHIPPED.glob("*.json")):
        template = parse(path.read_text(encoding="utf-8"), builtin=True)
        found[template.key] = template
    return found


def available() -> list[Template]:
    """The templates a therapist may choose: the shipped ones, then the practice's (latest
    active version of each key)."""
    latest: dict[str, Template] = {}
    for row in NoteTemplate.objects.filter(is_active=True).order_by("key", "version"):
        latest[row.key] = parse(row.definition)
    return [*shipped().values(), *sorted(latest.values(), key=lambda t: t.name)]


def template_for(key: str) -> Template | None:
    """The current version of the template ``key``, or None."""
    return next((t for t in available() if t.key == key), None)


def add_template(
    admin: User, source: str | bytes, *, request: HttpRequest | None = None
) -> NoteTemplate:
    """Add the practice's own template (or a new version of one) from its JSON definition."""
    if not admin.is_practice_admin:
        raise TemplateProblems([_("Only a practice admin adds note templates.")])
    template = parse(source)
    if template.key in shipped():
        raise TemplateProblems(
            [_("“%(key)s” is a built-in template's key; choose another.") % {"key": template.key}]
        )
    with transaction.atomic():
        latest = (
            NoteTemplate.objects.select_for_update()
            .filter(key=template.key)
            .order_by("-version")
            .first()
        )
        if latest is not None and template.version <= latest.version:
            raise TemplateProblems(
                [
                    _("Version %(v)s of “%(key)s” exists; give the new one version %(next)s.")
                    % {"v": latest.version, "key": template.key, "next": latest.version + 1}
                ]
            )
        definition = {
            "key": template.key,
            "version": template.version,
            "name": template.name,
            "description": template.description,
            "sections": [
                {"key": s.key, "label": s.label, "help": s.help, "required": s.required}
                for s in template.sections
            ],
        }
        row = NoteTemplate.objects.create(
            key=template.key,
            version=template.version,
            name=template.name,
            definition=json.dumps(definition, ensure_ascii=False),
            created_by=admin,
        )
        record(Action.NOTE_TEMPLATE_ADDED, actor=admin, request=request, obj=row)
    return row
