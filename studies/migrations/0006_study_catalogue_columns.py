"""Store first_year and patient_count on the study (studies.denormalized keeps them)
and the unfiltered catalogue's facet counts (studies.catalogue_counts)."""

from django.conf import settings
from django.db import migrations, models

# The same values as studies.denormalized.refresh_study_counts, in SQL that SQLite and
# PostgreSQL both run.
BACKFILL = """
UPDATE studies_study SET
  first_year = (SELECT MIN(p.year) FROM studies_studyreport r
                  JOIN studies_publication p ON p.id = r.publication_id
                 WHERE r.study_id = studies_study.id),
  patient_count = (SELECT SUM(a.n_patients) FROM studies_arm a
                    WHERE a.study_id = studies_study.id)
"""
# The single counts row, not yet counted (counted_version -1 against version 0).
COUNTS_ROW = (
    "INSERT INTO studies_cataloguecounts (id, version, counted_version, counts) "
    "VALUES (1, 0, -1, '{}')"
)


class Migration(migrations.Migration):

    dependencies = [
        ('studies', '0005_filter_indexes'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name='CatalogueCounts',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('version', models.BigIntegerField(default=0)),
                ('counted_version', models.BigIntegerField(default=-1)),
                ('counts', models.JSONField(default=dict)),
            ],
            options={
                'verbose_name_plural': 'catalogue counts',
            },
        ),
        migrations.RunSQL(COUNTS_ROW, migrations.RunSQL.noop),
        migrations.AddField(
            model_name='study',
            name='first_year',
            field=models.PositiveSmallIntegerField(editable=False, help_text="Year of the study's earliest publication.", null=True),
        ),
        migrations.AddField(
            model_name='study',
            name='patient_count',
            field=models.IntegerField(editable=False, help_text='Patients treated, summed over the arms.', null=True),
        ),
        migrations.RunSQL(BACKFILL, migrations.RunSQL.noop),
        migrations.AddIndex(
            model_name='study',
            index=models.Index(fields=['-first_year', 'title'], name='study_first_year_title_idx'),
        ),
    ]
