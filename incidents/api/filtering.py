"""Filters that refuse what they do not understand, and a stable sort order."""

from django_filters.rest_framework import DjangoFilterBackend
from rest_framework.exceptions import ValidationError
from rest_framework.filters import OrderingFilter

# What ?format= may say on a list that exports CSV.
FORMATS = ("json", "csv")


def known_parameters(view, filterset_class=None) -> set[str]:
    """The query parameters a list understands: its filters, paging, ordering and format."""
    known = set()
    paginator = getattr(view, "paginator", None)
    if paginator is not None:
        known |= {getattr(paginator, "cursor_query_param", "cursor"), getattr(paginator, "page_size_query_param", None)}
    if any(issubclass(backend, OrderingFilter) for backend in view.filter_backends):
        known.add("ordering")
    if getattr(view, "csv_filename", None):
        known.add("format")
    if filterset_class is not None:
        known |= set(filterset_class.base_filters)
    return known - {None}


def check_query_parameters(request, known: set[str]) -> None:
    """400 for a parameter the view does not know, or for any value it could not store or compare.

    A typo like ?severty=SEV1 would otherwise return every incident, and the
    tool would never know its filter did nothing.
    """
    errors = {}
    for name in sorted(set(request.query_params) - known):
        errors[name] = [f"Unknown parameter. Known: {', '.join(sorted(known)) or 'none'}."]
    for name, values in request.query_params.lists():
        if any("\x00" in value for value in values):
            errors[name] = ["Null characters are not allowed."]
    if "format" in known and "format" not in errors:
        wanted = request.query_params.get("format")
        if wanted is not None and wanted not in FORMATS:
            errors["format"] = [f"Use one of: {', '.join(FORMATS)}."]
    if errors:
        raise ValidationError(errors)


class StrictDjangoFilterBackend(DjangoFilterBackend):
    """An unknown query parameter is a 400, not silently ignored."""

    def filter_queryset(self, request, queryset, view):
        check_query_parameters(request, known_parameters(view, self.get_filterset_class(view, queryset)))
        return super().filter_queryset(request, queryset, view)


class TiebreakOrderingFilter(OrderingFilter):
    """Orders only by the fields a list offers (anything else is a 400), and always ends on id,
    so cursor pages never skip or repeat rows with equal keys."""

    def get_ordering(self, request, queryset, view):
        params = request.query_params.get(self.ordering_param)
        if params is not None and params.strip():
            terms = [term.strip() for term in params.split(",")]
            valid = {name for name, _label in self.get_valid_fields(queryset, view, {"request": request})}
            wrong = [term for term in terms if term.lstrip("-") not in valid]
            if wrong or not terms:
                raise ValidationError(
                    {self.ordering_param: [f"Order by {', '.join(sorted(valid))}, each optionally with a leading '-'."]}
                )
        ordering = super().get_ordering(request, queryset, view)
        if ordering and not any(field.lstrip("-") == "id" for field in ordering):
            ordering = [*ordering, "-id" if ordering[0].startswith("-") else "id"]
        return ordering
