"""Read-only views of the stored summaries and their bookkeeping, for operators."""

from django.contrib import admin

from .models import (
    ConstructSummary,
    DiseaseTargetSummary,
    PendingRefresh,
    RefreshRun,
    YearSummary,
)


class ReadOnlyAdmin(admin.ModelAdmin):
    """Rows written by the refresh only; an edit here would be overwritten anyway."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(DiseaseTargetSummary)
class DiseaseTargetSummaryAdmin(ReadOnlyAdmin):
    list_display = ["disease", "target_label", "studies", "publications", "patients",
                    "computed_at"]
    list_select_related = ["disease"]


@admin.register(ConstructSummary)
class ConstructSummaryAdmin(ReadOnlyAdmin):
    list_display = ["construct", "studies", "patients", "diseases", "computed_at"]
    list_select_related = ["construct"]


@admin.register(YearSummary)
class YearSummaryAdmin(ReadOnlyAdmin):
    list_display = ["year", "publications", "studies_first_reported", "patients", "computed_at"]


@admin.register(PendingRefresh)
class PendingRefreshAdmin(ReadOnlyAdmin):
    list_display = ["key", "requested_at", "enqueued_at", "claimed_at", "attempts"]


@admin.register(RefreshRun)
class RefreshRunAdmin(ReadOnlyAdmin):
    list_display = ["kind", "started_at", "finished_at", "studies", "summary_rows"]
    list_filter = ["kind"]
