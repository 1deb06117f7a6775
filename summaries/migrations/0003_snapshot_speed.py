"""Faster refreshes: snapshot rows without database constraints and with fewer
indexes, rates keyed by their group, the diseases of each study. The snapshot is
emptied and a full rebuild queued (the next refresh or sweep runs it)."""

import django.db.models.deletion
from django.db import migrations, models
from django.utils import timezone


def empty_snapshot_and_queue_rebuild(apps, schema_editor):
    for name in ("ContributionRate", "LatestValue", "Contribution", "PooledPatient",
                 "PooledArmConstruct", "PooledArm", "PooledSource", "PooledReport",
                 "PooledStudy"):
        apps.get_model("summaries", name).objects.all().delete()
    apps.get_model("summaries", "PendingRefresh").objects.create(
        key="all", requested_at=timezone.now()
    )


class Migration(migrations.Migration):

    dependencies = [
        ('studies', '0004_history'),
        ('summaries', '0002_queue_first_build'),
    ]

    operations = [
        migrations.CreateModel(
            name='PooledDisease',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
            ],
        ),
        migrations.RemoveIndex(
            model_name='latestvalue',
            name='summaries_l_disease_05ea19_idx',
        ),
        migrations.AddField(
            model_name='contributionrate',
            name='disease',
            field=models.ForeignKey(db_constraint=False, db_index=False, default=0, on_delete=django.db.models.deletion.DO_NOTHING, related_name='+', to='studies.disease'),
            preserve_default=False,
        ),
        migrations.AddField(
            model_name='contributionrate',
            name='study',
            field=models.ForeignKey(db_constraint=False, default=0, on_delete=django.db.models.deletion.DO_NOTHING, related_name='+', to='summaries.pooledstudy'),
            preserve_default=False,
        ),
        migrations.AddField(
            model_name='contributionrate',
            name='target_key',
            field=models.CharField(default='', max_length=200),
            preserve_default=False,
        ),
        migrations.AlterField(
            model_name='contribution',
            name='arm',
            field=models.ForeignKey(db_constraint=False, on_delete=django.db.models.deletion.DO_NOTHING, related_name='contributions', to='summaries.pooledarm'),
        ),
        migrations.AlterField(
            model_name='contribution',
            name='disease',
            field=models.ForeignKey(db_constraint=False, db_index=False, on_delete=django.db.models.deletion.DO_NOTHING, related_name='+', to='studies.disease'),
        ),
        migrations.AlterField(
            model_name='contribution',
            name='study',
            field=models.ForeignKey(db_constraint=False, on_delete=django.db.models.deletion.DO_NOTHING, related_name='contributions', to='summaries.pooledstudy'),
        ),
        migrations.AlterField(
            model_name='contributionrate',
            name='contribution',
            field=models.ForeignKey(db_constraint=False, on_delete=django.db.models.deletion.DO_NOTHING, related_name='rates', to='summaries.contribution'),
        ),
        migrations.AlterField(
            model_name='contributionrate',
            name='measure',
            field=models.ForeignKey(db_constraint=False, db_index=False, null=True, on_delete=django.db.models.deletion.DO_NOTHING, related_name='+', to='studies.outcomemeasure'),
        ),
        migrations.AlterField(
            model_name='latestvalue',
            name='disease',
            field=models.ForeignKey(db_constraint=False, db_index=False, on_delete=django.db.models.deletion.DO_NOTHING, related_name='+', to='studies.disease'),
        ),
        migrations.AlterField(
            model_name='latestvalue',
            name='measure',
            field=models.ForeignKey(db_constraint=False, db_index=False, on_delete=django.db.models.deletion.DO_NOTHING, related_name='+', to='studies.outcomemeasure'),
        ),
        migrations.AlterField(
            model_name='latestvalue',
            name='patient',
            field=models.ForeignKey(db_constraint=False, db_index=False, on_delete=django.db.models.deletion.DO_NOTHING, related_name='values', to='summaries.pooledpatient'),
        ),
        migrations.AlterField(
            model_name='latestvalue',
            name='study',
            field=models.ForeignKey(db_constraint=False, on_delete=django.db.models.deletion.DO_NOTHING, related_name='+', to='summaries.pooledstudy'),
        ),
        migrations.AlterField(
            model_name='pooledarm',
            name='disease',
            field=models.ForeignKey(db_constraint=False, db_index=False, on_delete=django.db.models.deletion.DO_NOTHING, related_name='+', to='studies.disease'),
        ),
        migrations.AlterField(
            model_name='pooledarm',
            name='study',
            field=models.ForeignKey(db_constraint=False, on_delete=django.db.models.deletion.DO_NOTHING, related_name='arms', to='summaries.pooledstudy'),
        ),
        migrations.AlterField(
            model_name='pooledarmconstruct',
            name='arm',
            field=models.ForeignKey(db_constraint=False, on_delete=django.db.models.deletion.DO_NOTHING, related_name='constructs', to='summaries.pooledarm'),
        ),
        migrations.AlterField(
            model_name='pooledpatient',
            name='arm',
            field=models.ForeignKey(db_constraint=False, on_delete=django.db.models.deletion.DO_NOTHING, related_name='patients', to='summaries.pooledarm'),
        ),
        migrations.AlterField(
            model_name='pooledpatient',
            name='disease',
            field=models.ForeignKey(db_constraint=False, db_index=False, help_text='The primary disease.', on_delete=django.db.models.deletion.DO_NOTHING, related_name='+', to='studies.disease'),
        ),
        migrations.AlterField(
            model_name='pooledpatient',
            name='study',
            field=models.ForeignKey(db_constraint=False, on_delete=django.db.models.deletion.DO_NOTHING, related_name='patients', to='summaries.pooledstudy'),
        ),
        migrations.AlterField(
            model_name='pooledreport',
            name='study',
            field=models.ForeignKey(db_constraint=False, on_delete=django.db.models.deletion.DO_NOTHING, related_name='reports', to='summaries.pooledstudy'),
        ),
        migrations.AlterField(
            model_name='pooledsource',
            name='disease',
            field=models.ForeignKey(db_constraint=False, db_index=False, help_text="The arm's disease.", on_delete=django.db.models.deletion.DO_NOTHING, related_name='+', to='studies.disease'),
        ),
        migrations.AlterField(
            model_name='pooledsource',
            name='study',
            field=models.ForeignKey(db_constraint=False, db_index=False, on_delete=django.db.models.deletion.DO_NOTHING, related_name='+', to='summaries.pooledstudy'),
        ),
        migrations.AddIndex(
            model_name='contributionrate',
            index=models.Index(fields=['disease', 'target_key', 'measure'], name='summaries_c_disease_fa3865_idx'),
        ),
        migrations.AddIndex(
            model_name='latestvalue',
            index=models.Index(fields=['disease', 'target_key', 'measure', 'value'], name='summaries_l_disease_0825ac_idx'),
        ),
        migrations.AddField(
            model_name='pooleddisease',
            name='disease',
            field=models.ForeignKey(db_constraint=False, on_delete=django.db.models.deletion.DO_NOTHING, related_name='+', to='studies.disease'),
        ),
        migrations.AddField(
            model_name='pooleddisease',
            name='study',
            field=models.ForeignKey(db_constraint=False, on_delete=django.db.models.deletion.DO_NOTHING, related_name='diseases', to='summaries.pooledstudy'),
        ),
        # Last: the constraints are gone, so deleting leaves no deferred checks behind.
        migrations.RunPython(empty_snapshot_and_queue_rebuild, migrations.RunPython.noop),
    ]
