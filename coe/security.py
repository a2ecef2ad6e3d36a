"""Private responses kept out of caches, and who the client is behind a proxy."""

from axes.backends import AxesStandaloneBackend
from django.conf import settings
from django.utils.cache import has_vary_header, patch_cache_control


class LoginThrottleBackend(AxesStandaloneBackend):
    """django-axes's lockout check, for the log-ins that come with a request (the site's and the admin's forms).

    authenticate() without one (a test client's login(), a script) has no client address to count; axes's own
    backend refuses it outright, this one leaves it to the ModelBackend.
    """

    def authenticate(self, request=None, username=None, password=None, **kwargs):
        if request is None:
            return None
        return super().authenticate(request, username, password, **kwargs)


class NoStoreMiddleware:
    """`Cache-Control: private, no-store` on every response that depends on who asked.

    That is: a signed-in person's page, an API answer to a token or a session, and any response whose content
    varies with the cookie (the login forms carry a CSRF token). Neither a shared cache (a proxy, a CDN) nor the
    browser's own may keep those: the next person at the same computer or behind the same proxy would see them.
    WhiteNoise answers static files before this runs, so they keep their long cache lifetimes.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if _depends_on_who_asked(request, response):
            patch_cache_control(response, private=True, no_store=True)
        return response


def _depends_on_who_asked(request, response) -> bool:
    if "HTTP_AUTHORIZATION" in request.META or has_vary_header(response, "Cookie"):
        return True
    # The API's token authentication sets request.user on the Django request too.
    user = getattr(request, "user", None)
    return bool(user is not None and user.is_authenticated)


def client_ip(request) -> str | None:
    """The client's address: REMOTE_ADDR, or behind TRUSTED_PROXY_COUNT reverse proxies the address the outermost
    one saw, which it appended to X-Forwarded-For (entries further left are the client's to invent)."""
    remote = request.META.get("REMOTE_ADDR") or None
    count = settings.TRUSTED_PROXY_COUNT
    if not count:
        return remote
    forwarded = [part.strip() for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if part.strip()]
    return forwarded[-count] if len(forwarded) >= count else remote
