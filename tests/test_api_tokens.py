"""API tokens: issued once by a command, stored hashed, revocable, expiring, scoped.

Who may call what is in test_api.py; here is what makes a token work or not.
"""

from datetime import timedelta
from io import StringIO

import pytest
from django.contrib.auth.models import AnonymousUser
from django.core.cache import cache
from django.core.management import CommandError, call_command
from django.db import connection
from django.test import Client
from django.utils import timezone

from incidents.api.permissions import TokenScopeAllows
from incidents.models import ApiToken, Incident, TokenScope, tokens

from .factories import IncidentFactory, UserFactory

pytestmark = pytest.mark.django_db

INCIDENTS = "/api/v1/incidents/"


@pytest.fixture(autouse=True)
def _fresh_throttles():
    # Throttle counts live in the cache; one test must not use up another's.
    cache.clear()
    yield
    cache.clear()


def bearer(plain: str) -> Client:
    return Client(headers={"Authorization": f"Bearer {plain}"})


def issue(user, scope=TokenScope.READ, **kwargs) -> tuple[ApiToken, str]:
    return ApiToken.issue(user=user, name="test", scope=scope, **kwargs)


def run_command(*args) -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    call_command("create_api_token", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def every_stored_value() -> str:
    """Every value in every table of the test database, as one string."""
    texts = []
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names(cursor):
            cursor.execute(f'SELECT * FROM "{table}"')  # table names come from the database itself
            texts.extend(repr(row) for row in cursor.fetchall())
    return "\n".join(texts)


class TestCreateApiTokenCommand:
    @pytest.mark.parametrize("scope", ["read", "write"])
    def test_prints_the_token_once_and_it_works(self, reviewer, scope):
        out, err = run_command("--user", "rita", "--scope", scope, "--name", "BI dashboard")
        plain = out.strip()
        # stdout is the token alone, so `TOKEN=$(manage.py create_api_token ...)` works.
        assert plain.count("\n") == 0
        assert plain.startswith("coe_")
        assert plain not in err
        assert "shown only this once" in err

        token = ApiToken.objects.get()
        assert (token.user, token.scope, token.name) == (reviewer, scope, "BI dashboard")
        assert token.expires_at is None
        assert bearer(plain).get(INCIDENTS).status_code == 200

    def test_the_database_never_holds_the_plain_token(self, reviewer):
        out, _ = run_command("--user", "rita", "--scope", "write")
        plain = out.strip()
        # coe_<key id>_<secret>; the secret is URL-safe base64, which may hold "_" itself.
        secret = plain.split("_", 2)[2]
        assert len(secret) == 43
        # Use it too, so last_used_at and any session-ish writes happen.
        assert bearer(plain).get(INCIDENTS).status_code == 200

        stored = every_stored_value()
        assert plain not in stored
        assert secret not in stored
        token = ApiToken.objects.get()
        assert len(token.key_hash) == 64
        assert token.key_hash != secret

    def test_the_default_scope_is_read(self, reviewer):
        run_command("--user", "rita")
        assert ApiToken.objects.get().scope == TokenScope.READ

    def test_expiry_in_days(self, reviewer):
        before = timezone.now()
        run_command("--user", "rita", "--expires-in-days", "30")
        expires_at = ApiToken.objects.get().expires_at
        assert before + timedelta(days=30) <= expires_at <= timezone.now() + timedelta(days=30)

    @pytest.mark.parametrize(
        ("args", "message"),
        [
            (["--user", "nobody"], "No user named 'nobody'"),
            (["--user", "rita", "--scope", "admin"], "invalid choice"),
            (["--user", "rita", "--expires-in-days", "0"], "at least 1"),
            (["--user", "rita", "--expires-in-days", "-3"], "at least 1"),
            (["--scope", "read"], "--user"),
        ],
    )
    def test_refuses_bad_arguments_and_issues_nothing(self, reviewer, args, message):
        with pytest.raises(CommandError, match=message):
            run_command(*args)
        assert not ApiToken.objects.exists()

    def test_each_run_issues_a_different_token(self, reviewer):
        first, _ = run_command("--user", "rita")
        second, _ = run_command("--user", "rita")
        assert first != second
        assert ApiToken.objects.count() == 2


class TestBearerAuthentication:
    def test_no_credentials_is_401_with_a_challenge(self, client):
        response = client.get(INCIDENTS)
        assert response.status_code == 401
        assert response["WWW-Authenticate"] == 'Bearer realm="api"'
        assert response.json()["error"]["code"] == "not_authenticated"

    @pytest.mark.parametrize(
        "header",
        [
            "Bearer nonsense",
            "Bearer coe_",
            "Bearer coe__",
            "Bearer coe_abc",
            "Bearer coe_0123456789ab_wrongsecret",
            "Bearer xyz_0123456789ab_secret",
            "Bearer",
            "Bearer two words",
            "Bearer \u00e9\u00e9\u00e9",
        ],
    )
    def test_garbage_tokens_are_401(self, reviewer, header):
        issue(reviewer)  # a real token exists; garbage must still not match it
        response = Client(headers={"Authorization": header}).get(INCIDENTS)
        assert response.status_code == 401
        body = response.json()["error"]
        assert body["status"] == 401
        assert body["code"] == "authentication_failed"
        assert response["WWW-Authenticate"] == 'Bearer realm="api"'

    def test_the_right_key_id_with_a_wrong_secret_is_401(self, reviewer):
        _, plain = issue(reviewer)
        forged = plain[:-4] + ("aaaa" if not plain.endswith("aaaa") else "bbbb")
        assert bearer(forged).get(INCIDENTS).status_code == 401

    def test_other_schemes_are_not_credentials(self, reviewer):
        response = Client(headers={"Authorization": "Basic cml0YTpwdw=="}).get(INCIDENTS)
        assert response.status_code == 401

    def test_the_keyword_is_case_insensitive(self, reviewer):
        _, plain = issue(reviewer)
        assert Client(headers={"Authorization": f"bearer {plain}"}).get(INCIDENTS).status_code == 200

    def test_a_revoked_token_is_401(self, reviewer):
        token, plain = issue(reviewer)
        client = bearer(plain)
        for _ in range(2):
            assert client.get(INCIDENTS).status_code == 200
        token.revoke()
        assert ApiToken.objects.get().revoked_at is not None
        response = client.get(INCIDENTS)
        assert response.status_code == 401
        assert response.json()["error"]["detail"] == "Invalid, expired or revoked token."

    def test_the_lookup_gives_the_token_and_its_user_whole(self, reviewer):
        token, plain = issue(reviewer, scope=TokenScope.WRITE)
        found = ApiToken.authenticate(plain)
        assert (found.pk, found.scope, found.key_hash, found.user_id) == (
            token.pk,
            "write",
            token.key_hash,
            reviewer.pk,
        )
        assert (found.user.username, found.user.is_active, found.user.password) == (
            reviewer.username,
            True,
            reviewer.password,
        )
        assert found.created_at == ApiToken.objects.get(pk=token.pk).created_at

    def test_revoking_twice_keeps_the_first_time(self, reviewer):
        token, _ = issue(reviewer)
        token.revoke()
        first = ApiToken.objects.get().revoked_at
        token.revoke()
        assert ApiToken.objects.get().revoked_at == first

    def test_the_admin_action_revokes(self, reviewer, admin_client):
        token, plain = issue(reviewer)
        response = admin_client.post(
            "/admin/incidents/apitoken/", {"action": "revoke", "_selected_action": [token.pk]}, follow=True
        )
        assert response.status_code == 200
        assert bearer(plain).get(INCIDENTS).status_code == 401

    @pytest.mark.parametrize(
        ("expires_in", "expected"),
        [(timedelta(days=-1), 401), (timedelta(seconds=-1), 401), (timedelta(minutes=5), 200), (None, 200)],
    )
    def test_expiry(self, reviewer, expires_in, expected):
        expires_at = timezone.now() + expires_in if expires_in is not None else None
        _, plain = issue(reviewer, expires_at=expires_at)
        assert bearer(plain).get(INCIDENTS).status_code == expected

    def test_a_token_of_a_deactivated_user_is_401(self, reviewer):
        _, plain = issue(reviewer)
        reviewer.is_active = False
        reviewer.save()
        assert bearer(plain).get(INCIDENTS).status_code == 401

    def test_a_bad_token_is_401_even_with_a_session(self, client_for, reviewer):
        # Someone sending a token means it; a broken token must not silently fall back to the cookie.
        client = client_for(reviewer)
        assert client.get(INCIDENTS).status_code == 200
        assert client.get(INCIDENTS, headers={"Authorization": "Bearer coe_nope_nope"}).status_code == 401

    def test_the_token_acts_as_its_user(self, reviewer, outsider, restricted_incident):
        _, rita = issue(reviewer)
        _, olga = issue(outsider)
        assert bearer(rita).get(f"{INCIDENTS}{restricted_incident.key}/").status_code == 200
        assert bearer(olga).get(f"{INCIDENTS}{restricted_incident.key}/").status_code == 404


class TestLastUsed:
    def test_use_is_recorded(self, reviewer):
        token, plain = issue(reviewer)
        assert token.last_used_at is None
        before = timezone.now()
        bearer(plain).get(INCIDENTS)
        token.refresh_from_db()
        assert before <= token.last_used_at <= timezone.now()

    def test_recorded_at_most_once_a_minute(self, reviewer, django_assert_num_queries):
        token, plain = issue(reviewer)
        client = bearer(plain)
        client.get(INCIDENTS)
        token.refresh_from_db()
        first = token.last_used_at
        # 1 the token with its user, 2 the page of incidents: no UPDATE of last_used_at.
        with django_assert_num_queries(2):
            client.get(INCIDENTS)
        token.refresh_from_db()
        assert token.last_used_at == first

    def test_recorded_again_after_a_minute(self, reviewer):
        token, plain = issue(reviewer)
        stale = timezone.now() - timedelta(minutes=5)
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=stale)
        bearer(plain).get(INCIDENTS)
        token.refresh_from_db()
        assert token.last_used_at > stale

    def test_a_failed_attempt_is_not_recorded_as_use(self, reviewer):
        token, plain = issue(reviewer, expires_at=timezone.now() - timedelta(days=1))
        bearer(plain).get(INCIDENTS)
        token.refresh_from_db()
        assert token.last_used_at is None


