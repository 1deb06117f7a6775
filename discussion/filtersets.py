"""Filters of the comment list (the API's ?target_type=&object_id=...)."""

import django_filters
from django.contrib.contenttypes.models import ContentType

from .models import COMMENTABLE, Comment, CommentKind


class CommentFilterSet(django_filters.FilterSet):
    target_type = django_filters.ChoiceFilter(
        choices=[(label, label) for label in COMMENTABLE], method="filter_target_type",
        label="Only comments on this type of record (app_label.model).",
    )
    object_id = django_filters.NumberFilter(label="Only comments on the record with this id.")
    kind = django_filters.ChoiceFilter(choices=CommentKind.choices)
    resolved = django_filters.BooleanFilter(
        field_name="resolved_at", lookup_expr="isnull", exclude=True,
        label="Only resolved (true) or open (false) threads; replies count as open.",
    )
    parent = django_filters.NumberFilter(label="Only the replies to this comment.")

    class Meta:
        model = Comment
        fields = ["target_type", "object_id", "kind", "resolved", "parent"]

    def filter_target_type(self, queryset, name, value):
        app_label, model = value.split(".")
        return queryset.filter(content_type=ContentType.objects.get_by_natural_key(
            app_label, model))
