"""French and German left the language picker (their translations were never complete): the
people who had chosen them read English, as they in fact did, until those languages return."""

from django.apps.registry import Apps
from django.db import migrations
from django.db.backends.base.schema import BaseDatabaseSchemaEditor

RETIRED = ["fr", "de"]


def to_english(apps: Apps, schema_editor: BaseDatabaseSchemaEditor) -> None:
    user = apps.get_model("accounts", "User")
    user.objects.filter(language__in=RETIRED).update(language="en")


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0010_user_clock_and_two_languages"),
    ]

    operations = [
        migrations.RunPython(to_english, migrations.RunPython.noop),
    ]
