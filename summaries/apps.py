from django.apps import AppConfig


class SummariesConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "summaries"
    verbose_name = "Stored summaries"

    def ready(self):
        from . import signals

        signals.connect()
