"""The cache table (sign-in rate limits, lockouts, used TOTP codes), made by ``migrate``: the cache
is always the database's now, with or without Redis (rapport/settings.py, CACHES)."""

from typing import Any

from django.core.management import call_command
from django.db import migrations


def create_cache_table(apps: Any, schema_editor: Any) -> None:
    # Does nothing when the table exists (every installation without Redis already has it).
    call_command("createcachetable", database=schema_editor.connection.alias, verbosity=0)


class Migration(migrations.Migration):
    dependencies = [("core", "0001_pending_event")]

    operations = [migrations.RunPython(create_cache_table, migrations.RunPython.noop)]
