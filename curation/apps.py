from django.apps import AppConfig
from django.db.models.signals import post_migrate


class CurationConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "curation"
    verbose_name = "Curation"

    def ready(self):
        from .roles import sync_roles_after_migrate

        # After a flush (transactional tests) the groups would be gone; Django
        # recreates permissions on post_migrate, and this recreates the roles.
        post_migrate.connect(sync_roles_after_migrate, sender=self)