class TestScopes:
    def test_a_read_token_reads(self, reviewer):
        IncidentFactory()
        _, plain = issue(reviewer, TokenScope.READ)
        assert bearer(plain).get(INCIDENTS).status_code == 200

    def test_a_read_token_cannot_write_even_for_a_writer(self, reviewer):
        _, plain = issue(reviewer, TokenScope.READ)
        response = bearer(plain).post(
            INCIDENTS,
            {"title": "x", "severity": "SEV3", "started_at": "2025-10-20T06:48:00Z"},
            content_type="application/json",
        )
        assert response.status_code == 403
        assert response.json()["error"]["code"] == "permission_denied"
        assert "write scope" in response.json()["error"]["detail"]
        assert not Incident.objects.exists()

    def test_a_write_token_writes(self, reviewer):
        _, plain = issue(reviewer, TokenScope.WRITE)
        response = bearer(plain).post(
            INCIDENTS,
            {"title": "x", "severity": "SEV3", "started_at": "2025-10-20T06:48:00Z"},
            content_type="application/json",
        )
        assert response.status_code == 201, response.content
        assert Incident.objects.get().owner == reviewer

    @pytest.mark.parametrize(
        ("method", "scope", "allowed"),
        [
            ("GET", TokenScope.READ, True),
            ("HEAD", TokenScope.READ, True),
            ("OPTIONS", TokenScope.READ, True),
            ("POST", TokenScope.READ, False),
            ("PUT", TokenScope.READ, False),
            ("PATCH", TokenScope.READ, False),
            ("DELETE", TokenScope.READ, False),
            ("POST", TokenScope.WRITE, True),
            ("PATCH", TokenScope.WRITE, True),
        ],
    )
    def test_the_scope_rule(self, rf, method, scope, allowed):
        user = UserFactory()
        token, _ = issue(user, scope)
        request = rf.generic(method, "/")
        request.auth = token
        request.user = user
        assert TokenScopeAllows().has_permission(request, view=None) is allowed

    def test_the_scope_rule_leaves_sessions_to_model_permissions(self, rf):
        request = rf.post("/")
        request.auth = None
        request.user = AnonymousUser()
        assert TokenScopeAllows().has_permission(request, view=None) is True


