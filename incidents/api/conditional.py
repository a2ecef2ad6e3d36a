"""ETags and If-Match: optimistic concurrency for API writes.

A client reads an ETag with GET and sends it back in If-Match. A stale
If-Match gets 412 and changes nothing. COE documents, where a lost update
means lost prose, refuse writes without If-Match (428).
"""

from __future__ import annotations

from rest_framework import status
from rest_framework.exceptions import APIException

from incidents.models import CoeDocument


class PreconditionFailed(APIException):
    status_code = status.HTTP_412_PRECONDITION_FAILED
    default_detail = "The resource changed since you read it: GET it again and reapply your change."
    default_code = "precondition_failed"


class PreconditionRequired(APIException):
    status_code = 428
    default_detail = "Send If-Match with the ETag from a GET of this resource."
    default_code = "precondition_required"


def etag_for(obj) -> str:
    if isinstance(obj, CoeDocument):
        return f'"coe-{obj.pk}-v{obj.version}"'
    return f'"{type(obj).__name__.lower()}-{obj.pk}-{obj.updated_at.timestamp():.6f}"'


def _matches(header: str, current: str) -> bool:
    candidates = [tag.strip().removeprefix("W/") for tag in header.split(",")]
    return "*" in candidates or current in candidates


def check_if_match(request, obj) -> None:
    header = request.headers.get("If-Match")
    if header and not _matches(header, etag_for(obj)):
        raise PreconditionFailed()


def require_if_match(request, coe: CoeDocument) -> int:
    """The version the client edits, from its If-Match; 428 without one, 412 if stale."""
    header = request.headers.get("If-Match")
    if not header:
        raise PreconditionRequired()
    if not _matches(header, etag_for(coe)):
        raise PreconditionFailed()
    return coe.version
