"""A timeline line's detail (why a modality switched, the figures of a poor connection) is
encrypted like the rest of the client's record. Existing details are encrypted in place: the
plain column is renamed, the encrypted one added under the old name (ciphertext is bound to
its column's name), filled, and the plain one dropped."""

from typing import Any

from django.db import migrations

import rapport.core.encryption


def encrypt_details(apps: Any, schema_editor: Any) -> None:
    VisitEvent = apps.get_model("visits", "VisitEvent")
    rows = VisitEvent.objects.exclude(plain_detail="").values_list("pk", "plain_detail")
    for pk, plain in rows.iterator():
        VisitEvent.objects.filter(pk=pk).update(detail=plain)


def decrypt_details(apps: Any, schema_editor: Any) -> None:
    VisitEvent = apps.get_model("visits", "VisitEvent")
    for event in VisitEvent.objects.only("pk", "detail").iterator():
        if event.detail:
            VisitEvent.objects.filter(pk=event.pk).update(plain_detail=event.detail[:200])


class Migration(migrations.Migration):
    dependencies = [("visits", "0001_initial")]

    operations = [
        migrations.RenameField("visitevent", "detail", "plain_detail"),
        migrations.AddField(
            model_name="visitevent",
            name="detail",
            field=rapport.core.encryption.EncryptedTextField(blank=True, default=""),
        ),
        migrations.RunPython(encrypt_details, decrypt_details),
        migrations.RemoveField("visitevent", "plain_detail"),
    ]
