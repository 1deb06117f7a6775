"""ETags and conditional requests: no lost updates.

A resource's ETag is a hash of the JSON it sends, so it changes whenever anything
the client saw changes (a study's ETag follows its arms and results too). A write
with If-Match must name the current ETag; the check and the write share one
transaction with the row locked, so two clients cannot both pass it.
"""

import hashlib
import json

from django.core.serializers.json import DjangoJSONEncoder
from rest_framework import status
from rest_framework.exceptions import APIException


class PreconditionFailed(APIException):
    status_code = status.HTTP_412_PRECONDITION_FAILED
    default_detail = "The resource has changed since you read it (If-Match does not match)."
    default_code = "precondition_failed"


def etag_for(representation) -> str:
    body = json.dumps(representation, cls=DjangoJSONEncoder, sort_keys=True, default=str)
    return '"' + hashlib.sha256(body.encode()).hexdigest()[:32] + '"'


def _tags(header: str) -> list[str]:
    tags = []
    for part in header.split(","):
        part = part.strip()
        if part.startswith("W/"):
            part = part[2:]
        if part:
            tags.append(part)
    return tags


def if_none_match(request, etag: str) -> bool:
    """True when the client's copy is current (answer 304)."""
    header = request.headers.get("If-None-Match")
    if not header:
        return False
    tags = _tags(header)
    return "*" in tags or etag in tags


def check_if_match(request, etag: str) -> None:
    """Raise 412 unless If-Match is absent, '*' or names the current ETag."""
    header = request.headers.get("If-Match")
    if header is None:
        return
    tags = _tags(header)
    if "*" in tags or etag in tags:
        return
    raise PreconditionFailed()
