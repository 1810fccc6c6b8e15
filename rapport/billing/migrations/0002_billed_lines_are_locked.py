"""The database refuses to change a billed line's billing facts, or to delete a billed line, on
SQLite and PostgreSQL alike. A correction is a credit line and a new charge (services.py).

Columns added later by other migrations (not listed here) stay writable. The one DELETE let
through is an erasure of the client's record, while its transaction holds the notes app's
``notes_erasing`` marker naming the client (``rapport.notes.models.erasing``)."""

from __future__ import annotations

from typing import Any

from django.db import migrations

MESSAGE = "a billed line never changes: correct it with a credit line"
LOCKED_COLUMNS = [
    "client_id",
    "therapist_id",
    "appointment_id",
    "visit_id",
    "item",
    "date_of_service",
    "cpt_code",
    "add_ons",
    "modifiers",
    "place_of_service",
    "diagnosis_codes",
    "units",
    "fee",
    "currency",
    "status",
    "kind",
    "corrects_id",
    "created_by_id",
    "created_at",
    "confirmed_by_id",
    "confirmed_at",
    "billed_at",
]
ERASING = "EXISTS (SELECT 1 FROM notes_erasing e WHERE e.client_id = OLD.client_id)"


def sqlite_statements() -> list[str]:
    changed = " OR ".join(f"NEW.{c} IS NOT OLD.{c}" for c in LOCKED_COLUMNS)
    return [
        "CREATE TRIGGER billing_line_billed_no_update BEFORE UPDATE ON billing_billingline "
        f"FOR EACH ROW WHEN OLD.status = 'billed' AND ({changed}) "
        f"BEGIN SELECT RAISE(ABORT, '{MESSAGE}'); END",
        "CREATE TRIGGER billing_line_billed_no_delete BEFORE DELETE ON billing_billingline "
        f"FOR EACH ROW WHEN OLD.status = 'billed' AND NOT {ERASING} "
        f"BEGIN SELECT RAISE(ABORT, '{MESSAGE}'); END",
    ]


def postgresql_statements() -> list[str]:
    changed = " OR ".join(f"NEW.{c} IS DISTINCT FROM OLD.{c}" for c in LOCKED_COLUMNS)
    refuse = f"RAISE EXCEPTION '{MESSAGE}' USING ERRCODE = 'integrity_constraint_violation'; "
    return [
        "CREATE FUNCTION billing_refuse_billed_change() RETURNS trigger AS $$ BEGIN "
        "IF OLD.status = 'billed' THEN "
        f"IF TG_OP = 'DELETE' AND NOT {ERASING} THEN {refuse}END IF; "
        f"IF TG_OP = 'UPDATE' AND ({changed}) THEN {refuse}END IF; "
        "END IF; IF TG_OP = 'DELETE' THEN RETURN OLD; END IF; RETURN NEW; END $$ LANGUAGE plpgsql",
        "CREATE TRIGGER billing_line_billed_locked BEFORE UPDATE OR DELETE ON billing_billingline "
        "FOR EACH ROW EXECUTE FUNCTION billing_refuse_billed_change()",
    ]


def create(apps: Any, schema_editor: Any) -> None:
    vendor = schema_editor.connection.vendor
    if vendor == "sqlite":
        statements = sqlite_statements()
    elif vendor == "postgresql":
        statements = postgresql_statements()
    else:
        raise NotImplementedError(f"no billing lock triggers for {vendor}")
    for statement in statements:
        schema_editor.execute(statement)


def drop(apps: Any, schema_editor: Any) -> None:
    vendor = schema_editor.connection.vendor
    if vendor == "sqlite":
        schema_editor.execute("DROP TRIGGER IF EXISTS billing_line_billed_no_update")
        schema_editor.execute("DROP TRIGGER IF EXISTS billing_line_billed_no_delete")
    elif vendor == "postgresql":
        schema_editor.execute(
            "DROP TRIGGER IF EXISTS billing_line_billed_locked ON billing_billingline"
        )
        schema_editor.execute("DROP FUNCTION IF EXISTS billing_refuse_billed_change()")


class Migration(migrations.Migration):
    dependencies = [
        ("billing", "0001_fee_schedule_and_billing_lines"),
        ("notes", "0003_erasure_may_delete_signed_rows"),
    ]

    operations = [migrations.RunPython(create, drop)]
