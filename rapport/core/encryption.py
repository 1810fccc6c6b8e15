"""Encryption at rest for free-text clinical content.

``EncryptedTextField`` stores AES-GCM ciphertext (see ``rapport.lib.crypto``) and hands Python code
plain ``str``. Values are bound to their column, so ciphertext moved elsewhere will not decrypt.
Such fields cannot be searched or ordered in SQL; keep anything that must be queried unencrypted
and non-clinical.
"""

from __future__ import annotations

from datetime import date
from functools import cache
from typing import Any

from django import forms
from django.conf import settings
from django.db import models
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models.expressions import Expression

from rapport.lib.crypto import KeyRing


@cache
def key_ring() -> KeyRing:
    return KeyRing.from_strings(list(settings.RAPPORT_ENCRYPTION_KEYS))


def reset_key_ring() -> None:
    key_ring.cache_clear()


class EncryptedTextField(models.TextField):  # type: ignore[type-arg]
    description = "Text encrypted at rest with the practice key ring"

    def _context(self) -> str:
        return f"{self.model._meta.label_lower}.{self.attname}"

    def get_prep_value(self, value: Any) -> Any:
        value = super().get_prep_value(value)
        if value is None:
            return None
        return key_ring().encrypt(str(value), self._context())

    def from_db_value(
        self, value: str | None, expression: Expression, connection: BaseDatabaseWrapper
    ) -> str | None:
        if value is None:
            return None
        return key_ring().decrypt(value, self._context())

    def get_lookup(self, lookup_name: str) -> Any:
        # Ciphertext is randomised: anything but a null check would silently match nothing.
        if lookup_name not in {"isnull"}:
            return None
        return super().get_lookup(lookup_name)


class EncryptedDateField(EncryptedTextField):
    """A calendar date (such as a birth date) encrypted at rest: its ISO text is what is stored,
    and Python code gets a ``date`` (or ``None``)."""

    description = "Date encrypted at rest with the practice key ring"
    # What django-stubs types the attribute and ``create()`` arguments as.
    _pyi_private_set_type: date | str | None  # type: ignore[assignment]
    _pyi_private_get_type: date | None  # type: ignore[assignment]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("null", True)
        kwargs.setdefault("blank", True)
        super().__init__(*args, **kwargs)

    def to_python(self, value: Any) -> date | None:
        if value is None or value == "":
            return None
        if isinstance(value, date):
            return value
        return date.fromisoformat(str(value))

    def get_prep_value(self, value: Any) -> Any:
        value = self.to_python(value)
        if value is None:
            return None
        return key_ring().encrypt(value.isoformat(), self._context())

    def from_db_value(  # type: ignore[override]
        self, value: str | None, expression: Expression, connection: BaseDatabaseWrapper
    ) -> date | None:
        plain = super().from_db_value(value, expression, connection)
        return self.to_python(plain)

    def formfield(self, **kwargs: Any) -> Any:
        kwargs.setdefault("form_class", forms.DateField)
        kwargs.setdefault("widget", forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"))
        return models.Field.formfield(self, **kwargs)


def encrypted_fields() -> list[tuple[type[models.Model], EncryptedTextField]]:
    from django.apps import apps

    found = []
    for model in apps.get_models():
        for field in model._meta.concrete_fields:
            if isinstance(field, EncryptedTextField):
                found.append((model, field))
    return found


def rotate_keys(batch_size: int = 500) -> dict[str, int]:
    """Re-encrypt every value not written with the current key. Returns rows changed per field."""
    from django.db import transaction

    ring = key_ring()
    current = ring.current_id
    changed: dict[str, int] = {}
    for model, field in encrypted_fields():
        label = f"{model._meta.label}.{field.name}"
        changed[label] = 0
        table = model._meta.db_table
        column = field.column
        last_pk: Any = None
        while True:
            # Read raw stored tokens so we only rewrite rows whose key id is not current.
            queryset = model._default_manager.order_by("pk")
            if last_pk is not None:
                queryset = queryset.filter(pk__gt=last_pk)
            pks = list(queryset.values_list("pk", flat=True)[:batch_size])
            if not pks:
                break
            last_pk = pks[-1]
            with transaction.atomic():
                from django.db import connection

                with connection.cursor() as cursor:
                    placeholders = ",".join(["%s"] * len(pks))
                    pk_column = model._meta.pk.column
                    cursor.execute(
                        f"SELECT {pk_column}, {column} FROM {table} "  # noqa: S608 (names from models)
                        f"WHERE {pk_column} IN ({placeholders})",
                        pks,
                    )
                    rows = cursor.fetchall()
                for pk, token in rows:
                    if token is None or KeyRing.key_id_of(token) == current:
                        continue
                    plain = ring.decrypt(token, field._context())
                    # A model whose rows the database guards (signed notes) says how to rewrite
                    # them; any other is updated directly.
                    rewrite = getattr(model, "rewrite_encrypted", None)
                    if rewrite is not None:
                        rewrite(pk, field.attname, plain)
                    else:
                        model._default_manager.filter(pk=pk).update(**{field.attname: plain})
                    changed[label] += 1
    return changed
