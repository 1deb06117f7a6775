from rest_framework import serializers

from ..models import Extraction


class ExtractionSerializer(serializers.ModelSerializer):
    """An extraction as the API shows it; ``payload`` is a study bundle document."""

    curator = serializers.CharField(source="curator.get_username", read_only=True)
    reviewer = serializers.CharField(source="reviewer.get_username", read_only=True,
                                     allow_null=True, default=None)
    citation = serializers.CharField(read_only=True)
    payload = serializers.JSONField(help_text="A study bundle (see /api/v1/bundles/schema.json); "
                                    "it may be incomplete while the extraction is a draft.")

    class Meta:
        model = Extraction
        fields = [
            "id", "publication", "citation", "curator", "status", "reviewer",
            "reviewer_comment", "payload", "version", "created_at", "updated_at",
            "submitted_at", "reviewed_at",
        ]
        read_only_fields = fields


class ExtractionCreateSerializer(serializers.Serializer):
    payload = serializers.JSONField(help_text="A study bundle; its publication needs a DOI "
                                    "or PMID, the rest may come later.")


class ExtractionUpdateSerializer(serializers.Serializer):
    payload = serializers.JSONField()
    version = serializers.IntegerField(min_value=1, help_text="The version you read. If the "
                                       "extraction changed since, nothing is saved (409).")


class TransitionSerializer(serializers.Serializer):
    version = serializers.IntegerField(min_value=1, help_text="The version you read.")
    comment = serializers.CharField(required=False, allow_blank=True, default="",
                                    help_text="The reviewer's comment (required to reject).")


class ProblemSerializer(serializers.Serializer):
    path = serializers.CharField(help_text="JSON path in the payload, e.g. "
                                 "'patients[0].outcomes[1].value'.")
    message = serializers.CharField()


class RefusedSerializer(serializers.Serializer):
    detail = serializers.CharField()
    errors = ProblemSerializer(many=True, required=False)
    version = serializers.IntegerField(required=False,
                                       help_text="The current version (after a 409).")
