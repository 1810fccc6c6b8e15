"""Clinical facts about risk leave their plaintext columns.

``Response.risk_positive`` goes: the same fact is in the encrypted result (its risk items).
``SafetyAlert.kind`` is encrypted in place: existing rows are read raw and written back through
the encrypted field. Reversing decrypts the kinds and recomputes ``risk_positive``.
"""

import json

from django.db import migrations

import rapport.core.encryption

KIND_CONTEXT = "measures.safetyalert.kind"


def encrypt_kinds(apps, schema_editor):  # type: ignore[no-untyped-def]
    SafetyAlert = apps.get_model("measures", "SafetyAlert")
    with schema_editor.connection.cursor() as cursor:
        cursor.execute("SELECT id, kind FROM measures_safetyalert")
        rows = cursor.fetchall()
    for pk, kind in rows:
        if not kind.startswith("enc1$"):
            SafetyAlert.objects.filter(pk=pk).update(kind=kind)  # the field encrypts it


def decrypt_kinds(apps, schema_editor):  # type: ignore[no-untyped-def]
    ring = rapport.core.encryption.key_ring()
    with schema_editor.connection.cursor() as cursor:
        cursor.execute("SELECT id, kind FROM measures_safetyalert")
        for pk, kind in cursor.fetchall():
            if kind.startswith("enc1$"):
                cursor.execute(
                    "UPDATE measures_safetyalert SET kind = %s WHERE id = %s",
                    [ring.decrypt(kind, KIND_CONTEXT), pk],
                )


def restore_risk_positive(apps, schema_editor):  # type: ignore[no-untyped-def]
    Response = apps.get_model("measures", "Response")
    for response in Response.objects.only("pk", "result"):
        if json.loads(response.result)["risk_items"]:
            Response.objects.filter(pk=response.pk).update(risk_positive=True)


class Migration(migrations.Migration):
    dependencies = [("measures", "0003_safetyalert_escalated_to_therapists")]

    operations = [
        migrations.AlterField(
            model_name="safetyalert",
            name="kind",
            field=rapport.core.encryption.EncryptedTextField(
                choices=[("risk", "Risk answer"), ("feedback", "Drop in session feedback")],
                default="risk",
            ),
        ),
        migrations.RunPython(encrypt_kinds, decrypt_kinds),
        migrations.RunPython(migrations.RunPython.noop, restore_risk_positive),
        migrations.RemoveField(model_name="response", name="risk_positive"),
    ]
