from django.apps import AppConfig


class LinksConfig(AppConfig):
    """Proposed identity links between patient reports and supersession of publications,
    reviewed before they change the live tables."""

    default_auto_field = "django.db.models.BigAutoField"
    name = "links"
    verbose_name = "Identity and supersession links"

    def ready(self):
        from . import suggestions

        suggestions.connect()
