from django.contrib import admin
from simple_history.admin import SimpleHistoryAdmin

from .models import Extraction, Reconciliation


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


@admin.register(Reconciliation)
class ReconciliationAdmin(SimpleHistoryAdmin):
    """Read-only: a reconciliation is the record of a reviewer's merge."""

    list_display = ("pk", "result", "reviewer", "agreement_percent", "created_at")
    list_select_related = ("result", "reviewer")
    readonly_fields = ("extraction_a", "extraction_b", "result", "reviewer", "decisions",
                       "compared_fields", "agreeing_fields", "agreement_percent", "created_at")

    def has_add_permission(self, request):
        return False
