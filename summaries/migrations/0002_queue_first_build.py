"""Queue a full build of the summary tables: a database that already holds data gets
its summaries at the first refresh (the periodic sweep, or refresh_summaries)."""

from django.db import migrations
from django.utils import timezone


def queue_full_build(apps, schema_editor):
    PendingRefresh = apps.get_model("summaries", "PendingRefresh")
    PendingRefresh.objects.create(key="all", requested_at=timezone.now())


class Migration(migrations.Migration):
    dependencies = [("summaries", "0001_initial")]

    operations = [migrations.RunPython(queue_full_build, migrations.RunPython.noop)]
