"""The facet value lists become text[] on PostgreSQL (studies.fields.CodeListField):
the catalogue unnests them several times faster than jsonb, and their GIN indexes
keep element statistics, so two filters' indexes combine. The columns are made anew
(jsonb has no cast to text[]) and filled again from the studies."""

from django.db import migrations

import studies.fields

LISTS = ("disease", "target", "construct", "costim", "cell_source", "country")


def fill(apps, schema_editor):
    """Fill the lists and index them (also backwards: the jsonb columns again)."""
    from studies.facet_values import refresh_facet_values

    refresh_facet_values(apps=apps)
    if schema_editor.connection.vendor == "postgresql":
        for name in LISTS:
            schema_editor.execute(
                f"CREATE INDEX study_facets_{name}_idx ON studies_studyfacets USING gin ({name})"
            )
        schema_editor.execute("ANALYZE studies_studyfacets")


def unfill(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        for name in LISTS:
            schema_editor.execute(f"DROP INDEX IF EXISTS study_facets_{name}_idx")


class Migration(migrations.Migration):
    dependencies = [
        ("studies", "0009_filtered_counts"),
    ]

    operations = [
        migrations.RunPython(migrations.RunPython.noop, fill),
        *(migrations.RemoveField(model_name="studyfacets", name=name) for name in LISTS),
        *(
            migrations.AddField(
                model_name="studyfacets", name=name, field=studies.fields.CodeListField()
            )
            for name in LISTS
        ),
        migrations.RunPython(fill, unfill),
    ]
