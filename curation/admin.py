from django.contrib import admin
from simple_history.admin import SimpleHistoryAdmin

from .models import Extraction


@admin.register(Extraction)
class ExtractionAdmin(SimpleHistoryAdmin):
    """Read-mostly: extractions change through the curation workflow, not here."""

    list_display = ("pk", "citation", "curator", "status", "reviewer", "version", "updated_at")
    list_filter = ("status",)
    list_select_related = ("curator", "reviewer")
    search_fields = ("curator__username", "payload__publication__doi")
    readonly_fields = ("publication", "curator", "status", "reviewer", "reviewer_comment",
                       "payload", "base", "version", "created_at", "updated_at",
                       "submitted_at", "reviewed_at")

    def has_add_permission(self, request):
        return False
