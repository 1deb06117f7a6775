"""/api/v1/comments/: the discussion over the API, with the rules of the HTML pages:
curators see comments on their own extractions and on live records, reviewers all;
anyone who sees a record may comment on it; the author, the record's curator or a
reviewer may resolve and reopen a thread."""

from django.core.exceptions import ValidationError as DjangoValidationError
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import PermissionDenied, ValidationError
from rest_framework.response import Response

from curation.api.permissions import CurationRole
from studies.api.pagination import RowCursorPagination
from studies.api.schema import CarlitAutoSchema
from studies.api.serializers import ErrorDetail

from .. import selectors, services
from ..filtersets import CommentFilterSet
from .serializers import CommentCreateSerializer, CommentSerializer

CONFLICT = {"409": OpenApiResponse(ErrorDetail, "Not possible in the thread's state "
                                   "(resolving a resolved thread, or a reply).")}


class CommentPagination(RowCursorPagination):
    ordering = "id"


@extend_schema(tags=["comments"])
class CommentViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin,
                     viewsets.GenericViewSet):
    """Comments on curated records, oldest first."""

    permission_classes = [CurationRole]
    serializer_class = CommentSerializer
    row_serializer_class = CommentSerializer
    filterset_class = CommentFilterSet
    pagination_class = CommentPagination
    schema = CarlitAutoSchema()
    extra_error_responses = {"POST": {"409": "Not possible in the thread's state."}}

    def get_queryset(self):
        return selectors.comments_visible_to(self.request.user).order_by("id")

    @extend_schema(request=CommentCreateSerializer, responses={201: CommentSerializer})
    def create(self, request):
        """Start a thread on a record, or reply to one."""
        serializer = CommentCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        try:
            comment = services.comment_add(
                user=request.user, target_type=data.get("target_type", ""),
                object_id=data.get("object_id"), parent_id=data.get("parent"),
                kind=data["kind"], body=data["body"], location=data["location"],
            )
        except DjangoValidationError as invalid:
            raise ValidationError(invalid.message_dict) from invalid
        except services.CommentForbidden as refused:
            raise PermissionDenied(refused.message) from refused
        comment = self.get_queryset().get(pk=comment.pk)
        return Response(CommentSerializer(comment).data, status=status.HTTP_201_CREATED)

    def _transition(self, service):
        comment = self.get_object()
        try:
            service(comment_id=comment.pk, user=self.request.user)
        except services.CommentForbidden as refused:
            raise PermissionDenied(refused.message) from refused
        except services.CommentRefused as refused:
            return Response({"detail": refused.message}, status=status.HTTP_409_CONFLICT)
        return Response(CommentSerializer(self.get_queryset().get(pk=comment.pk)).data)

    @extend_schema(request=None, responses={200: CommentSerializer, **CONFLICT})
    @action(detail=True, methods=["post"])
    def resolve(self, request, pk=None):
        """Mark the thread resolved."""
        return self._transition(services.comment_resolve)

    @extend_schema(request=None, responses={200: CommentSerializer, **CONFLICT})
    @action(detail=True, methods=["post"])
    def reopen(self, request, pk=None):
        """Open a resolved thread again."""
        return self._transition(services.comment_reopen)
