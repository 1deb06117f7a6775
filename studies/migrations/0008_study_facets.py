"""Store each study's facet values (studies.facet_values keeps them) for the
catalogue's facet counts under filters; on PostgreSQL each list column gets a GIN
index, which the facet filters read."""

import django.db.models.deletion
from django.db import migrations, models

LISTS = ("disease", "target", "construct", "costim", "cell_source", "country")


def fill(apps, schema_editor):
    from studies.facet_values import refresh_facet_values

    refresh_facet_values(apps=apps)
    if schema_editor.connection.vendor == "postgresql":
        for name in LISTS:
            schema_editor.execute(
                f"CREATE INDEX study_facets_{name}_idx ON studies_studyfacets USING gin ({name})"
            )
        schema_editor.execute("CREATE INDEX study_facets_phase_idx ON studies_studyfacets (phase)")


def unfill(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        for name in (*LISTS, "phase"):
            schema_editor.execute(f"DROP INDEX IF EXISTS study_facets_{name}_idx")


class Migration(migrations.Migration):
    dependencies = [
        ("studies", "0007_study_search_document"),
    ]

    operations = [
        migrations.CreateModel(
            name="StudyFacets",
            fields=[
                (
                    "study",
                    models.OneToOneField(
                        on_delete=django.db.models.deletion.CASCADE,
                        primary_key=True,
                        related_name="+",
                        serialize=False,
                        to="studies.study",
                    ),
                ),
                ("phase", models.CharField(blank=True, max_length=10)),
                ("status", models.CharField(blank=True, max_length=30)),
                ("disease", models.JSONField(default=list)),
                ("target", models.JSONField(default=list)),
                ("construct", models.JSONField(default=list)),
                ("costim", models.JSONField(default=list)),
                ("cell_source", models.JSONField(default=list)),
                ("country", models.JSONField(default=list)),
            ],
            options={
                "verbose_name_plural": "study facets",
            },
        ),
        migrations.RunPython(fill, unfill),
    ]
