"""The database refuses UPDATE and DELETE of a signed note, and of any addendum, co-signature
or release (those are signed when written), on SQLite and PostgreSQL alike.

The one UPDATE let through is key rotation's, while its transaction holds a row in
``notes_reencryption`` (``models.Reencrypted``): the same text under the new key."""

from __future__ import annotations

from typing import Any

from django.db import migrations

NEVER_CHANGE = ["notes_addendum", "notes_cosignature", "notes_release"]
MESSAGE = "signed notes and their addenda, co-signatures and releases never change"


REENCRYPTING = "EXISTS (SELECT 1 FROM notes_reencryption)"


def sqlite_statements() -> list[str]:
    statements = []
    for op in ("UPDATE", "DELETE"):
        rotation = f" AND NOT {REENCRYPTING}" if op == "UPDATE" else ""
        statements.append(
            f"CREATE TRIGGER notes_note_signed_no_{op.lower()} BEFORE {op} ON notes_note "
            f"FOR EACH ROW WHEN OLD.status = 'signed'{rotation} "
            f"BEGIN SELECT RAISE(ABORT, '{MESSAGE}'); END"
        )
        for table in NEVER_CHANGE:
            when = f" WHEN NOT {REENCRYPTING}" if op == "UPDATE" else ""
            statements.append(
                f"CREATE TRIGGER {table}_no_{op.lower()} BEFORE {op} ON {table} "
                f"FOR EACH ROW{when} BEGIN SELECT RAISE(ABORT, '{MESSAGE}'); END"
            )
    return statements


def postgresql_statements() -> list[str]:
    refuse = f"RAISE EXCEPTION '{MESSAGE}' USING ERRCODE = 'integrity_constraint_violation'; "
    keep = "IF TG_OP = 'DELETE' THEN RETURN OLD; END IF; RETURN NEW; "
    statements = [
        # Notes: only once signed.
        "CREATE FUNCTION notes_refuse_signed_change() RETURNS trigger AS $$ BEGIN "
        "IF OLD.status = 'signed' THEN "
        f"IF TG_OP = 'DELETE' OR NOT {REENCRYPTING} THEN {refuse}END IF; "
        f"END IF; {keep}END $$ LANGUAGE plpgsql",
        # Addenda, co-signatures, releases: always (they are signed when written).
        "CREATE FUNCTION notes_refuse_change() RETURNS trigger AS $$ BEGIN "
        f"IF TG_OP = 'DELETE' OR NOT {REENCRYPTING} THEN {refuse}END IF; "
        f"{keep}END $$ LANGUAGE plpgsql",
        "CREATE TRIGGER notes_note_immutable BEFORE UPDATE OR DELETE ON notes_note "
        "FOR EACH ROW EXECUTE FUNCTION notes_refuse_signed_change()",
    ]
    for table in NEVER_CHANGE:
        statements.append(
            f"CREATE TRIGGER {table}_immutable BEFORE UPDATE OR DELETE ON {table} "
            "FOR EACH ROW EXECUTE FUNCTION notes_refuse_change()"
        )
    return statements


def create(apps: Any, schema_editor: Any) -> None:
    vendor = schema_editor.connection.vendor
    if vendor == "sqlite":
        statements = sqlite_statements()
    elif vendor == "postgresql":
        statements = postgresql_statements()
    else:
        raise NotImplementedError(f"no immutability triggers for {vendor}")
    for statement in statements:
        schema_editor.execute(statement)


def drop(apps: Any, schema_editor: Any) -> None:
    vendor = schema_editor.connection.vendor
    if vendor == "sqlite":
        for op in ("update", "delete"):
            schema_editor.execute(f"DROP TRIGGER IF EXISTS notes_note_signed_no_{op}")
            for table in NEVER_CHANGE:
                schema_editor.execute(f"DROP TRIGGER IF EXISTS {table}_no_{op}")
    elif vendor == "postgresql":
        for table in ["notes_note", *NEVER_CHANGE]:
            schema_editor.execute(f"DROP TRIGGER IF EXISTS {table}_immutable ON {table}")
        schema_editor.execute("DROP FUNCTION IF EXISTS notes_refuse_change()")
        schema_editor.execute("DROP FUNCTION IF EXISTS notes_refuse_signed_change()")


class Migration(migrations.Migration):
    dependencies = [("notes", "0001_initial")]

    operations = [migrations.RunPython(create, drop)]
