"""The intake forms a practice uses: the built-in definitions kept in step with the database,
the ones a practice admin adds (each new version kept), and the default form.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from rapport.accounts.models import User
from rapport.audit.services import Action, record
from rapport.intake.definitions import DefinitionError, FormDefinition, load_definition
from rapport.intake.models import IntakeForm

FORMS_DIR = Path(__file__).parent / "forms"


def builtin_definitions() -> list[tuple[FormDefinition, dict[str, Any]]]:
    """The shipped definitions, each with its raw JSON (a broken file fails loudly)."""
    found = []
    for path in sorted(FORMS_DIR.glob("*.json")):
        data = json.loads(path.read_text(encoding="utf-8"))
        found.append((load_definition(data), data))
    return found


def definition_of(form: IntakeForm) -> FormDefinition:
    """The form's definition, loaded once per instance."""
    cached = form.__dict__.get("_definition")
    if cached is None:
        cached = load_definition(form.definition)
        form.__dict__["_definition"] = cached
    assert isinstance(cached, FormDefinition)  # noqa: S101
    return cached


def sync_builtin_forms(using: str = "default") -> int:
    """Create the rows of the built-in definitions (run after every migrate). Rows changed."""
    rows = IntakeForm.objects.using(using)
    changed = 0
    for definition, data in builtin_definitions():
        current = rows.filter(key=definition.key, version=definition.version).first()
        if current is None:
            rows.create(
                key=definition.key,
                version=definition.version,
                name=definition.name,
                definition=data,
                builtin=True,
            )
            changed += 1
        elif current.definition != data or current.name != definition.name:
            current.definition, current.name = data, definition.name
            current.save(using=using, update_fields=["definition", "name"])
            changed += 1
    return changed


def newest_forms() -> list[IntakeForm]:
    """The newest version of each form, by name."""
    newest: dict[str, IntakeForm] = {}
    for form in IntakeForm.objects.order_by("key", "-added_at", "-pk"):
        newest.setdefault(form.key, form)
    return sorted(newest.values(), key=lambda f: f.name.lower())


def newest_version(key: str) -> IntakeForm | None:
    return IntakeForm.objects.filter(key=key).order_by("-added_at", "-pk").first()


def default_form() -> IntakeForm | None:
    """The newest version of the form the practice chose to send when care starts, or None:
    nothing goes out by itself until a practice admin chooses one (therapists still send
    forms by hand)."""
    chosen = IntakeForm.objects.filter(is_default=True).first()
    return newest_version(chosen.key) if chosen is not None else None


def add_form(raw: str, user: User) -> IntakeForm:
    """Add a practice form, or a new version of one, from its JSON text.

    ``DefinitionError`` lists every problem (bad JSON included); an existing key and version
    is refused: versions are kept, never replaced, so old submissions keep theirs.
    """
    try:
        data = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise DefinitionError(
            [
                _("This is not valid JSON (line %(line)d, column %(col)d: %(msg)s).")
                % {"line": exc.lineno, "col": exc.colno, "msg": exc.msg}
            ]
        ) from exc
    definition = load_definition(data)
    try:
        with transaction.atomic():
            form = IntakeForm.objects.create(
                key=definition.key,
                version=definition.version,
                name=definition.name,
                definition=data,
                added_by=user,
            )
            record(
                Action.INTAKE_FORM_ADDED, actor=user, obj=form, key=form.key, version=form.version
            )
    except IntegrityError as exc:
        raise DefinitionError(
            [
                _("Version %(version)s of “%(key)s” already exists: give it another version.")
                % {"version": definition.version, "key": definition.key}
            ]
        ) from exc
    return form


def choose_default(key: str, user: User) -> IntakeForm:
    """Make the newest version of ``key`` the form sent when care starts."""
    with transaction.atomic():
        form = (
            IntakeForm.objects.select_for_update()
            .filter(key=key)
            .order_by("-added_at", "-pk")
            .first()
        )
        if form is None:
            raise DefinitionError([_("There is no such form.")])
        IntakeForm.objects.filter(is_default=True).update(is_default=False)
        IntakeForm.objects.filter(pk=form.pk).update(is_default=True)
        record(Action.INTAKE_DEFAULT_CHOSEN, actor=user, obj=form, key=key)
    return form
