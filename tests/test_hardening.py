"""Issue 16's deployment and outage findings: private responses kept out of caches, X-Forwarded-Proto believed
only when a setting says a proxy sets it, brute force on the log-in forms and on API tokens refused (with Redis
down too), the API answering JSON on every error and degrading without Redis, /readyz asking only what the web
tier needs.

"Redis down" is the cache pointed at a port where nothing listens (CLOSED_REDIS): every call to it raises a
ConnectionError at once, as with a stopped server.
"""

import subprocess
import sys

import pytest
from django.test import Client

from incidents.api import throttling
from incidents.models import ApiToken

from .factories import IncidentFactory, UserFactory
from .test_settings import ROOT, SOME_DATABASE, clean_env

CLOSED_REDIS = "redis://127.0.0.1:9/0"  # the discard port: nothing listens


@pytest.fixture
def redis_down(settings):
    settings.CACHES = {
        "default": {
            "BACKEND": "coe.redis_cache.RedisCache",
            "LOCATION": CLOSED_REDIS,
            "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1},
        }
    }
    throttling.fallback_cache._down_until = 0.0
    yield
    throttling.fallback_cache._down_until = 0.0
    throttling.fallback_cache.local.clear()


@pytest.fixture(autouse=True)
def fresh_local_counts():
    throttling.fallback_cache.local.clear()


def token_for(user, scope="read") -> str:
    return ApiToken.issue(user=user, name="tests", scope=scope)[1]


# --- Cache-Control ---------------------------------------------------------------------------------------------


def no_store(response) -> bool:
    directives = {part.strip() for part in response.get("Cache-Control", "").split(",")}
    return {"no-store", "private"} <= directives


def test_a_signed_in_persons_pages_are_not_stored(client_for, reviewer):
    client = client_for(reviewer)
    for url in ("/incidents/", "/dashboard/", "/search/?q=x", "/incidents/settings/tokens/"):
        response = client.get(url)
        assert response.status_code == 200, url
        assert no_store(response), (url, response.get("Cache-Control"))


def test_api_answers_to_a_token_or_a_session_are_not_stored(client, client_for, reviewer):
    token = token_for(reviewer)
    response = Client().get("/api/v1/incidents/", HTTP_AUTHORIZATION=f"Bearer {token}")
    assert response.status_code == 200
    assert no_store(response)
    response = client_for(reviewer).get("/api/v1/incidents/")
    assert response.status_code == 200
    assert no_store(response)


def test_the_login_forms_are_not_stored(client, db):
    for url in ("/accounts/login/", "/admin/login/"):
        response = client.get(url)
        assert response.status_code == 200
        assert no_store(response), url


def test_anonymous_health_checks_keep_their_own_headers(client):
    assert "no-cache" in client.get("/healthz")["Cache-Control"]


# --- X-Forwarded-Proto -----------------------------------------------------------------------------------------


def test_x_forwarded_proto_from_a_client_is_not_believed(client, settings, db):
    settings.SECURE_SSL_REDIRECT = True
    response = client.get("/accounts/login/", HTTP_X_FORWARDED_PROTO="https")
    assert response.status_code == 301
    assert response["Location"].startswith("https://")


def proxy_ssl_header(**env: str) -> str:
    code = "import coe.settings as s; print(getattr(s, 'SECURE_PROXY_SSL_HEADER', None))"
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env=clean_env(DATABASE_URL=SOME_DATABASE, SECRET_KEY="x", **env),
        capture_output=True,
        text=True,
        check=True,
    )
    return result.stdout.strip()


def test_x_forwarded_proto_is_believed_only_when_a_setting_says_a_proxy_sets_it():
    assert proxy_ssl_header() == "None"
    assert proxy_ssl_header(TRUST_X_FORWARDED_PROTO="false") == "None"
    assert proxy_ssl_header(TRUST_X_FORWARDED_PROTO="true") == "('HTTP_X_FORWARDED_PROTO', 'https')"


# --- Brute force on the log-in forms -----------------------------------------------------------------------------


