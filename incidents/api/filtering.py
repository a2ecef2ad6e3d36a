"""Filters that refuse what they do not understand, and a stable sort order."""

import functools

from django_filters.filters import QuerySetRequestMixin
from django_filters.rest_framework import DjangoFilterBackend
from django_filters.utils import translate_validation
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
        filterset = self.valid_filterset(request, queryset, view)
        return queryset if filterset is None else filterset.qs

    def valid_filterset(self, request, queryset, view):
        """The request's FilterSet, validated (a 400 for an unknown parameter or a bad value), or None."""
        every_filter = super().get_filterset_class(view, queryset)
        check_query_parameters(request, known_parameters(view, every_filter))
        filterset = self.get_filterset(request, queryset, view)
        if filterset is not None and not filterset.is_valid():
            raise translate_validation(filterset.errors)
        return filterset

    def get_filterset_class(self, view, queryset=None):
        filterset_class = super().get_filterset_class(view, queryset)
        request = getattr(view, "request", None)
        if filterset_class is None or request is None:
            return filterset_class
        asked = frozenset(name for name in request.query_params if name in filterset_class.base_filters)
        return _only(filterset_class, asked)


@functools.lru_cache(maxsize=512)
def _only(filterset_class, names: frozenset[str]):
    """The FilterSet with just the filters a request uses. A FilterSet deep-copies every
    filter and builds a form field for each on every request (milliseconds, most of a list
    page's Python time); filters a request does not use would filter nothing anyway.

    Its form class is built once, unless a filter's choices depend on the request (the services
    and regions a caller may see): building the fields and the form class was half of what
    validating a filtered list's parameters cost."""
    if names == filterset_class.base_filters.keys():
        return filterset_class
    body = {"__module__": filterset_class.__module__}
    base_filters = {name: f for name, f in filterset_class.base_filters.items() if name in names}
    if not any(isinstance(f, QuerySetRequestMixin) for f in base_filters.values()):
        body["get_form_class"] = _form_class_built_once
    narrowed = type(filterset_class.__name__, (filterset_class,), body)
    narrowed.base_filters = base_filters
    return narrowed


def _form_class_built_once(filterset):
    cls = type(filterset)
    if "_form_class" not in cls.__dict__:
        cls._form_class = super(cls, filterset).get_form_class()
    return cls._form_class


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
