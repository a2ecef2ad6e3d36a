"""The WSGI application's two middleware chains (coe/handlers.py): token reads of the API take the short one."""

import io
import sys

import pytest
from django.core.cache import cache
from django.core.signals import request_finished, request_started
from django.db import close_old_connections

from coe import handlers
from coe.wsgi import application
from incidents.models import ApiToken

from .factories import IncidentFactory

pytestmark = pytest.mark.django_db(transaction=False)


@pytest.fixture(autouse=True)
def _fresh_throttles():
    cache.clear()
    yield
    cache.clear()


@pytest.fixture(autouse=True)
def _keep_the_test_connection():
    # A WSGI handler closes the database connection after each request; the test's transaction lives on it
    # (Django's test client disconnects the same handler).
    for signal in (request_started, request_finished):
        signal.disconnect(close_old_connections)
    yield
    for signal in (request_started, request_finished):
        signal.connect(close_old_connections)


def call(method: str, path: str, **headers) -> tuple[int, dict, bytes]:
    path, _, query = path.partition("?")
    environ = {
        "REQUEST_METHOD": method,
        "PATH_INFO": path,
        "QUERY_STRING": query,
        "SERVER_NAME": "testserver",
        "SERVER_PORT": "80",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "127.0.0.1",
        "wsgi.input": io.BytesIO(b""),
        "wsgi.errors": sys.stderr,
        "wsgi.url_scheme": "http",
        **{f"HTTP_{name.upper()}": value for name, value in headers.items()},
    }
    answer = {}

    def start_response(status, response_headers, exc_info=None):
        answer["status"], answer["headers"] = int(status[:3]), dict(response_headers)

    body = b"".join(application(environ, start_response))
    return answer["status"], answer["headers"], body


@pytest.fixture
def token(reviewer) -> str:
    return ApiToken.issue(user=reviewer, name="chains")[1]


def test_only_safe_api_requests_with_a_bearer_token_take_the_short_chain():
    bearer = {"HTTP_AUTHORIZATION": "Bearer coe_x_y"}
    assert handlers.is_token_read({"REQUEST_METHOD": "GET", "PATH_INFO": "/api/v1/incidents/", **bearer})
    assert handlers.is_token_read({"REQUEST_METHOD": "HEAD", "PATH_INFO": "/api/v1/incidents/", **bearer})
    assert not handlers.is_token_read({"REQUEST_METHOD": "POST", "PATH_INFO": "/api/v1/incidents/", **bearer})
    assert not handlers.is_token_read({"REQUEST_METHOD": "GET", "PATH_INFO": "/incidents/", **bearer})
    assert not handlers.is_token_read({"REQUEST_METHOD": "GET", "PATH_INFO": "/api/v1/incidents/"})


def test_the_short_chain_is_the_whole_one_less_what_a_token_read_does_not_need(settings):
    short = [m for m in settings.MIDDLEWARE if m in handlers.TOKEN_READ_MIDDLEWARE]
    assert short == [
        "django.middleware.security.SecurityMiddleware",
        "django.middleware.common.CommonMiddleware",
        "coe.security.NoStoreMiddleware",
        "django.middleware.clickjacking.XFrameOptionsMiddleware",
        "csp.middleware.CSPMiddleware",
    ]

    # Built once, with the whole list put back for everything else: only the whole chain checks CSRF.
    def checks_csrf(handler):
        return any(type(method.__self__).__name__ == "CsrfViewMiddleware" for method in handler._view_middleware)

    assert checks_csrf(application.everything)
    assert not checks_csrf(application.token_read)
    assert "django.contrib.sessions.middleware.SessionMiddleware" in settings.MIDDLEWARE


def test_a_token_read_answers_with_the_security_headers_and_no_store(token):
    incident = IncidentFactory()
    status, headers, body = call("GET", f"/api/v1/incidents/{incident.key}/", authorization=f"Bearer {token}")
    assert status == 200
    assert incident.key.encode() in body
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["X-Frame-Options"] == "DENY"
    assert "Content-Security-Policy" in headers
    assert "no-store" in headers["Cache-Control"]
    assert "Set-Cookie" not in headers  # no session, no CSRF cookie


def test_a_token_read_of_a_restricted_incident_stays_hidden(outsider, restricted_incident):
    plain = ApiToken.issue(user=outsider, name="chains")[1]
    status, _, body = call("GET", f"/api/v1/incidents/{restricted_incident.key}/", authorization=f"Bearer {plain}")
    assert status == 404
    assert restricted_incident.title.encode() not in body


def test_a_bad_token_is_refused_on_the_short_chain():
    status, _, body = call("GET", "/api/v1/incidents/", authorization="Bearer coe_nope_nope")
    assert status == 401
    assert b"detail" in body


def test_the_login_page_takes_the_whole_chain():
    status, headers, _ = call("GET", "/accounts/login/")
    assert status == 200
    assert "csrftoken" in headers.get("Set-Cookie", "")
