from django.apps import AppConfig


class DiscussionConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "discussion"
    verbose_name = "Discussion"
