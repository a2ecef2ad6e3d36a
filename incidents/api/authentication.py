"""Bearer tokens for tools; the browser session for people."""

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions

from incidents.models import ApiToken

from .throttling import BadTokenThrottle


class BearerTokenAuthentication(authentication.BaseAuthentication):
    """`Authorization: Bearer <token>`. A client address that sent API_THROTTLE_BAD_TOKEN tokens that are not
    valid is answered 429 with Retry-After for every further token that is not valid, until the oldest of them
    ages out: guessing tokens takes forever. The count is shared through the cache, or per process while Redis
    is down.

    The count is read only once a token has failed: a valid token (2^256 of them to guess from) costs no cache
    round trip, which every API request would otherwise pay (API list 0.51 -> 0.41 of the floor).
    """

    keyword = "Bearer"

    def authenticate(self, request):
        header = authentication.get_authorization_header(request).split()
        if not header or header[0].lower() != self.keyword.lower().encode():
            return None
        try:
            return self._authenticate(header)
        except exceptions.AuthenticationFailed:
            limit = BadTokenThrottle()
            wait = limit.wait_before_trying(request)
            if wait is not None:
                raise exceptions.Throttled(wait, detail="Too many requests with a token that is not valid.") from None
            limit.failed()
            raise

    def _authenticate(self, header):
        if len(header) != 2:
            raise exceptions.AuthenticationFailed("Send the header as 'Authorization: Bearer <token>'.")
        try:
            plain = header[1].decode()
        except UnicodeError:
            raise exceptions.AuthenticationFailed("The token is not valid text.") from None
        token = ApiToken.authenticate(plain)
        if token is None or not token.user.is_active:
            raise exceptions.AuthenticationFailed("Invalid, expired or revoked token.")
        token.touch()
        return token.user, token

    def authenticate_header(self, request):
        # Makes DRF answer 401 (not 403) when no credentials were sent.
        return f'{self.keyword} realm="api"'


class BearerTokenScheme(OpenApiAuthenticationExtension):
    """Tells the OpenAPI schema how BearerTokenAuthentication works."""

    target_class = BearerTokenAuthentication
    name = "bearerAuth"

    def get_security_definition(self, auto_schema):
        return {"type": "http", "scheme": "bearer", "description": "A token from `manage.py create_api_token`."}
