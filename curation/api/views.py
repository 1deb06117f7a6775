"""/api/v1/extractions/: curators' drafts and the review workflow over the API.

The same services and rules as the HTML workspace: curators see and write their own
extractions, reviewers see all and accept or reject others', every write names the
version it read (409 if someone changed the extraction since).
"""

from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import PermissionDenied
from rest_framework.response import Response

from studies.api.pagination import RowCursorPagination
from studies.api.schema import CarlitAutoSchema

from .. import selectors, services
from ..models import ExtractionStatus
from .permissions import CurationRole
from .serializers import (
    ExtractionCreateSerializer,
    ExtractionSerializer,
    ExtractionUpdateSerializer,
    RefusedSerializer,
    TransitionSerializer,
)

REFUSED = {
    "400": OpenApiResponse(RefusedSerializer, "Not valid; problems by JSON path."),
    "409": OpenApiResponse(RefusedSerializer, "Changed by someone else since the version "
                           "you read, or not possible in the extraction's status."),
}


class ExtractionPagination(RowCursorPagination):
    ordering = "-id"


def _refused(error: services.ExtractionRefused) -> Response:
    if isinstance(error, services.ExtractionForbidden):
        raise PermissionDenied(error.message)
    body = {"detail": error.message}
    if isinstance(error, services.StaleVersion):
        body["version"] = error.current.version
    return Response(body, status=status.HTTP_409_CONFLICT)


def _invalid(error: services.ExtractionInvalid) -> Response:
    count = len(error.errors)
    return Response(
        {"detail": f"{count} problem{'s' if count != 1 else ''}.",
         "errors": [problem.as_dict() for problem in error.errors]},
        status=status.HTTP_400_BAD_REQUEST,
    )


@extend_schema(tags=["extractions"])
class ExtractionViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    viewsets.GenericViewSet,
):
    """Extractions visible to you: your own (curators), or all (reviewers, admins)."""

    permission_classes = [CurationRole]
    serializer_class = ExtractionSerializer
    row_serializer_class = ExtractionSerializer
    pagination_class = ExtractionPagination
    schema = CarlitAutoSchema()
    extra_error_responses = {
        "POST": {"409": "Changed by someone else since the version you read, or not "
                 "possible in the extraction's status."},
        "PUT": {"409": "Changed by someone else since the version you read."},
        "PATCH": {"409": "Changed by someone else since the version you read."},
    }

    def get_queryset(self):
        extractions = selectors.extractions_visible_to(self.request.user).order_by("-id")
        wanted = self.request.query_params.get("status")
        if wanted in ExtractionStatus.values:
            extractions = extractions.filter(status=wanted)
        return extractions

    @extend_schema(parameters=[OpenApiParameter(
        "status", str, enum=list(ExtractionStatus.values), description="Only this status."
    )])
    def list(self, request, *args, **kwargs):
        return super().list(request, *args, **kwargs)

    @extend_schema(request=ExtractionCreateSerializer,
                   responses={201: ExtractionSerializer, **REFUSED})
    def create(self, request):
        """Start a draft from a (possibly incomplete) study bundle."""
        serializer = ExtractionCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        try:
            extraction = services.extraction_import(
                curator=request.user, payload=serializer.validated_data["payload"]
            )
        except services.ExtractionInvalid as invalid:
            return _invalid(invalid)
        except services.ExtractionRefused as refused:
            return _refused(refused)
        return Response(ExtractionSerializer(extraction).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=ExtractionUpdateSerializer,
                   responses={200: ExtractionSerializer, **REFUSED})
    def update(self, request, pk=None):
        """Replace the payload of your draft (or returned) extraction."""
        extraction = self.get_object()
        serializer = ExtractionUpdateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        try:
            extraction = services.extraction_save(
                extraction_id=extraction.pk, user=request.user,
                payload=serializer.validated_data["payload"],
                version=serializer.validated_data["version"],
            )
        except services.ExtractionInvalid as invalid:
            return _invalid(invalid)
        except services.ExtractionRefused as refused:
            return _refused(refused)
        return Response(ExtractionSerializer(extraction).data)

    @extend_schema(request=ExtractionUpdateSerializer,
                   responses={200: ExtractionSerializer, **REFUSED})
    def partial_update(self, request, pk=None):
        """The same as PUT: the payload is always sent whole."""
        return self.update(request, pk)

    def _transition(self, request, service, **extra):
        extraction = self.get_object()
        serializer = TransitionSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        try:
            extraction = service(extraction_id=extraction.pk, user=request.user,
                                 version=serializer.validated_data["version"], **{
                                     name: serializer.validated_data[name] for name in extra})
        except services.ExtractionInvalid as invalid:
            return _invalid(invalid)
        except services.ExtractionRefused as refused:
            return _refused(refused)
        return Response(ExtractionSerializer(extraction).data)

    @extend_schema(request=TransitionSerializer, responses={200: ExtractionSerializer, **REFUSED})
    @action(detail=True, methods=["post"])
    def submit(self, request, pk=None):
        """Send your extraction for review; refused with every problem if incomplete."""
        return self._transition(request, services.extraction_submit)

    @extend_schema(request=TransitionSerializer, responses={200: ExtractionSerializer, **REFUSED})
    @action(detail=True, methods=["post"])
    def accept(self, request, pk=None):
        """Accept another curator's submission: its data becomes public."""
        return self._transition(request, services.extraction_accept, comment=True)

    @extend_schema(request=TransitionSerializer, responses={200: ExtractionSerializer, **REFUSED})
    @action(detail=True, methods=["post"])
    def reject(self, request, pk=None):
        """Return a submission to its curator with a comment."""
        return self._transition(request, services.extraction_reject, comment=True)
