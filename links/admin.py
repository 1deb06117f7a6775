from django.contrib import admin
from simple_history.admin import SimpleHistoryAdmin

from .models import DismissedSuggestion, LinkRequest


@admin.register(LinkRequest)
class LinkRequestAdmin(SimpleHistoryAdmin):
    """Read-only: link requests change through links.services, which also applies them."""

    list_display = ("pk", "kind", "action", "description", "proposer", "status", "reviewer",
                    "updated_at")
    list_filter = ("kind", "action", "status")
    list_select_related = ("proposer", "reviewer")
    search_fields = ("description", "proposer__username")
    readonly_fields = [field.name for field in LinkRequest._meta.fields]

    def has_add_permission(self, request):
        return False


@admin.register(DismissedSuggestion)
class DismissedSuggestionAdmin(admin.ModelAdmin):
    # Ids, not the patients' names: those cost a query per row (their publication's authors).
    list_display = ("pk", "patient_id", "other_patient_id", "dismissed_by", "dismissed_at")
    list_select_related = ("dismissed_by",)
    raw_id_fields = ("patient", "other_patient")
