"""Endpoints of study bundles: import, export and the format's JSON Schema."""

import copy

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import NotFound, ParseError
from rest_framework.parsers import JSONParser
from rest_framework.response import Response
from rest_framework.views import APIView

from ..bundles import BUNDLE_SCHEMA, BundleInvalid, export_bundle, import_bundle
from ..models import Publication
from ..visibility import public
from .permissions import CuratedDataPermission
from .schema import CarlitAutoSchema
from .views import MAX_ID


class BundleErrorRow(serializers.Serializer):
    path = serializers.CharField(
        help_text="JSON path of the value at fault, e.g. 'patients[3].outcomes[0].value'."
    )
    message = serializers.CharField()


class BundleRejected(serializers.Serializer):
    detail = serializers.CharField()
    errors = BundleErrorRow(many=True)


class BundleImported(serializers.Serializer):
    publication = serializers.IntegerField(help_text="Id of the imported publication.")
    created = serializers.BooleanField(help_text="false: an import of it existed and was updated.")
    written = serializers.DictField(
        child=serializers.IntegerField(), help_text="Rows written, by kind."
    )
    deleted = serializers.DictField(
        child=serializers.IntegerField(),
        help_text="Rows cited from this publication that the bundle no longer lists.",
    )


BUNDLE_BODY = {
    "application/json": {
        "type": "object",
        "description": "A study bundle; see the JSON Schema at /api/v1/bundles/schema.json.",
    }
}


class BundleImportView(APIView):
    """Import a study bundle: the publication and everything extracted from it.

    All or nothing: on any problem nothing is written and the answer lists every
    problem with its JSON path. Importing the same publication again (same DOI or
    PMID) updates its rows in place."""

    permission_classes = [CuratedDataPermission]
    parser_classes = [JSONParser]
    schema = CarlitAutoSchema()

    @extend_schema(
        operation_id="bundles_import",
        request=BUNDLE_BODY,
        responses={
            200: OpenApiResponse(BundleImported, "The publication existed and was updated."),
            201: OpenApiResponse(BundleImported, "The publication was new."),
            400: OpenApiResponse(BundleRejected, "Nothing was written; every problem is listed."),
        },
        examples=[
            OpenApiExample(
                "Rejected",
                response_only=True,
                status_codes=["400"],
                value={
                    "detail": "The bundle was not imported: 1 problem.",
                    "errors": [
                        {
                            "path": "patients[3].outcomes[0].value",
                            "message": "120 is outside SLEDAI-2K's range 0–105",
                        }
                    ],
                },
            )
        ],
    )
    def post(self, request):
        try:
            document = request.data
        except ParseError as error:
            return Response(
                {
                    "detail": "The bundle was not imported: it is not valid JSON.",
                    "errors": [{"path": "", "message": str(error.detail)}],
                },
                status=status.HTTP_400_BAD_REQUEST,
            )
        try:
            summary = import_bundle(document, user=request.user)
        except BundleInvalid as invalid:
            count = len(invalid.errors)
            return Response(
                {
                    "detail": f"The bundle was not imported: {count} "
                    f"problem{'s' if count != 1 else ''}.",
                    "errors": [error.as_dict() for error in invalid.errors],
                },
                status=status.HTTP_400_BAD_REQUEST,
            )
        code = status.HTTP_201_CREATED if summary.created else status.HTTP_200_OK
        return Response(summary.as_dict(), status=code)


class BundleExportView(APIView):
    """Export a publication and everything cited from it, in the bundle format;
    importing the result into another carlit reproduces the data."""

    permission_classes = [CuratedDataPermission]
    schema = CarlitAutoSchema()
    extra_error_responses = {"GET": {"404": "No such publication."}}

    @extend_schema(
        operation_id="bundles_export",
        responses={200: OpenApiResponse(OpenApiTypes.OBJECT, "A study bundle.")},
    )
    def get(self, request, publication: str):
        if not (publication.isascii() and publication.isdigit()) or int(publication) > MAX_ID:
            raise NotFound()
        found = public(Publication.objects.filter(pk=int(publication))).first()
        if found is None:
            raise NotFound()
        return Response(export_bundle(found))


class BundleSchemaView(APIView):
    """The JSON Schema of the study bundle format (a stable URL for validators)."""

    permission_classes = [CuratedDataPermission]
    schema = CarlitAutoSchema()

    @extend_schema(
        operation_id="bundles_schema",
        responses={200: OpenApiResponse(OpenApiTypes.OBJECT, "JSON Schema (2020-12).")},
    )
    def get(self, request):
        document = copy.deepcopy(BUNDLE_SCHEMA)
        document["$id"] = request.build_absolute_uri()
        return Response(document)
