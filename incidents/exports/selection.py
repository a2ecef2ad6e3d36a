"""Which incidents an export holds: those the reader may see, narrowed by the incident list's filters."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.db.models import QuerySet
from django.http import QueryDict

from incidents.filters import IncidentFilter
from incidents.models import Incident

# Query parameters the list page's link carries that are not filters.
NOT_FILTERS = {"page", "format"}


class ExportError(ValueError):
    """The export cannot be made as asked (an unknown filter, a value it could not read)."""


def whole_database_reader():
    """Who the command line exports as when no --as-user is given: its operator holds the database
    itself, so it reads what a superuser reads. An unsaved user, so nothing is written."""
    return get_user_model()(username="command-line export", is_superuser=True)


class _Request:
    """What IncidentFilter reads from a request: the user, whose services and regions it offers."""

    def __init__(self, user):
        self.user = user


def select_incidents(*, user, query: str = "") -> QuerySet[Incident]:
    """The incidents visible to `user` that `query` (the incident list's query string) selects, by key.

    An unknown parameter or a value the filter rejects is an ExportError naming it, never a
    silently larger export.
    """
    params = QueryDict(query, mutable=True)
    for name in NOT_FILTERS:
        params.pop(name, None)
    unknown = sorted(set(params) - set(IncidentFilter.base_filters))
    if unknown:
        raise ExportError(
            f"Unknown filter: {', '.join(unknown)}. Known: {', '.join(sorted(IncidentFilter.base_filters))}."
        )
    filterset = IncidentFilter(params, queryset=Incident.objects.visible_to(user), request=_Request(user))
    if not filterset.is_valid():
        problems = "; ".join(f"{name}: {' '.join(errors)}" for name, errors in filterset.errors.items())
        raise ExportError(f"Filter not understood: {problems}")
    return filterset.qs.order_by("key")
