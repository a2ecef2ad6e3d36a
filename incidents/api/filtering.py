"""Filters that refuse what they do not understand, and a stable sort order."""

from django_filters.rest_framework import DjangoFilterBackend
from rest_framework.exceptions import ValidationError
from rest_framework.filters import OrderingFilter

# Parameters every list understands besides its filters.
_COMMON = {"cursor", "page_size", "ordering", "format"}


class StrictDjangoFilterBackend(DjangoFilterBackend):
    """An unknown query parameter is a 400, not silently ignored.

    A typo like ?severty=SEV1 would otherwise return every incident, and the
    tool would never know its filter did nothing.
    """

    def filter_queryset(self, request, queryset, view):
        filterset_class = self.get_filterset_class(view, queryset)
        known = set(_COMMON)
        if filterset_class is not None:
            known |= set(filterset_class.base_filters)
        unknown = sorted(set(request.query_params) - known)
        if unknown:
            raise ValidationError(
                {name: [f"Unknown parameter. Known: {', '.join(sorted(known))}."] for name in unknown}
            )
        return super().filter_queryset(request, queryset, view)


class TiebreakOrderingFilter(OrderingFilter):
    """Always end the order on id, so cursor pages never skip or repeat rows with equal keys."""

    def get_ordering(self, request, queryset, view):
        ordering = super().get_ordering(request, queryset, view)
        if ordering and not any(field.lstrip("-") == "id" for field in ordering):
            ordering = [*ordering, "-id" if ordering[0].startswith("-") else "id"]
        return ordering
