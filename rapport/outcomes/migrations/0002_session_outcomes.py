"""Per-session facts and each episode's mean feedback, for the service page.

Episodes built before this have neither: they are marked as built under another rule (the page
says its figures are being rebuilt) and the worker is asked to rebuild them all
(``rapport.outcomes.tasks.rebuild_episodes``, as after a change of the episode gap).
"""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


def rebuild_in_the_worker(apps, schema_editor):
    episodes = apps.get_model("outcomes", "EpisodeOutcome").objects.using(
        schema_editor.connection.alias
    )
    if episodes.update(gap_days=0):
        from rapport.outcomes.tasks import rebuild_episodes

        rebuild_episodes.enqueue()


class Migration(migrations.Migration):
    dependencies = [
        ("outcomes", "0001_initial"),
        ("visits", "0007_checkin_at_home"),
        ("django_tasks_database", "0021_conditional_partial_index_ordering"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AddField(
            model_name="episodeoutcome",
            name="feedback_count",
            field=models.PositiveSmallIntegerField(default=0),
        ),
        migrations.AddField(
            model_name="episodeoutcome",
            name="feedback_mean",
            field=models.FloatField(null=True),
        ),
        migrations.CreateModel(
            name="SessionOutcome",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("modality", models.CharField(max_length=8)),
                ("step_down", models.BooleanField()),
                ("reconnects", models.PositiveSmallIntegerField()),
                ("minutes_lost", models.FloatField()),
                ("client_poor", models.BooleanField()),
                ("feedback", models.FloatField(null=True)),
                (
                    "client",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
                (
                    "therapist",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
                (
                    "visit",
                    models.OneToOneField(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="+",
                        to="visits.visit",
                    ),
                ),
            ],
            options={
                "indexes": [
                    models.Index(fields=["therapist"], name="outcomes_se_therapi_a603e3_idx")
                ],
            },
        ),
        migrations.RunPython(rebuild_in_the_worker, migrations.RunPython.noop),
    ]
