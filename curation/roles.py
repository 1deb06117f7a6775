"""The three roles, as Django groups holding permissions.

Code asks for permissions (``user.has_perm("curation.review_extraction")``), never
for group names, so a user can hold several roles and a superuser holds all.
``sync_roles`` is run by a data migration and again after every migrate or flush
(tests), so the groups always carry exactly these permissions.
"""

from django.apps import apps as global_apps

CURATOR = "curator"
REVIEWER = "reviewer"
ADMIN = "admin"

# Permission codenames per role, as "app_label.codename".
ROLE_PERMISSIONS: dict[str, tuple[str, ...]] = {
    # Creates extractions and edits their own drafts.
    CURATOR: (
        "curation.add_extraction",
        "curation.change_extraction",
        "curation.view_extraction",
    ),
    # Accepts or rejects other curators' submissions; reverts live records.
    REVIEWER: (
        "curation.view_extraction",
        "curation.review_extraction",
        "curation.revert_record",
    ),
}
# The admin role holds every permission of these apps (and thus the Django admin's
# change pages, for users who are also staff).
ADMIN_APPS = ("curation", "studies")


def sync_roles(apps=global_apps) -> None:
    """Create the role groups and give each exactly its permissions (idempotent)."""
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for role, names in ROLE_PERMISSIONS.items():
        group, _ = Group.objects.get_or_create(name=role)
        wanted = []
        for name in names:
            app_label, codename = name.split(".")
            wanted.extend(
                Permission.objects.filter(content_type__app_label=app_label, codename=codename)
            )
        group.permissions.set(wanted)
    admin, _ = Group.objects.get_or_create(name=ADMIN)
    admin.permissions.set(Permission.objects.filter(content_type__app_label__in=ADMIN_APPS))


def sync_roles_after_migrate(sender, apps=global_apps, **kwargs) -> None:
    """post_migrate receiver: permissions exist by now (Django creates them first)."""
    sync_roles(apps)
