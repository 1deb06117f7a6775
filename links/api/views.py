"""/api/v1/link-requests/: identity links and supersession over the API, with the
rules of the links pages (links.services decides): curators propose and submit their
own requests, a reviewer other than the proposer accepts or rejects. Curators see
their own requests, reviewers every request."""

from django.db.models import Q
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import PermissionDenied, ValidationError
from rest_framework.response import Response

from curation import rules
from curation.api.permissions import CurationRole
from studies.api.pagination import RowCursorPagination
from studies.api.schema import CarlitAutoSchema
from studies.api.serializers import ErrorDetail

from .. import services
from ..models import LinkRequest
from .serializers import LinkRequestCreateSerializer, LinkRequestSerializer, ReviewSerializer

CONFLICT = {"409": OpenApiResponse(ErrorDetail, "Not possible in the request's state, or "
                                   "no longer true of the live data.")}


class LinkRequestPagination(RowCursorPagination):
    ordering = "id"


@extend_schema(tags=["link requests"])
class LinkRequestViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin,
                         viewsets.GenericViewSet):
    """Proposed identity links and supersessions, oldest first."""

    permission_classes = [CurationRole]
    serializer_class = LinkRequestSerializer
    row_serializer_class = LinkRequestSerializer
    pagination_class = LinkRequestPagination
    filterset_fields = ["status", "kind"]
    schema = CarlitAutoSchema()
    extra_error_responses = {"POST": {"409": "Not possible in the request's state."}}

    def get_queryset(self):
        user = self.request.user
        requests = LinkRequest.objects.select_related("proposer", "reviewer").order_by("id")
        if getattr(self, "swagger_fake_view", False) or rules.is_reviewer(user):
            return requests
        return requests.filter(Q(proposer=user))

    def _refused(self, refused: services.LinkRefused):
        if isinstance(refused, services.LinkForbidden):
            raise PermissionDenied(refused.message) from refused
        if refused.field:
            raise ValidationError({refused.field: [refused.message]}) from refused
        return Response({"detail": refused.message}, status=status.HTTP_409_CONFLICT)

    def _shown(self, link: LinkRequest, code=status.HTTP_200_OK) -> Response:
        link = LinkRequest.objects.select_related("proposer", "reviewer").get(pk=link.pk)
        return Response(LinkRequestSerializer(link).data, status=code)

    @extend_schema(request=LinkRequestCreateSerializer,
                   responses={201: LinkRequestSerializer, **CONFLICT})
    def create(self, request):
        """Propose a change: a draft, or sent for review with ``submit``."""
        serializer = LinkRequestCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        try:
            link = services.link_request_propose(
                proposer=request.user, kind=data["kind"], action=data["action"],
                patient=data.get("patient"), other_patient=data.get("other_patient"),
                publication=data.get("publication"), newer=data.get("newer"),
                evidence=data["evidence"], note=data["note"], submit=data["submit"],
            )
        except services.LinkRefused as refused:
            return self._refused(refused)
        return self._shown(link, status.HTTP_201_CREATED)

    def _transition(self, service, **arguments):
        link = self.get_object()
        try:
            link = service(request_id=link.pk, user=self.request.user, **arguments)
        except services.LinkRefused as refused:
            return self._refused(refused)
        return self._shown(link)

    @extend_schema(request=None, responses={200: LinkRequestSerializer, **CONFLICT})
    @action(detail=True, methods=["post"])
    def submit(self, request, pk=None):
        """Send a draft for review (its proposer)."""
        return self._transition(services.link_request_submit)

    def _review(self, service):
        review = ReviewSerializer(data=self.request.data)
        review.is_valid(raise_exception=True)
        return self._transition(service, comment=review.validated_data["comment"])

    @extend_schema(request=ReviewSerializer, responses={200: LinkRequestSerializer, **CONFLICT})
    @action(detail=True, methods=["post"])
    def accept(self, request, pk=None):
        """Accept: the change is applied to the live data (a reviewer, not the proposer)."""
        return self._review(services.link_request_accept)

    @extend_schema(request=ReviewSerializer, responses={200: LinkRequestSerializer, **CONFLICT})
    @action(detail=True, methods=["post"])
    def reject(self, request, pk=None):
        """Reject, saying why (a reviewer, not the proposer). Nothing live changes."""
        return self._review(services.link_request_reject)