def wrong_passwords(client, url: str, username: str, times: int) -> list[int]:
    return [client.post(url, {"username": username, "password": f"wrong-{n}"}).status_code for n in range(times)]


@pytest.mark.parametrize("url", ["/accounts/login/", "/admin/login/"])
def test_the_eleventh_wrong_password_is_refused(client, url, roles):
    admin = UserFactory(username="root", is_staff=True, is_superuser=True)
    # The 10th failure locks the address out (and is answered so); the 11th attempt is not even checked.
    codes = wrong_passwords(client, url, admin.username, 11)
    assert codes == [200] * 9 + [429, 429]
    # Refused whatever the password, and whichever name is tried from the same address.
    assert client.post(url, {"username": admin.username, "password": "pw"}).status_code == 429
    assert client.post(url, {"username": "someone-else", "password": "pw"}).status_code == 429


def test_the_eleventh_wrong_password_is_refused_with_redis_down(client, redis_down, reviewer):
    codes = wrong_passwords(client, "/accounts/login/", reviewer.username, 11)
    assert codes == [200] * 9 + [429, 429]
    assert client.post("/accounts/login/", {"username": reviewer.username, "password": "pw"}).status_code == 429


def test_another_address_may_still_log_in(client, reviewer):
    wrong_passwords(client, "/accounts/login/", reviewer.username, 11)
    other = Client(REMOTE_ADDR="192.0.2.7")
    response = other.post("/accounts/login/", {"username": reviewer.username, "password": "pw"})
    assert response.status_code == 302


def test_x_forwarded_for_does_not_escape_the_count(client, reviewer):
    codes = [
        client.post(
            "/accounts/login/",
            {"username": reviewer.username, "password": "wrong"},
            HTTP_X_FORWARDED_FOR=f"198.51.100.{n}",
        ).status_code
        for n in range(11)
    ]
    assert codes[10] == 429


def test_behind_a_trusted_proxy_the_forwarded_address_is_counted(client, reviewer, settings):
    settings.TRUSTED_PROXY_COUNT = 1
    for n in range(12):
        response = client.post(
            "/accounts/login/",
            {"username": reviewer.username, "password": "wrong"},
            HTTP_X_FORWARDED_FOR=f"forged, 198.51.100.{n % 2}",
        )
        assert response.status_code == 200
    assert (
        client.post(
            "/accounts/login/", {"username": reviewer.username, "password": "pw"}, HTTP_X_FORWARDED_FOR="203.0.113.9"
        ).status_code
        == 302
    )


def test_a_successful_log_in_resets_the_count(client, reviewer):
    wrong_passwords(client, "/accounts/login/", reviewer.username, 9)
    assert client.post("/accounts/login/", {"username": reviewer.username, "password": "pw"}).status_code == 302
    client.logout()
    assert wrong_passwords(client, "/accounts/login/", reviewer.username, 10) == [200] * 9 + [429]


# --- Brute force on API tokens -----------------------------------------------------------------------------------


def bad_tokens(client, times: int) -> list:
    return [
        client.get("/api/v1/incidents/", HTTP_AUTHORIZATION=f"Bearer coe_guess{n}_{'x' * 20}") for n in range(times)
    ]


def test_guessing_tokens_is_throttled_per_address(client, reviewer, db):
    responses = bad_tokens(client, 150)
    codes = [r.status_code for r in responses]
    assert codes[:20] == [401] * 20
    assert set(codes[20:]) == {429}
    refused = responses[-1]
    assert int(refused["Retry-After"]) > 0
    assert refused.json()["error"]["code"] == "throttled"
    # Every further guess from that address is refused; another address's guesses are not. A valid token
    # still works (it is looked up first, so it costs no count): only guessing one is slowed.
    assert bad_tokens(client, 1)[0].status_code == 429
    assert bad_tokens(Client(REMOTE_ADDR="192.0.2.7"), 1)[0].status_code == 401
    token = token_for(reviewer)
    assert client.get("/api/v1/incidents/", HTTP_AUTHORIZATION=f"Bearer {token}").status_code == 200


