from drf_spectacular.utils import extend_schema_serializer
from rest_framework import serializers

from studies.choices import IdentityEvidence
from studies.models import Patient, Publication

from ..models import LinkAction, LinkKind, LinkRequest


class LinkRequestSerializer(serializers.ModelSerializer):
    """A proposed change of identity links or supersession, with its review."""

    proposer = serializers.CharField(source="proposer.get_username", read_only=True)
    reviewer = serializers.CharField(source="reviewer.get_username", read_only=True,
                                     allow_null=True, default=None)

    class Meta:
        model = LinkRequest
        fields = [
            "id", "kind", "action", "patient", "other_patient", "publication", "newer",
            "evidence", "note", "description", "status", "proposer", "created_at",
            "submitted_at", "reviewer", "reviewer_comment", "reviewed_at",
        ]
        read_only_fields = fields


# The request side of "LinkRequest": its choices then belong to one component.
@extend_schema_serializer(component_name="LinkRequest")
class LinkRequestCreateSerializer(serializers.Serializer):
    """Same person: ``patient`` and ``other_patient`` with ``evidence`` (link), or
    ``patient`` alone (unlink: it leaves its person). Supersedes: ``newer`` supersedes
    ``publication`` (link), or ``publication`` is no longer superseded (unlink)."""

    kind = serializers.ChoiceField(choices=LinkKind.choices)
    action = serializers.ChoiceField(choices=LinkAction.choices, default=LinkAction.LINK)
    patient = serializers.PrimaryKeyRelatedField(queryset=Patient.objects.all(), required=False)
    other_patient = serializers.PrimaryKeyRelatedField(queryset=Patient.objects.all(),
                                                       required=False)
    publication = serializers.PrimaryKeyRelatedField(queryset=Publication.objects.all(),
                                                     required=False)
    newer = serializers.PrimaryKeyRelatedField(queryset=Publication.objects.all(),
                                               required=False)
    evidence = serializers.ChoiceField(choices=IdentityEvidence.choices, required=False,
                                       allow_blank=True, default="")
    note = serializers.CharField(required=False, allow_blank=True, default="", max_length=2000)
    submit = serializers.BooleanField(default=False,
                                      help_text="Send it for review at once (else a draft).")


class ReviewSerializer(serializers.Serializer):
    comment = serializers.CharField(required=False, allow_blank=True, default="",
                                    max_length=2000,
                                    help_text="The reviewer's note; required to reject.")
