"""Create the curator, reviewer and admin groups with their permissions."""

from django.contrib.auth.management import create_permissions
from django.db import migrations

from curation.roles import sync_roles


def create_roles(apps, schema_editor):
    # Permissions are normally created after all migrations ran; create them now so
    # the groups can hold them on a fresh database.
    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None
    sync_roles(apps)


def remove_roles(apps, schema_editor):
    apps.get_model("auth", "Group").objects.filter(
        name__in=["curator", "reviewer", "admin"]
    ).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("curation", "0001_initial"),
        ("studies", "0004_history"),
    ]

    operations = [migrations.RunPython(create_roles, remove_roles)]
