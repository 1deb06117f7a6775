from drf_spectacular.utils import extend_schema_serializer
from rest_framework import serializers

from ..models import BODY_MAX_LENGTH, COMMENTABLE, LOCATION_MAX_LENGTH, Comment, CommentKind


class CommentSerializer(serializers.ModelSerializer):
    """A comment as the API shows it; ``parent`` is null for the first comment of a
    thread, which carries the thread's resolved state."""

    target_type = serializers.ChoiceField(
        choices=COMMENTABLE, read_only=True,
        help_text="The type of record commented on, as app_label.model.",
    )
    author = serializers.CharField(source="author.get_username", read_only=True)
    resolved = serializers.BooleanField(source="is_resolved", read_only=True)
    resolved_by = serializers.CharField(source="resolved_by.get_username", read_only=True,
                                        allow_null=True, default=None)

    class Meta:
        model = Comment
        fields = [
            "id", "target_type", "object_id", "parent", "kind", "body", "location", "author",
            "created_at", "resolved", "resolved_at", "resolved_by",
        ]
        read_only_fields = fields


# Documented as the request side of "Comment" (CommentRequest): its "kind" choices then
# belong to one component and get a proper enum name (other "kind" fields exist).
@extend_schema_serializer(component_name="Comment")
class CommentCreateSerializer(serializers.Serializer):
    """Name the record (target_type and object_id) for a new thread, or the thread's
    first comment (parent) for a reply."""

    target_type = serializers.ChoiceField(choices=COMMENTABLE, required=False,
                                          help_text="app_label.model of the record.")
    object_id = serializers.IntegerField(min_value=1, required=False,
                                         help_text="The record's id.")
    parent = serializers.IntegerField(min_value=1, required=False, allow_null=True,
                                      help_text="For a reply: the thread's first comment.")
    kind = serializers.ChoiceField(choices=CommentKind.choices, default=CommentKind.NOTE)
    body = serializers.CharField(max_length=BODY_MAX_LENGTH)
    location = serializers.CharField(max_length=LOCATION_MAX_LENGTH, required=False,
                                     allow_blank=True, default="",
                                     help_text="e.g. 'patients[2].outcomes[0].value' or "
                                     "'Table 2'.")
