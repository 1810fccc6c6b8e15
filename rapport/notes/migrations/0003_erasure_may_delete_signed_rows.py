"""An erasure may delete a client's signed notes and their addenda, co-signatures and releases.

The triggers of 0002 are replaced by ones that let a DELETE through only while the deleting
transaction holds a row in ``notes_erasing`` naming the note's client (``models.erasing``): the
erasure's own, audited path. An UPDATE of a signed row is refused as before (key rotation's
marker aside), and so is every DELETE outside an erasure."""

from __future__ import annotations

from importlib import import_module
from typing import Any

from django.db import migrations, models

before = import_module("rapport.notes.migrations.0002_signed_rows_are_immutable")

NEVER_CHANGE = before.NEVER_CHANGE
MESSAGE = before.MESSAGE
REENCRYPTING = before.REENCRYPTING
NOTE_ERASED = "EXISTS (SELECT 1 FROM notes_erasing e WHERE e.client_id = OLD.client_id)"
PART_ERASED = (
    "EXISTS (SELECT 1 FROM notes_erasing e JOIN notes_note n ON n.client_id = e.client_id "
    "WHERE n.id = OLD.note_id)"
)


def sqlite_statements() -> list[str]:
    return [
        "CREATE TRIGGER notes_note_signed_no_update BEFORE UPDATE ON notes_note "
        f"FOR EACH ROW WHEN OLD.status = 'signed' AND NOT {REENCRYPTING} "
        f"BEGIN SELECT RAISE(ABORT, '{MESSAGE}'); END",
        "CREATE TRIGGER notes_note_signed_no_delete BEFORE DELETE ON notes_note "
        f"FOR EACH ROW WHEN OLD.status = 'signed' AND NOT {NOTE_ERASED} "
        f"BEGIN SELECT RAISE(ABORT, '{MESSAGE}'); END",
        *(
            f"CREATE TRIGGER {table}_no_update BEFORE UPDATE ON {table} "
            f"FOR EACH ROW WHEN NOT {REENCRYPTING} BEGIN SELECT RAISE(ABORT, '{MESSAGE}'); END"
            for table in NEVER_CHANGE
        ),
        *(
            f"CREATE TRIGGER {table}_no_delete BEFORE DELETE ON {table} "
            f"FOR EACH ROW WHEN NOT {PART_ERASED} BEGIN SELECT RAISE(ABORT, '{MESSAGE}'); END"
            for table in NEVER_CHANGE
        ),
    ]


def postgresql_statements() -> list[str]:
    refuse = f"RAISE EXCEPTION '{MESSAGE}' USING ERRCODE = 'integrity_constraint_violation'; "
    keep = "IF TG_OP = 'DELETE' THEN RETURN OLD; END IF; RETURN NEW; "
    return [
        "CREATE OR REPLACE FUNCTION notes_refuse_signed_change() RETURNS trigger AS $$ BEGIN "
        "IF OLD.status = 'signed' THEN "
        f"IF TG_OP = 'DELETE' AND NOT {NOTE_ERASED} THEN {refuse}END IF; "
        f"IF TG_OP = 'UPDATE' AND NOT {REENCRYPTING} THEN {refuse}END IF; "
        f"END IF; {keep}END $$ LANGUAGE plpgsql",
        "CREATE OR REPLACE FUNCTION notes_refuse_change() RETURNS trigger AS $$ BEGIN "
        f"IF TG_OP = 'DELETE' AND NOT {PART_ERASED} THEN {refuse}END IF; "
        f"IF TG_OP = 'UPDATE' AND NOT {REENCRYPTING} THEN {refuse}END IF; "
        f"{keep}END $$ LANGUAGE plpgsql",
    ]


def replace(apps: Any, schema_editor: Any) -> None:
    vendor = schema_editor.connection.vendor
    if vendor == "sqlite":
        before.drop(apps, schema_editor)
        statements = sqlite_statements()
    elif vendor == "postgresql":
        statements = postgresql_statements()  # the triggers call these functions by name
    else:
        raise NotImplementedError(f"no immutability triggers for {vendor}")
    for statement in statements:
        schema_editor.execute(statement)


def restore(apps: Any, schema_editor: Any) -> None:
    before.drop(apps, schema_editor)
    before.create(apps, schema_editor)


class Migration(migrations.Migration):
    dependencies = [("notes", "0002_signed_rows_are_immutable")]

    operations = [
        migrations.CreateModel(
            name="Erasing",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("client_id", models.BigIntegerField()),
            ],
        ),
        migrations.RunPython(replace, restore),
    ]
