"""A one-off assignment now ends when its questionnaire is sent: end those already sent."""

from django.db import migrations
from django.db.models import Max


def end_sent_one_offs(apps, schema_editor):  # type: ignore[no-untyped-def]
    Assignment = apps.get_model("measures", "Assignment")
    sent = (
        Assignment.objects.filter(schedule="once", is_active=True, tasks__status="done")
        .exclude(tasks__status="open")
        .annotate(sent_at=Max("tasks__completed_at"))
    )
    for assignment in sent:
        assignment.is_active = False
        assignment.ended_at = assignment.sent_at
        assignment.save(update_fields=["is_active", "ended_at"])


class Migration(migrations.Migration):
    dependencies = [("measures", "0001_initial")]

    operations = [migrations.RunPython(end_sent_one_offs, migrations.RunPython.noop)]