class TestRememberedTokens:
    """A process trusts a token's row it has just read for API_TOKEN_MEMORY_SECONDS (incidents/models/tokens.py)."""

    @pytest.fixture(autouse=True)
    def _one_second(self, settings):
        settings.API_TOKEN_MEMORY_SECONDS = 1
        tokens.forget_recent_tokens()
        yield
        tokens.forget_recent_tokens()

    def test_a_token_used_again_at_once_costs_no_lookup(self, reviewer, django_assert_num_queries):
        _, plain = issue(reviewer)
        client = bearer(plain)
        # The first use records the time (and drops the remembered row, now out of date); the second reads it again.
        for _ in range(2):
            assert client.get(f"{INCIDENTS}?page_size=1").status_code == 200
        # 1. the page of incidents (the token's row is remembered)
        with django_assert_num_queries(1):
            assert client.get(f"{INCIDENTS}?page_size=1").status_code == 200

    def test_a_revoked_token_is_refused_at_once_by_the_process_that_revoked_it(self, reviewer):
        token, plain = issue(reviewer)
        client = bearer(plain)
        for _ in range(2):
            assert client.get(INCIDENTS).status_code == 200
        token.revoke()
        assert client.get(INCIDENTS).status_code == 401

    def test_a_change_made_elsewhere_is_seen_once_the_memory_runs_out(self, reviewer, monkeypatch):
        _, plain = issue(reviewer)
        client = bearer(plain)
        for _ in range(2):  # the second use is the one remembered (see above)
            assert client.get(INCIDENTS).status_code == 200
        # Another process deactivates the user: this one has not heard of it.
        type(reviewer).objects.filter(pk=reviewer.pk).update(is_active=False)
        assert client.get(INCIDENTS).status_code == 200
        later = tokens.time.monotonic() + 1.01
        monkeypatch.setattr(tokens.time, "monotonic", lambda: later)
        assert client.get(INCIDENTS).status_code == 401

    def test_the_secret_is_checked_on_every_request(self, reviewer):
        _, plain = issue(reviewer)
        assert bearer(plain).get(INCIDENTS).status_code == 200
        assert bearer(plain[:-2] + ("xx" if not plain.endswith("xx") else "yy")).get(INCIDENTS).status_code == 401

    def test_with_no_memory_every_request_reads_the_row(self, reviewer, settings):
        settings.API_TOKEN_MEMORY_SECONDS = 0
        _, plain = issue(reviewer)
        client = bearer(plain)
        assert client.get(INCIDENTS).status_code == 200
        type(reviewer).objects.filter(pk=reviewer.pk).update(is_active=False)
        assert client.get(INCIDENTS).status_code == 401
