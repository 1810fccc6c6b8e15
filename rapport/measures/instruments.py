"""The instruments a practice uses: the built-in definitions kept in step with the database,
the ones an admin imports under the practice's licence, and which of them are offered.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.core.exceptions import PermissionDenied
from django.db import IntegrityError, transaction
from django.http import HttpRequest
from django.utils.translation import gettext as _

from rapport.accounts.models import Practice, User
from rapport.audit.services import Action, record
from rapport.measures.definition_files import builtin_definitions, load_definition
from rapport.measures.definitions import Definition, DefinitionError
from rapport.measures.errors import MeasureError
from rapport.measures.models import Instrument

# Rapport's own after-session feedback form (not a validated instrument).
FEEDBACK_KEY = "rapport-feedback"
# Imported instruments with this construct are used like the feedback form (alliance measures).
ALLIANCE_CONSTRUCT = "alliance"
LICENCE_RECORD_MAX = 2000


def definition_of(instrument: Instrument) -> Definition:
    """The instrument's definition, loaded once per instance."""
    cached = instrument.__dict__.get("_definition")
    if cached is None:
        cached = load_definition(instrument.definition)
        instrument.__dict__["_definition"] = cached
    assert isinstance(cached, Definition)  # noqa: S101
    return cached


def is_feedback(definition: Definition) -> bool:
    """Session feedback: Rapport's own form, or an imported (licensed) alliance measure."""
    return definition.key == FEEDBACK_KEY or definition.construct == ALLIANCE_CONSTRUCT


def sync_builtin_instruments(using: str = "default") -> int:
    """Create or update the Instrument rows of the built-in definitions. Returns rows changed.

    Runs after every ``migrate`` (and after the test database is flushed). A built-in version
    no longer shipped stays (responses point at it) but is no longer offered.
    """
    rows = Instrument.objects.using(using)
    changed = 0
    shipped = set()
    for definition in builtin_definitions():
        shipped.add((definition.key, definition.version))
        fields: dict[str, Any] = {
            "name": definition.name,
            "short_name": definition.short_name,
            "definition": definition.to_json(),
            "builtin": True,
        }
        current = rows.filter(key=definition.key, version=definition.version).first()
        if current is None:
            rows.create(key=definition.key, version=definition.version, **fields)
            changed += 1
        elif any(getattr(current, name) != value for name, value in fields.items()):
            for name, value in fields.items():
                setattr(current, name, value)
            current.save(using=using, update_fields=list(fields))
            changed += 1
    for old in rows.filter(builtin=True, is_active=True):
        if (old.key, old.version) not in shipped:
            old.is_active = False
            old.save(using=using, update_fields=["is_active"])
            changed += 1
    return changed


def assignable_instruments() -> list[Instrument]:
    """What a therapist can assign: active instruments, newest version of each, no feedback form."""
    newest: dict[str, Instrument] = {}
    rows = Instrument.objects.filter(is_active=True).exclude(key=FEEDBACK_KEY)
    for instrument in rows.order_by("key", "-imported_at", "-pk"):
        newest.setdefault(instrument.key, instrument)
    return sorted(newest.values(), key=lambda i: i.short_name.lower())


def feedback_instrument() -> Instrument | None:
    """The form a client is asked after each session (newest active version): the practice's
    chosen imported alliance measure, else Rapport's own feedback form."""
    chosen = Practice.get().after_session_instrument
    for key in ([chosen] if chosen else []) + [FEEDBACK_KEY]:
        instrument = (
            Instrument.objects.filter(key=key, is_active=True)
            .order_by("-imported_at", "-pk")
            .first()
        )
        if instrument is not None:
            return instrument
    return None


def import_instrument(
    admin: User,
    data: Mapping[str, Any],
    licence_record: str,
    *,
    request: HttpRequest | None = None,
) -> Instrument:
    """A practice admin adds an instrument the practice holds a licence for.

    Raises ``MeasureError`` listing every problem of the file.
    """
    if not admin.is_practice_admin:
        raise PermissionDenied("only practice admins import instruments")
    licence_record = licence_record.strip()
    if not licence_record:
        raise MeasureError(
            _("Record the licence: who holds it, its terms, and until when."), code="licence"
        )
    if len(licence_record) > LICENCE_RECORD_MAX:
        raise MeasureError(_("The licence record is too long."), code="licence")
    try:
        definition = load_definition(data)
    except DefinitionError as error:
        raise MeasureError(error.problems, code="definition") from error
    if Instrument.objects.filter(key=definition.key, builtin=True).exists():
        raise MeasureError(
            _("A built-in instrument already uses the key %(key)s.") % {"key": definition.key},
            code="builtin_key",
        )
    try:
        with transaction.atomic():
            instrument = Instrument.objects.create(
                key=definition.key,
                version=definition.version,
                name=definition.name,
                short_name=definition.short_name,
                definition=definition.to_json(),
                builtin=False,
                licence_record=licence_record,
                imported_by=admin,
            )
            record(
                Action.INSTRUMENT_IMPORTED,
                actor=admin,
                request=request,
                obj=instrument,
                key=definition.key,
                version=definition.version,
            )
    except IntegrityError:
        raise MeasureError(
            _("Version %(version)s of %(key)s is already imported.")
            % {"version": definition.version, "key": definition.key},
            code="duplicate",
        ) from None
    return instrument


def update_instrument(
    admin: User,
    instrument: Instrument,
    *,
    licence_record: str | None = None,
    is_active: bool | None = None,
    request: HttpRequest | None = None,
) -> Instrument:
    """Change an instrument's licence record or whether it is offered."""
    if not admin.is_practice_admin:
        raise PermissionDenied("only practice admins change instruments")
    fields = []
    if licence_record is not None:
        licence_record = licence_record.strip()
        if len(licence_record) > LICENCE_RECORD_MAX:
            raise MeasureError(_("The licence record is too long."), code="licence")
        if not licence_record and not instrument.builtin:
            raise MeasureError(
                _("An imported instrument needs its licence record."), code="licence"
            )
        instrument.licence_record = licence_record
        fields.append("licence_record")
    if is_active is not None:
        instrument.is_active = is_active
        fields.append("is_active")
    if fields:
        with transaction.atomic():
            instrument.save(update_fields=fields)
            record(
                Action.INSTRUMENT_CHANGED,
                actor=admin,
                request=request,
                obj=instrument,
                fields=fields,
                is_active=instrument.is_active,
            )
    return instrument
