"""PostgreSQL: take the schedule locks and look for a clash in one round trip.

When fifty people race for one slot, each loser holds the schedule lock only for this one call
and its rollback. Inside a VOLATILE function each statement takes a fresh snapshot (READ
COMMITTED), so the clash query sees whatever the previous lock holder committed. The lock keys are
those of ``rapport.scheduling.booking.lock_schedules``.
"""

from django.db import migrations

FUNCTION = """
CREATE OR REPLACE FUNCTION rapport_lock_and_find_clash(
    p_lock_space integer, p_therapist bigint, p_client bigint,
    p_starts timestamptz, p_ends timestamptz, p_busy_until timestamptz
) RETURNS text LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    first_key integer := least(mod(p_therapist, 2147483648), mod(p_client, 2147483648))::integer;
    second_key integer := greatest(mod(p_therapist, 2147483648), mod(p_client, 2147483648))::integer;
BEGIN
    PERFORM pg_advisory_xact_lock(p_lock_space, first_key);
    IF second_key <> first_key THEN
        PERFORM pg_advisory_xact_lock(p_lock_space, second_key);
    END IF;
    IF EXISTS (
        SELECT 1 FROM scheduling_appointment a
        WHERE a.client_id = p_client AND a.status IN ('requested', 'confirmed', 'in_progress')
          AND a.starts_at < p_ends AND a.ends_at > p_starts
    ) THEN
        RETURN 'client';
    END IF;
    IF EXISTS (
        SELECT 1 FROM scheduling_appointment a
        WHERE a.therapist_id = p_therapist AND a.status IN ('requested', 'confirmed', 'in_progress')
          AND a.starts_at < p_busy_until AND a.busy_until > p_starts
    ) THEN
        RETURN 'therapist';
    END IF;
    RETURN '';
END
$$;
"""

DROP = (
    "DROP FUNCTION IF EXISTS rapport_lock_and_find_clash("
    "integer, bigint, bigint, timestamptz, timestamptz, timestamptz)"
)


def create(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(FUNCTION)


def drop(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP)


class Migration(migrations.Migration):
    dependencies = [("scheduling", "0002_no_overlap_on_postgresql")]

    operations = [migrations.RunPython(create, drop)]
