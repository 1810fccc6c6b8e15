"""PostgreSQL refuses overlapping live appointments of one therapist or one client.

SQLite has no exclusion constraints; there the IMMEDIATE write transactions of
``rapport.scheduling.booking`` serialize the same check.
"""

from django.contrib.postgres.operations import BtreeGistExtension
from django.db import migrations

LIVE = "('requested', 'confirmed', 'in_progress')"

CONSTRAINTS = [
    (
        "appointment_therapist_no_overlap",
        f"EXCLUDE USING gist (therapist_id WITH =, tstzrange(starts_at, busy_until) WITH &&) "
        f"WHERE (status IN {LIVE})",
    ),
    (
        "appointment_client_no_overlap",
        f"EXCLUDE USING gist (client_id WITH =, tstzrange(starts_at, ends_at) WITH &&) "
        f"WHERE (status IN {LIVE})",
    ),
]


def add_constraints(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name, definition in CONSTRAINTS:
        schema_editor.execute(
            f"ALTER TABLE scheduling_appointment ADD CONSTRAINT {name} {definition}"
        )


def drop_constraints(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name, _definition in CONSTRAINTS:
        schema_editor.execute(f"ALTER TABLE scheduling_appointment DROP CONSTRAINT {name}")


class Migration(migrations.Migration):
    dependencies = [("scheduling", "0001_initial")]

    operations = [
        BtreeGistExtension(),
        migrations.RunPython(add_constraints, drop_constraints),
    ]
