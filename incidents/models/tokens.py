"""API tokens for tools: shown once, stored only as a hash, revocable, optionally expiring."""

from __future__ import annotations

import functools
import hashlib
import secrets
import time

from django.conf import settings
from django.db import connection, models
from django.db.models.functions import Now
from django.utils import timezone

from .bounds import in_planning_horizon, stored_range


class TokenScope(models.TextChoices):
    READ = "read", "Read"
    WRITE = "write", "Read and write"


def _digest(secret: str) -> str:
    # Tokens are long random strings, so a fast hash is enough: there is
    # nothing to brute-force that a slow password hash would protect.
    return hashlib.sha256(secret.encode()).hexdigest()


class ApiTokenQuerySet(models.QuerySet):
    def usable(self) -> ApiTokenQuerySet:
        # The database's clock (not a parameter), so the lookup's SQL is the same on every request.
        return self.filter(revoked_at__isnull=True).filter(
            models.Q(expires_at__isnull=True) | models.Q(expires_at__gt=Now())
        )

    def for_key(self, key_id: str) -> ApiTokenQuerySet:
        return self.usable().select_related("user").filter(key_id=key_id).order_by()[:1]


# Stands for the key id in the lookup compiled once (see _lookup).
_KEY_PLACEHOLDER = "\x00key-id\x00"


@functools.cache
def _lookup_statement(alias: str) -> tuple[str, tuple, int]:
    """The token-with-user lookup as SQL, compiled by the ORM once per process and database."""
    sql, params = ApiToken.objects.for_key(_KEY_PLACEHOLDER).query.get_compiler(using=alias).as_sql()
    return sql, params, params.index(_KEY_PLACEHOLDER)


# Rows of tokens this process looked up lately: key id -> (monotonic time it was read, row).
_recent: dict[str, tuple[float, tuple]] = {}
_RECENT_MAX = 1000


def forget_recent_tokens() -> None:
    """Drop every row _lookup remembers in this process."""
    _recent.clear()


def _row(key_id: str) -> tuple | None:
    """The token-with-user row, read from the database at most once per API_TOKEN_MEMORY_SECONDS per process.

    Every API request authenticates; under load nearly all of them carry a token this process has just
    seen, and reading its row again was a round trip per request (a sixth of the API detail's time).
    Only rows of usable tokens are remembered, their secret's hash still checked on every request; a token
    revoked, or a user deactivated, stops working at once in this process and within that time in others.
    """
    now = time.monotonic()
    seconds = settings.API_TOKEN_MEMORY_SECONDS
    if seconds and (kept := _recent.get(key_id)) is not None and now - kept[0] < seconds:
        return kept[1]
    sql, params, position = _lookup_statement(connection.alias)
    params = (*params[:position], key_id, *params[position + 1 :])
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        row = cursor.fetchone()
    if row is not None and seconds:
        if len(_recent) >= _RECENT_MAX:
            _recent.clear()
        _recent[key_id] = (now, row)
    return row


def _lookup(key_id: str) -> ApiToken | None:
    """Every API request authenticates: the lookup skips building and compiling a queryset.

    The row holds the token's concrete columns and then the user's, as select_related
    selects them; PostgreSQL's driver already returns them as Python values.
    """
    row = _row(key_id)
    if row is None:
        return None
    token_fields = ApiToken._meta.concrete_fields
    user_model = ApiToken._meta.get_field("user").related_model
    token = ApiToken.from_db(connection.alias, [f.attname for f in token_fields], row[: len(token_fields)])
    user_fields = user_model._meta.concrete_fields
    token.user = user_model.from_db(connection.alias, [f.attname for f in user_fields], row[len(token_fields) :])
    return token


class ApiToken(models.Model):
    PREFIX = "coe"

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=100, help_text="What uses it, e.g. 'BI dashboard'.")
    scope = models.CharField(max_length=5, choices=TokenScope.choices, default=TokenScope.READ)
    # The public part identifies the row; only the hash of the secret is kept.
    key_id = models.CharField(max_length=16, unique=True, editable=False)
    key_hash = models.CharField(max_length=64, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField(null=True, blank=True, validators=[in_planning_horizon])
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    objects = ApiTokenQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        verbose_name = "API token"
        constraints = [
            stored_range("apitoken", column) for column in ("created_at", "expires_at", "last_used_at", "revoked_at")
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.user}, {self.scope})"

    @classmethod
    def issue(cls, *, user, name: str, scope: str = TokenScope.READ, expires_at=None) -> tuple[ApiToken, str]:
        """Create a token and return it with its plain text, which is never stored."""
        key_id = secrets.token_hex(6)
        secret = secrets.token_urlsafe(32)
        token = cls.objects.create(
            user=user, name=name, scope=scope, key_id=key_id, key_hash=_digest(secret), expires_at=expires_at
        )
        return token, f"{cls.PREFIX}_{key_id}_{secret}"

    @classmethod
    def authenticate(cls, plain: str) -> ApiToken | None:
        prefix, _, rest = plain.partition("_")
        key_id, _, secret = rest.partition("_")
        if prefix != cls.PREFIX or not key_id or not secret:
            return None
        token = _lookup(key_id)
        if token is None or not secrets.compare_digest(token.key_hash, _digest(secret)):
            return None
        return token

    @property
    def is_usable(self) -> bool:
        return self.revoked_at is None and (self.expires_at is None or self.expires_at > timezone.now())

    def revoke(self) -> None:
        """Stop the token working from now on (saved at once; revoking again keeps the first time)."""
        now = timezone.now()
        ApiToken.objects.filter(pk=self.pk, revoked_at__isnull=True).update(revoked_at=now)
        _recent.pop(self.key_id, None)  # refused at once by this process
        self.revoked_at = ApiToken.objects.filter(pk=self.pk).values_list("revoked_at", flat=True).first() or now

    def touch(self) -> None:
        """Record use, at most once a minute, so reads do not each cost a write."""
        now = timezone.now()
        if self.last_used_at is None or (now - self.last_used_at).total_seconds() > 60:
            ApiToken.objects.filter(pk=self.pk).update(last_used_at=now)
            self.last_used_at = now
            _recent.pop(self.key_id, None)  # or every request until it is read again would update it
