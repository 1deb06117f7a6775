from django.contrib import admin
from simple_history.admin import SimpleHistoryAdmin

from .models import Comment


@admin.register(Comment)
class CommentAdmin(SimpleHistoryAdmin):
    list_display = ("id", "kind", "content_type", "object_id", "author", "created_at",
                    "resolved_at")
    list_filter = ("kind", "content_type")
    list_select_related = ("content_type", "author")
    search_fields = ("body", "location")
    raw_id_fields = ("parent", "author", "resolved_by")

    def has_delete_permission(self, request, obj=None) -> bool:
        # Discussion is part of the record's story: only a superuser may remove one.
        return request.user.is_superuser
