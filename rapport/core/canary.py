"""The key canary: proof that the configured key ring reads this database's encrypted data.

``write_key_canary`` runs after every ``migrate`` and writes the canary once, with the key ring
of that moment; ``key_ring_problems`` (``rapport check``) decrypts it, and the newest value of
every encrypted column, and names what the keys cannot read.
"""

from __future__ import annotations

from typing import Any

from django.db import DEFAULT_DB_ALIAS, connections

from rapport.core.encryption import encrypted_fields, key_ring
from rapport.core.models import KeyCanary
from rapport.lib.crypto import DecryptionError, KeyRing, KeyRingError

CANARY_TEXT = "Rapport key canary: this text decrypts only with the practice's keys."


def write_key_canary(using: str = DEFAULT_DB_ALIAS, **kwargs: Any) -> None:
    """post_migrate: write the canary if this database has none (never replace one: a canary
    written with the wrong key would hide that the keys do not match the data)."""
    if KeyCanary._meta.db_table not in connections[using].introspection.table_names():
        return  # migrated backwards, or only part of the way
    KeyCanary.objects.using(using).get_or_create(id=1, defaults={"value": CANARY_TEXT})


def key_ring_problems() -> list[str]:
    """What the configured keys cannot read in this database (empty: they are its keys)."""
    try:
        ring = key_ring()
    except KeyRingError:
        return []  # reported with the configuration
    problems = []
    try:
        canary = KeyCanary.objects.filter(id=1).first()
    except DecryptionError:
        problems.append(
            "RAPPORT_ENCRYPTION_KEYS cannot decrypt the key canary: these are not the keys this "
            "database was encrypted with (restored with the wrong key, or a key removed before "
            "'rapport keys rotate' finished). Nothing encrypted can be read."
        )
    else:
        if canary is None:
            problems.append(
                "the database has no key canary: run 'rapport manage migrate' to write one."
            )
        elif canary.value != CANARY_TEXT:
            problems.append("the key canary decrypts to the wrong text.")
    unreadable = _unreadable_columns(ring)
    if unreadable:
        problems.append(
            "RAPPORT_ENCRYPTION_KEYS cannot decrypt the newest value of "
            + ", ".join(unreadable)
            + ": add the key that wrote it."
        )
    return problems


def _unreadable_columns(ring: KeyRing) -> list[str]:
    """Encrypted columns whose newest value none of the keys decrypts (one row per column)."""
    unreadable = []
    for model, field in encrypted_fields():
        if model is KeyCanary:
            continue
        newest = (
            model._default_manager.filter(**{f"{field.attname}__isnull": False})
            .order_by("-pk")
            .values_list("pk", flat=True)
            .first()
        )
        if newest is None:
            continue
        with connections[DEFAULT_DB_ALIAS].cursor() as cursor:
            cursor.execute(
                f"SELECT {field.column} FROM {model._meta.db_table} "  # noqa: S608 (names from models)
                f"WHERE {model._meta.pk.column} = %s",
                [newest],
            )
            (token,) = cursor.fetchone()
        try:
            ring.decrypt(token, field._context())
        except DecryptionError:
            unreadable.append(f"{model._meta.label}.{field.name}")
    return unreadable
