"""Who may do what over the API.

Reads need a signed-in user or a token. Writes need a write-scope token (or a
session) and the same model permission the browser pages check.
"""

from rest_framework import permissions

from incidents.models import ApiToken, TokenScope


def _unsupported(request, view) -> bool:
    """A method the view does not offer: let it answer 405 rather than a misleading 403."""
    allowed = getattr(view, "allowed_methods", None)
    return allowed is not None and request.method not in allowed


class TokenScopeAllows(permissions.BasePermission):
    message = "This token is read-only; writes need a token with the write scope."

    def has_permission(self, request, view):
        if request.method in permissions.SAFE_METHODS or _unsupported(request, view):
            return True
        token = request.auth
        return not isinstance(token, ApiToken) or token.scope == TokenScope.WRITE


class ModelPermissionsForWrites(permissions.DjangoModelPermissions):
    """Django model permissions for writes; reads are governed by visibility instead."""

    perms_map = {
        **permissions.DjangoModelPermissions.perms_map,
        "GET": [],
        "HEAD": [],
        "OPTIONS": [],
    }

    def has_permission(self, request, view):
        signed_in = bool(request.user and request.user.is_authenticated)
        if signed_in and (request.method in permissions.SAFE_METHODS or _unsupported(request, view)):
            # Reads need no model permission; answering here also spares building the
            # view's queryset, which DjangoModelPermissions does only to learn the model.
            return True
        return super().has_permission(request, view)
