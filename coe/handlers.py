"""The WSGI application: the whole middleware stack, or a short one for reading the API with a token.

A GET to /api/ with `Authorization: Bearer` needs no session, no CSRF check, no messages, no static
files, no htmx, no login lockout and no change-history actor (it changes nothing; a write takes the
whole stack): DRF authenticates the token itself. Skipping those eight middleware answers the API's
hottest reads without their cost; the security headers and the no-store rule still apply.
"""

from __future__ import annotations

from django.conf import settings
from django.core.handlers.wsgi import WSGIHandler

# The middleware a token read keeps, in settings.MIDDLEWARE's order.
TOKEN_READ_MIDDLEWARE = frozenset(
    {
        "django.middleware.security.SecurityMiddleware",
        "django.middleware.common.CommonMiddleware",
        "coe.security.NoStoreMiddleware",
        "django.middleware.clickjacking.XFrameOptionsMiddleware",
        "csp.middleware.CSPMiddleware",
    }
)
_SAFE = frozenset({"GET", "HEAD"})


def is_token_read(environ) -> bool:
    return (
        environ.get("REQUEST_METHOD") in _SAFE
        and environ.get("PATH_INFO", "").startswith("/api/")
        and environ.get("HTTP_AUTHORIZATION", "")[:7].lower() == "bearer "
    )


class TokenReadHandler(WSGIHandler):
    """A WSGIHandler whose chain holds only TOKEN_READ_MIDDLEWARE."""

    def load_middleware(self, is_async=False):
        # BaseHandler builds the chain from settings.MIDDLEWARE; it is built once, when the application
        # is made, so the whole list is put back before anything else can read it.
        everything = settings.MIDDLEWARE
        settings.MIDDLEWARE = [path for path in everything if path in TOKEN_READ_MIDDLEWARE]
        try:
            super().load_middleware(is_async)
        finally:
            settings.MIDDLEWARE = everything


class Application:
    def __init__(self) -> None:
        self.everything = WSGIHandler()
        self.token_read = TokenReadHandler()

    def __call__(self, environ, start_response):
        handler = self.token_read if is_token_read(environ) else self.everything
        return handler(environ, start_response)
