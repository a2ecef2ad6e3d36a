"""The OpenAPI description of what every API view can answer, errors included.

drf-spectacular documents the success response of each operation. Clients
(and schemathesis) also need the failures every view shares: the error shape
of errors.py for 400/401/403/404/429, 412 and 428 for conditional writes,
413/415 for bodies; plus the CSV variant of lists that export it and the
ETag header of the resources that carry one.
"""

from drf_spectacular.openapi import AutoSchema
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter

from .serializers import ErrorSerializer

_WRITES = ("POST", "PUT", "PATCH", "DELETE")

_DESCRIPTIONS = {
    "400": "Invalid input: a bad field, an unknown query parameter or a bad cursor. `fields` says which.",
    "401": "No credentials, or an invalid, expired or revoked token.",
    "403": "A read-scope token, or no permission for this write.",
    "404": "No such object, or one the caller may not see.",
    "409": "The COE is not a draft.",
    "412": "If-Match does not match the current ETag: GET again and reapply the change.",
    "413": "The request body is too large.",
    "415": "The request body is not JSON.",
    "428": "If-Match is required.",
    "429": "Too many requests: wait for Retry-After seconds.",
}


class ApiAutoSchema(AutoSchema):
    def _action(self) -> str:
        """The viewset's action, or for a plain APIView its method's name ("put")."""
        return getattr(self.view, "action", None) or self.method.lower()

    def _error_codes(self) -> list[str]:
        codes = ["400", "401", "403", "429"]
        if "{" in self.path:
            codes.append("404")
        if self.method in ("PUT", "PATCH") and getattr(self.view, "etag_actions", ()):
            codes.append("412")
        if self.method in _WRITES and self.get_request_serializer() is not None:
            codes += ["413", "415"]
        codes += getattr(self.view, "schema_extra_errors", {}).get(self._action(), ())
        return sorted(set(codes))

    def _get_response_bodies(self, direction="response"):
        responses = super()._get_response_bodies(direction)
        if self.method == "GET" and getattr(self.view, "csv_filename", None) and self._is_list_view():
            for code, response in responses.items():
                if code.startswith("2"):
                    response.setdefault("content", {})["text/csv"] = {
                        "schema": {"type": "string", "description": "With ?format=csv: every row, one per line."}
                    }
        for code in self._error_codes():
            if code not in responses:
                error = self._get_response_for_code(ErrorSerializer, code, direction=direction)
                responses[code] = {**error, "description": _DESCRIPTIONS[code]}
        return responses

    def get_override_parameters(self):
        parameters = list(super().get_override_parameters())
        names = {(p.name, p.location) for p in parameters if isinstance(p, OpenApiParameter)}
        action = self._action()
        if action in getattr(self.view, "etag_actions", ()):
            parameters.append(
                OpenApiParameter(
                    "ETag",
                    OpenApiTypes.STR,
                    OpenApiParameter.HEADER,
                    response=[200, 201],
                    description="Send it back in If-Match to write this version.",
                )
            )
            if self.method in ("PUT", "PATCH") and ("If-Match", OpenApiParameter.HEADER) not in names:
                parameters.append(
                    OpenApiParameter(
                        "If-Match",
                        OpenApiTypes.STR,
                        OpenApiParameter.HEADER,
                        description="The ETag this change is based on; a stale one gets 412 and changes nothing.",
                    )
                )
        parameters.append(
            OpenApiParameter(
                "Retry-After", OpenApiTypes.INT, OpenApiParameter.HEADER, response=[429], description="Seconds."
            )
        )
        parameters.append(
            OpenApiParameter("WWW-Authenticate", OpenApiTypes.STR, OpenApiParameter.HEADER, response=[401])
        )
        return parameters
