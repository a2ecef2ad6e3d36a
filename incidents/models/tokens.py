"""API tokens for tools: shown once, stored only as a hash, revocable, optionally expiring."""

from __future__ import annotations

import hashlib
import secrets

from django.conf import settings
from django.db import models
from django.utils import timezone


class TokenScope(models.TextChoices):
    READ = "read", "Read"
    WRITE = "write", "Read and write"


def _digest(secret: str) -> str:
    # Tokens are long random strings, so a fast hash is enough: there is
    # nothing to brute-force that a slow password hash would protect.
    return hashlib.sha256(secret.encode()).hexdigest()


class ApiTokenQuerySet(models.QuerySet):
    def usable(self) -> ApiTokenQuerySet:
        now = timezone.now()
        return self.filter(revoked_at__isnull=True).filter(
            models.Q(expires_at__isnull=True) | models.Q(expires_at__gt=now)
        )


class ApiToken(models.Model):
    PREFIX = "coe"

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=100, help_text="What uses it, e.g. 'BI dashboard'.")
    scope = models.CharField(max_length=5, choices=TokenScope.choices, default=TokenScope.READ)
    # The public part identifies the row; only the hash of the secret is kept.
    key_id = models.CharField(max_length=16, unique=True, editable=False)
    key_hash = models.CharField(max_length=64, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    objects = ApiTokenQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        verbose_name = "API token"

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
        token = cls.objects.usable().select_related("user").filter(key_id=key_id).first()
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
        self.revoked_at = ApiToken.objects.filter(pk=self.pk).values_list("revoked_at", flat=True).first() or now

    def touch(self) -> None:
        """Record use, at most once a minute, so reads do not each cost a write."""
        now = timezone.now()
        if self.last_used_at is None or (now - self.last_used_at).total_seconds() > 60:
            ApiToken.objects.filter(pk=self.pk).update(last_used_at=now)
            self.last_used_at = now
