"""OpenAPI description of the API: every status code a client can get, with its body.

The viewsets name their serializers (``row_serializer_class`` for what they send,
``write_serializer_class`` for what they take); this schema class reads them and adds
the error responses, conditional-request headers and rate-limit headers that every
operation shares, so the published schema lists all that a client may see.
"""

from drf_spectacular.openapi import AutoSchema
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter

from .serializers import ErrorDetail, ValidationErrors

WRITE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}

ETAG_HEADER = OpenApiParameter(
    "ETag",
    OpenApiTypes.STR,
    OpenApiParameter.HEADER,
    description="Version of this representation; send it back in If-Match when writing.",
    response=["200", "201"],
)
LINK_HEADER = OpenApiParameter(
    "Link",
    OpenApiTypes.STR,
    OpenApiParameter.HEADER,
    description='`<url>; rel="next"` (and `rel="prev"`) while there are more pages.',
    response=["200"],
)
RETRY_AFTER_HEADER = OpenApiParameter(
    "Retry-After",
    OpenApiTypes.INT,
    OpenApiParameter.HEADER,
    description="Seconds to wait before the next request.",
    response=["429"],
)
IF_MATCH = OpenApiParameter(
    "If-Match",
    OpenApiTypes.STR,
    OpenApiParameter.HEADER,
    description="The ETag you read. If the resource changed since, nothing is written and "
    "the answer is 412.",
)
IF_NONE_MATCH = OpenApiParameter(
    "If-None-Match",
    OpenApiTypes.STR,
    OpenApiParameter.HEADER,
    description="The ETag you hold. If it is still current the answer is 304 with no body.",
)


def _error(description: str, serializer=ErrorDetail) -> dict:
    return {"serializer": serializer, "description": description}


class CarlitAutoSchema(AutoSchema):
    def _action(self) -> str:
        return getattr(self.view, "action", None) or ""

    def _is_detail(self) -> bool:
        if self._action():
            return self._action() in {"retrieve", "update", "partial_update", "destroy"}
        return "{" in self.path

    def get_request_serializer(self):
        write = getattr(self.view, "write_serializer_class", None)
        if write is not None and self.method in {"POST", "PUT", "PATCH"}:
            return write
        return super().get_request_serializer()

    def get_response_serializers(self):
        if self.method == "DELETE":
            return None
        if self._action() == "retrieve" and getattr(self.view, "detail_serializer_class", None):
            return self.view.detail_serializer_class
        row = getattr(self.view, "row_serializer_class", None)
        if row is not None:
            return row(many=True) if self._action() == "list" else row
        return super().get_response_serializers()

    def get_override_parameters(self):
        parameters = list(super().get_override_parameters())
        if getattr(self.view, "row_serializer_class", None) is None:
            return parameters + [RETRY_AFTER_HEADER]
        parameters.append(RETRY_AFTER_HEADER)
        if self._is_detail():
            parameters.append(ETAG_HEADER)
            if self.method == "GET":
                parameters.append(IF_NONE_MATCH)
            if self.method in {"PUT", "PATCH", "DELETE"}:
                parameters.append(IF_MATCH)
        elif self.method == "POST":
            parameters.append(ETAG_HEADER)
        elif self.method == "GET":
            parameters.append(LINK_HEADER)
        return parameters

    def _get_response_bodies(self, direction="response"):
        responses = super()._get_response_bodies(direction)
        for code, spec in self.error_responses().items():
            if code in responses:
                continue
            responses[code] = (
                self._get_response_for_code(
                    spec["serializer"], code, media_types=["application/json"], direction=direction
                )
                if spec["serializer"]
                else {"description": spec["description"]}
            )
            responses[code]["description"] = spec["description"]
        return responses

    def error_responses(self) -> dict[str, dict]:
        errors = {
            "401": _error("Credentials were given but are not valid, or writing needs them."),
            "403": _error("These credentials may not do this."),
            "406": _error("None of the accepted media types can be produced."),
            "429": _error("Too many requests: wait for Retry-After seconds."),
        }
        detail = self._is_detail()
        if self.method == "GET" and detail:
            errors["304"] = {"serializer": None, "description": "Not modified (If-None-Match)."}
        if self.method == "GET" and not detail:
            errors["400"] = _error("A filter value is not valid.", ValidationErrors)
        errors["404"] = _error(
            "No such resource, a page cursor that is not valid, or an unknown ?format."
        )
        if self.method in {"POST", "PUT", "PATCH"}:
            errors["400"] = _error("The input is not valid; messages by field.", ValidationErrors)
            errors["415"] = _error("The request body's media type is not supported.")
        if self.method in {"PUT", "PATCH", "DELETE"} and detail:
            errors["412"] = _error("If-Match does not name the current ETag; nothing changed.")
        if self.method == "DELETE":
            errors["409"] = _error("Other rows still refer to this one; delete them first.")
        extra = getattr(self.view, "extra_error_responses", {})
        for code, description in extra.get(self.method, {}).items():
            errors[code] = _error(description)
        return errors
