"""/api/v1/imports/preview/ and /api/v1/imports/confirm/: the import pages over the API.

Both take the file (multipart, field ``file``) and optionally its ``format``. Preview
writes nothing; confirm reads the file again and writes every new record in one
transaction, or nothing (400 listing every invalid record's problems).
"""

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.permissions import BasePermission
from rest_framework.response import Response
from rest_framework.views import APIView

from curation import rules
from studies.api.schema import CarlitAutoSchema

from .. import services
from .serializers import (
    ImportPreviewSerializer,
    ImportRefusedSerializer,
    ImportResultSerializer,
    ImportUploadSerializer,
)

REFUSED = {
    400: OpenApiResponse(ImportRefusedSerializer, "Nothing was written: the file could not "
                         "be read, or (confirm) some records are invalid; every problem is "
                         "listed with its line or record."),
    413: OpenApiResponse(ImportRefusedSerializer, "The file is larger than the limit, "
                         "which the message names."),
}


class CuratorRole(BasePermission):
    message = "Only curators can import citations and registry records."

    def has_permission(self, request, view) -> bool:
        return rules.is_curator(request.user)


def _refused(refused: services.ImportRefused) -> Response:
    return Response(
        {"detail": refused.message, "errors": [problem.as_dict() for problem in refused.problems]},
        status=refused.status_code,
    )


def _body(preview: services.ImportPreview) -> dict:
    return {
        "format": preview.import_format,
        "filename": preview.filename,
        "counts": preview.counts(),
        "records": [row.as_dict() for row in preview.rows],
    }


class _ImportView(APIView):
    permission_classes = [CuratorRole]
    parser_classes = [MultiPartParser, FormParser]
    schema = CarlitAutoSchema()

    def _upload(self, request):
        """(file content, name, format) or a 400/413 response."""
        serializer = ImportUploadSerializer(data=request.data)
        if not serializer.is_valid():
            errors = [
                {"line": None, "record": None, "field": name, "message": str(message)}
                for name, messages in serializer.errors.items() for message in messages
            ]
            return None, Response(
                {"detail": "The upload is not valid.", "errors": errors},
                status=status.HTTP_400_BAD_REQUEST,
            )
        upload = serializer.validated_data["file"]
        try:
            services.check_size(upload.size)
        except services.ImportRefused as refused:
            return None, _refused(refused)
        return (upload.read(), upload.name, serializer.validated_data.get("format")), None


class ImportPreviewView(_ImportView):
    @extend_schema(
        operation_id="imports_preview",
        tags=["imports"],
        request={"multipart/form-data": ImportUploadSerializer},
        responses={200: ImportPreviewSerializer, **REFUSED},
    )
    def post(self, request):
        """What importing the file would do, record by record: new, matching an
        existing record (by DOI, PMID or registry id), or invalid. Writes nothing."""
        upload, refused = self._upload(request)
        if refused is not None:
            return refused
        content, filename, import_format = upload
        try:
            preview = services.import_preview(
                user=request.user, content=content, filename=filename,
                import_format=import_format,
            )
        except services.ImportRefused as error:
            return _refused(error)
        return Response(_body(preview))


class ImportConfirmView(_ImportView):
    @extend_schema(
        operation_id="imports_confirm",
        tags=["imports"],
        request={"multipart/form-data": ImportUploadSerializer},
        responses={201: ImportResultSerializer, **REFUSED},
    )
    def post(self, request):
        """Import the file: a draft extraction per new citation, a registry record per
        new registry record, all in one transaction. Matches are left unchanged."""
        upload, refused = self._upload(request)
        if refused is not None:
            return refused
        content, filename, import_format = upload
        try:
            result = services.import_confirm(
                user=request.user, content=content, filename=filename,
                import_format=import_format,
            )
        except services.ImportRefused as error:
            return _refused(error)
        body = _body(result.preview)
        body["extractions"] = [
            {"id": extraction.pk, "citation": extraction.citation}
            for extraction in result.extractions
        ]
        body["registry_records"] = [
            {"id": record.pk, "identifier": record.identifier, "title": record.title}
            for record in result.registry_records
        ]
        return Response(body, status=status.HTTP_201_CREATED)
