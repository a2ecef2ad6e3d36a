"""System checks for a production deploy (`manage.py check --deploy`)."""

from django.conf import settings
from django.core.checks import Tags, Warning, register


@register(Tags.database, deploy=True)
def embedded_database(app_configs, **kwargs):
    """The embedded PostgreSQL is one developer's server in the project folder, not a production database."""
    if getattr(settings, "EMBEDDED_DATABASE", False):
        return [
            Warning(
                "DATABASE_URL is unset, so the app runs on the embedded development PostgreSQL in .pgdata/.",
                hint="Set DATABASE_URL to the production PostgreSQL server.",
                id="coe.W001",
            )
        ]
    return []


@register(Tags.caches, deploy=True)
def shared_cache(app_configs, **kwargs):
    """Without Redis the cache and Celery's broker are files on one machine: web and workers elsewhere miss them."""
    if not settings.REDIS_URL:
        return [
            Warning(
                "REDIS_URL is unset, so the cache and Celery's broker are files under .local/ on this machine.",
                hint="Set REDIS_URL so every web process and worker shares the cache and the queue.",
                id="coe.W002",
            )
        ]
    return []
