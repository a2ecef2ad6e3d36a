"""Settings read the environment and refuse malformed values loudly."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from coe import env

ROOT = Path(__file__).resolve().parent.parent


def clean_env(**overrides: str) -> dict[str, str]:
    """The variables a start-up sees: no developer's .env, only what a test names."""
    keep = {k: v for k, v in os.environ.items() if k in {"PATH", "HOME", "LANG"}}
    return {**keep, "PYTHONPATH": str(ROOT), "ENV_FILE": "", **overrides}


# Settings only parse the URL; nothing connects. Named, so no test starts the embedded server.
SOME_DATABASE = "postgres://coe@db.example.com:5432/coe"


def load_settings(**overrides: str) -> subprocess.CompletedProcess:
    """Import coe.settings in a fresh interpreter with exactly these variables (and a DATABASE_URL)."""
    return subprocess.run(
        [sys.executable, "-c", "import coe.settings as s; print(s.DEBUG, s.DATABASES['default']['ENGINE'])"],
        cwd=ROOT,
        env=clean_env(**{"DATABASE_URL": SOME_DATABASE, **overrides}),
        capture_output=True,
        text=True,
        check=False,
    )


def test_secret_key_is_required_when_debug_is_off(tmp_path):
    result = load_settings(DEBUG="false")
    assert result.returncode != 0
    assert "SECRET_KEY is required" in result.stderr


def test_without_database_url_the_embedded_server_is_used():
    # coe/local_postgres.py starts the project's own server and gives its URL (a Unix socket);
    # here a stand-in module gives one, so the test starts nothing.
    code = (
        "import sys, types; local = types.ModuleType('coe.local_postgres'); "
        "local.url = lambda: 'postgresql://coe@/coe_tracker?host=/tmp/sock'; sys.modules[local.__name__] = local; "
        "import coe.settings as s; d = s.DATABASES['default']; "
        "print(s.EMBEDDED_DATABASE, d['ENGINE'], d['NAME'], d['HOST'] or d['OPTIONS']['host'])"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=clean_env(DEBUG="true"), capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["True", "django.db.backends.postgresql", "coe_tracker", "/tmp/sock"]


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("DEBUG", "maybe", "DEBUG must be true or false"),
        ("DATABASE_URL", "mysql://db/coe", "DATABASE_URL must be a postgres:// URL (PostgreSQL is the only database)"),
        (
            "DATABASE_URL",
            "sqlite:///db.sqlite3",
            "DATABASE_URL must be a postgres:// URL (PostgreSQL is the only database), not 'sqlite:///db.sqlite3'.",
        ),
        ("DATABASE_URL", "not a url", "DATABASE_URL must be a postgres:// URL"),
        ("DATABASE_URL", "postgres://u@127.0.0.1:5432/", "DATABASE_URL names no database"),
        ("REDIS_URL", "http://127.0.0.1:6379", "REDIS_URL must start with"),
        ("COE_APPROVAL_TARGET_DAYS", "two weeks", "COE_APPROVAL_TARGET_DAYS must be a whole number"),
        ("COE_APPROVAL_TARGET_DAYS", "0", "must be at least 1"),
    ],
)
def test_malformed_values_stop_start_up(variable, value, message):
    result = load_settings(**{"DEBUG": "true", variable: value})
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert message in result.stderr


def test_postgres_url_is_parsed():
    result = load_settings(DEBUG="true", DATABASE_URL="postgres://u@127.0.0.1:5432/coe")
    assert result.returncode == 0, result.stderr
    assert result.stdout.split()[1] == "django.db.backends.postgresql"


class TestEnvHelpers:
    def test_bool_accepts_the_usual_spellings(self, monkeypatch):
        for raw, expected in [("true", True), ("1", True), ("YES", True), ("off", False), ("0", False)]:
            monkeypatch.setenv("FLAG", raw)
            assert env.env_bool("FLAG", default=not expected) is expected

    def test_blank_means_default(self, monkeypatch):
        monkeypatch.setenv("FLAG", "  ")
        assert env.env_bool("FLAG", default=True) is True
        assert env.env_int("FLAG", 7) == 7

    def test_only_postgres_urls_are_databases(self):
        assert env.database_config("postgresql://u@host:5432/coe")["ENGINE"] == "django.db.backends.postgresql"
        with pytest.raises(ImproperlyConfigured, match=r"DB must be a postgres:// URL .*, not 'sqlite:///x'"):
            env.database_config("sqlite:///x", "DB")
        with pytest.raises(ImproperlyConfigured, match="names no database"):
            env.database_config("postgres://u@host:5432/", "DB")


def test_production_settings_pass_check_deploy():
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=clean_env(
            DEBUG="false",
            SECRET_KEY="a-long-random-production-secret-key-with-enough-entropy-1234567890",
            ALLOWED_HOSTS="coe.example.com",
            DATABASE_URL=SOME_DATABASE,
            REDIS_URL="redis://cache.example.com:6379/0",
        ),
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize(("jit", "options"), [("", "-c jit=off"), ("false", "-c jit=off"), ("true", None)])
def test_postgres_connections_turn_jit_off_unless_asked(jit, options):
    # Compiling a plan cost more than running the dashboard's and the search's queries (bench/).
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            "import coe.settings as s; print(s.DATABASES['default'].get('OPTIONS', {}).get('options'))",
        ],
        cwd=ROOT,
        env=clean_env(DEBUG="true", DATABASE_URL="postgres://postgres@127.0.0.1:5432/coe", DB_JIT=jit),
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == str(options)