def test_guessing_tokens_is_throttled_with_redis_down(client, redis_down, db):
    codes = [r.status_code for r in bad_tokens(client, 30)]
    assert codes == [401] * 20 + [429] * 10


# --- The API without Redis ---------------------------------------------------------------------------------------


def test_redis_stopped_under_api_load_gives_no_500(redis_down, reviewer, caplog):
    incident = IncidentFactory()
    token = token_for(reviewer, scope="write")
    client = Client(raise_request_exception=False, HTTP_AUTHORIZATION=f"Bearer {token}")
    urls = [
        "/api/v1/incidents/",
        f"/api/v1/incidents/{incident.key}/",
        "/api/v1/metrics/",
        "/api/v1/feed/",
        "/api/v1/sources/",
    ]
    codes = [client.get(urls[n % len(urls)]).status_code for n in range(100)]
    created = client.post(
        "/api/v1/incidents/",
        {
            "title": "Made while Redis is down",
            "severity": "SEV3",
            "started_at": "2026-01-02T03:04:05Z",
            "detected_at": "2026-01-02T03:05:00Z",
        },
        content_type="application/json",
    )
    codes.append(created.status_code)
    assert codes.count(500) == 0, codes
    assert set(codes) <= {200, 201, 400}, codes
    assert "count in each process" in caplog.text


def test_the_throttle_still_counts_per_process_with_redis_down(redis_down, reviewer, monkeypatch):
    monkeypatch.setattr(throttling.UserRateThrottle, "rate", "5/minute", raising=False)
    client = Client(raise_request_exception=False, HTTP_AUTHORIZATION=f"Bearer {token_for(reviewer)}")
    responses = [client.get("/api/v1/incidents/") for _ in range(7)]
    assert [r.status_code for r in responses] == [200] * 5 + [429] * 2
    assert int(responses[-1]["Retry-After"]) > 0


# --- JSON on every API error -------------------------------------------------------------------------------------


def test_an_unexpected_error_under_api_answers_json(reviewer, monkeypatch):
    from incidents.api import views

    def broken(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(views.IncidentViewSet, "list", broken)
    token = token_for(reviewer)
    response = Client(raise_request_exception=False).get("/api/v1/incidents/", HTTP_AUTHORIZATION=f"Bearer {token}")
    assert response.status_code == 500
    assert response["Content-Type"] == "application/json"
    assert response.json() == {
        "error": {"status": 500, "code": "server_error", "detail": response.json()["error"]["detail"]}
    }
    assert "boom" not in response.content.decode()


def test_an_unknown_api_url_answers_json(client, db):
    response = client.get("/api/v2/incidents/")  # outside the catch-all of /api/v1/
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


def test_pages_keep_djangos_html_errors(client_for, reviewer):
    response = client_for(reviewer).get("/no-such-page/")
    assert response.status_code == 404
    assert response["Content-Type"].startswith("text/html")


# --- /readyz -----------------------------------------------------------------------------------------------------


@pytest.fixture
def broker_down():
    from coe.celery import app

    original = app.conf.broker_url
    app.conf.broker_url = "redis://127.0.0.1:9/0"
    yield
    app.conf.broker_url = original


def test_readyz_stays_ready_for_the_web_tier_with_redis_down(client, broker_down, redis_down, db):
    response = client.get("/readyz")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "degraded"
    assert body["checks"]["database"] == "ok"
    assert body["checks"]["broker"].startswith("down:")
    assert body["checks"]["cache"].startswith("down:")
    # The site itself still serves.


def test_readyz_workers_is_unavailable_without_the_broker(client, broker_down, db):
    response = client.get("/readyz/workers")
    assert response.status_code == 503
    assert response.json()["status"] == "unavailable"


def test_readyz_is_unavailable_without_the_database(client, monkeypatch, db):
    from incidents import health

    monkeypatch.setattr(health, "_check_database", lambda: "OperationalError: down")
    assert client.get("/readyz").status_code == 503
    assert client.get("/readyz/workers").status_code == 503


def test_readyz_is_ok_when_everything_answers(client, db):
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.json()["status"] == "ok"
    assert client.get("/readyz/workers").status_code == 200
