"""Cursor pagination: no COUNT(*) per request, and pages stay stable while rows are inserted."""

from rest_framework.pagination import CursorPagination


class IncidentCursorPagination(CursorPagination):
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 200
    ordering = ("-started_at", "-id")


class UpdatedCursorPagination(CursorPagination):
    """Oldest change first, so a client can resume from the last `updated_at` it saw."""

    page_size = 100
    page_size_query_param = "page_size"
    max_page_size = 500
    ordering = ("updated_at", "id")

    def get_ordering(self, request, queryset, view):
        # Resources without updated_at page by their view's own ordering.
        if not hasattr(queryset.model, "updated_at"):
            return tuple(getattr(view, "ordering", None) or ("id",))
        return super().get_ordering(request, queryset, view)
