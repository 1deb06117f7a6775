from django.apps import AppConfig


class StudiesConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "studies"
    verbose_name = "Studies and curated results"

    def ready(self):
        from . import catalogue_counts, denormalized, facet_values, search_documents
        from .filtersets import codes

        denormalized.connect()
        search_documents.connect()
        facet_values.connect()
        catalogue_counts.connect()
        codes.connect()
