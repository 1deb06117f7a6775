from django.contrib import admin

from .models import RegistryRecord


@admin.register(RegistryRecord)
class RegistryRecordAdmin(admin.ModelAdmin):
    list_display = ["identifier", "title", "phase", "status", "sponsor", "imported_at"]
    list_filter = ["registry", "phase", "status"]
    search_fields = ["identifier", "title", "sponsor"]
    filter_horizontal = ["countries", "diseases"]
    readonly_fields = ["imported_by", "imported_at"]
