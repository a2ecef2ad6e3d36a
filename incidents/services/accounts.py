"""A person's own settings: API tokens and the reminder preference. The dashboard reads neither."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from incidents.models import ApiToken, NotificationPreference, TokenScope

from ._base import service


@service(dashboard=False)
def api_token_create(
    *, user, name: str, scope: str = TokenScope.READ, expires_in_days: int | None = None
) -> tuple[ApiToken, str]:
    """Issue a token; returns it with its plain text, shown once and stored only as a hash."""
    expires_at = timezone.now() + timedelta(days=expires_in_days) if expires_in_days else None
    return ApiToken.issue(user=user, name=name, scope=scope, expires_at=expires_at)


@service(dashboard=False)
def api_token_revoke(*, token: ApiToken) -> ApiToken:
    """Stop the token working from now on; revoking again keeps the first time."""
    token.revoke()
    return token


@service(dashboard=False)
def notification_preference_set(*, user, reminders_opt_out: bool) -> NotificationPreference:
    preference, _ = NotificationPreference.objects.update_or_create(
        user=user, defaults={"reminders_opt_out": reminders_opt_out}
    )
    return preference
