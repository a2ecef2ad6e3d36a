"""ETags and If-Match: optimistic concurrency for API writes.

A client reads an ETag with GET and sends it back in If-Match. Every update and delete needs
one (428 without it, since a lost update means lost work) and a stale one gets 412 and changes
nothing. Creating an incident's parts takes If-Match too, optionally.

An incident's ETag stands for its whole detail, parts included (timeline, claims, sources, AI
involvement, impact figures): a digest of the detail's one row (detail.py), so a change to any
part, made through the API or the pages, makes an earlier ETag stale without any write of its
own. Those parts have no version of their own: writes to them take the incident's ETag and
answer with its new one. Action items and COEs are resources of their own with their own tags.
"""

from __future__ import annotations

import hashlib

from rest_framework import status
from rest_framework.exceptions import APIException

from incidents.models import CoeDocument, Incident


class PreconditionFailed(APIException):
    status_code = status.HTTP_412_PRECONDITION_FAILED
    default_detail = "The resource changed since you read it: GET it again and reapply your change."
    default_code = "precondition_failed"


class PreconditionRequired(APIException):
    status_code = 428
    default_detail = "Send If-Match with the ETag from a GET of this resource."
    default_code = "precondition_required"


def incident_etag(row: dict) -> str:
    """The ETag of an incident's detail row (detail.fetch): its columns and parts, digested."""
    digest = hashlib.blake2b(repr(sorted(row.items())).encode(), digest_size=12).hexdigest()
    return f'"incident-{row["id"]}-{digest}"'


def etag_for(obj) -> str:
    if isinstance(obj, Incident):
        from . import detail  # detail imports this module's neighbours; import late

        return incident_etag(detail.fetch(Incident.objects.filter(pk=obj.pk)))
    if isinstance(obj, CoeDocument):
        return f'"coe-{obj.pk}-v{obj.version}"'
    return f'"{type(obj).__name__.lower()}-{obj.pk}-{obj.updated_at.timestamp():.6f}"'


def _matches(header: str, current: str) -> bool:
    candidates = [tag.strip().removeprefix("W/") for tag in header.split(",")]
    return "*" in candidates or current in candidates


def check_if_match(request, current: str, *, required: bool) -> None:
    """412 if the request's If-Match does not name the `current` ETag; without one, 428 if `required`."""
    header = request.headers.get("If-Match")
    if not header:
        if required:
            raise PreconditionRequired()
        return
    if not _matches(header, current):
        raise PreconditionFailed()


def require_if_match(request, coe: CoeDocument) -> int:
    """The version of the COE the client edits, from its If-Match; 428 without one, 412 if stale."""
    check_if_match(request, etag_for(coe), required=True)
    return coe.version
