"""One error shape for every API failure.

    {"error": {"status": 400, "code": "invalid", "detail": "...", "fields": {"severity": ["..."]}}}

`fields` appears only for validation errors. Clients can rely on `status` and
`code`; `detail` is for people.

DRF's views answer through api_exception_handler. What fails outside them (an unknown URL under /api/, an
exception DRF does not know, which Django logs and turns into a 500, a refused Host) reaches Django's error
handlers, which coe/urls.py points here: under /api/ they answer the same shape, elsewhere Django's pages.
"""

from django.core.exceptions import PermissionDenied, RequestDataTooBig
from django.http import Http404, JsonResponse
from django.views import defaults
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler


class RequestTooLarge(exceptions.APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = "The request body is too large."
    default_code = "too_large"


def api_exception_handler(exc, context):
    # Django's own exceptions get the codes of their DRF equivalents, so a
    # missing object is {"code": "not_found"} wherever it was looked up.
    if isinstance(exc, RequestDataTooBig):
        exc = RequestTooLarge()
    elif isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied()
    response = exception_handler(exc, context)
    if response is None:
        return None
    code = getattr(exc, "default_code", "error")
    body = {"status": response.status_code, "code": code}
    if isinstance(exc, exceptions.ValidationError):
        detail = exc.detail if isinstance(exc.detail, dict) else {"non_field_errors": exc.detail}
        body.update(code="invalid", detail="Some fields are not valid.", fields=detail)
    else:
        detail = exc.detail if isinstance(exc, exceptions.APIException) else str(exc)
        body["detail"] = str(detail.get("detail", detail)) if isinstance(detail, dict) else str(detail)
        if isinstance(exc, exceptions.APIException):
            codes = exc.get_codes()
            if isinstance(codes, str):
                body["code"] = codes
    return Response({"error": body}, status=response.status_code, headers=dict(response.items()))


def _is_api(request) -> bool:
    return request.path.startswith("/api/")


def _error(status: int, code: str, detail: str) -> JsonResponse:
    return JsonResponse({"error": {"status": status, "code": code, "detail": detail}}, status=status)


def bad_request(request, exception):
    if _is_api(request):
        return _error(400, "bad_request", "The request could not be understood.")
    return defaults.bad_request(request, exception)


def permission_denied(request, exception):
    if _is_api(request):
        return _error(403, "permission_denied", "You do not have permission to perform this action.")
    return defaults.permission_denied(request, exception)


def page_not_found(request, exception):
    if _is_api(request):
        return _error(404, "not_found", "Not found.")
    return defaults.page_not_found(request, exception)


def server_error(request):
    if _is_api(request):
        return _error(500, "server_error", "Something went wrong on our side; it has been logged.")
    return defaults.server_error(request)
