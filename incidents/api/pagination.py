"""Cursor pagination: no COUNT(*) per request, and pages stay stable while rows are inserted.

The cursor holds the whole sort key of the row it continues from (keyset
pagination), always ending on the primary key. DRF's own CursorPagination
keeps only the first sort field and counts an offset through ties, which
skips or repeats rows when values are equal (many incidents share a start
time or an update time) and fails on NULLs (an action item with no due date).
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import json
from decimal import Decimal
from functools import reduce
from operator import or_

from django.core.exceptions import FieldDoesNotExist
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import F, Q
from rest_framework.exceptions import ValidationError
from rest_framework.pagination import CursorPagination
from rest_framework.utils.urls import replace_query_param


class KeysetCursorPagination(CursorPagination):
    invalid_cursor_message = "Invalid cursor: use the `next` or `previous` link exactly as given."

    def paginate_queryset(self, queryset, request, view=None):
        if not self.read_request(request, queryset, view):
            return None
        return self.take_page(list(self.page_query(queryset)))

    def read_request(self, request, queryset, view=None) -> bool:
        """Read the page size, the ordering and the cursor (a 400 for a bad one); False: no paging."""
        self.request = request
        self.page_size = self.get_page_size(request)
        if not self.page_size:
            return False
        self.base_url = request.build_absolute_uri()
        self.ordering = self._with_unique_tail(self.get_ordering(request, queryset, view), queryset.model)
        self.fields = [self._model_field(queryset.model, term.lstrip("-")) for term in self.ordering]
        self.cursor = self.decode_cursor(request)
        return True

    def page_query(self, queryset, position: tuple | None = None):
        """The query for one page and one row more (whether there is a next page), after `position`
        (by default the cursor's; api/list_statements.py passes stand-ins for its values)."""
        reverse, cursor_position, inclusive = self.cursor if self.cursor else (False, None, False)
        position = cursor_position if position is None else position
        if position is not None:
            queryset = queryset.filter(self._beyond(position, reverse=reverse, inclusive=inclusive))
        return queryset.order_by(*self._order_expressions(reverse=reverse))[: self.page_size + 1]

    def take_page(self, rows: list):
        """The page from page_query's rows, and the cursors before and after it."""
        reverse, position, _inclusive = self.cursor if self.cursor else (False, None, False)
        more = len(rows) > self.page_size
        page = rows[: self.page_size]
        if reverse:
            page.reverse()
        self.page = page
        first = self._position(page[0]) if page else None
        last = self._position(page[-1]) if page else None
        if reverse:
            self.has_previous, self.has_next = more, position is not None
            self.previous_cursor = (True, first, False) if more else None
            self.next_cursor = (False, last, False) if page else (False, position, True)
        else:
            self.has_previous, self.has_next = position is not None, more
            self.next_cursor = (False, last, False) if more else None
            self.previous_cursor = (True, first, False) if page else (True, position, True)
        if not self.has_previous:
            self.previous_cursor = None
        if not self.has_next:
            self.next_cursor = None
        return self.page

    def get_next_link(self):
        return self.encode_cursor(self.next_cursor) if self.next_cursor else None

    def get_previous_link(self):
        return self.encode_cursor(self.previous_cursor) if self.previous_cursor else None

    # The cursor: which direction, the sort key of the row to continue from,
    # and whether that row itself belongs to the page (only after an empty page).

    def encode_cursor(self, cursor):
        reverse, position, inclusive = cursor
        payload = {"o": list(self.ordering), "p": [self._dump(value) for value in position]}
        if reverse:
            payload["r"] = 1
        if inclusive:
            payload["i"] = 1
        encoded = base64.urlsafe_b64encode(json.dumps(payload, separators=(",", ":")).encode()).decode()
        return replace_query_param(self.base_url, self.cursor_query_param, encoded)

    def decode_cursor(self, request):
        encoded = request.query_params.get(self.cursor_query_param)
        if encoded is None:
            return None
        try:
            payload = json.loads(base64.urlsafe_b64decode(encoded.encode("ascii")))
            if not isinstance(payload, dict) or payload.get("o") != list(self.ordering):
                raise ValueError("The cursor belongs to another ordering.")
            raw = payload["p"]
            if not isinstance(raw, list) or len(raw) != len(self.fields):
                raise ValueError("The cursor does not match the ordering.")
            position = tuple(self._load(field, value) for field, value in zip(self.fields, raw, strict=True))
            return bool(payload.get("r")), position, bool(payload.get("i"))
        except (ValueError, TypeError, KeyError, UnicodeError, binascii.Error, DjangoValidationError, OverflowError):
            raise ValidationError({self.cursor_query_param: [self.invalid_cursor_message]}) from None

    # Building the query.

    @staticmethod
    def _with_unique_tail(ordering, model) -> tuple[str, ...]:
        ordering = tuple(ordering)
        if not any(term.lstrip("-") in ("id", "pk", model._meta.pk.name) for term in ordering):
            ordering += ("-id" if ordering and ordering[0].startswith("-") else "id",)
        return tuple("-id" if term == "-pk" else "id" if term == "pk" else term for term in ordering)

    @staticmethod
    def _model_field(model, name):
        try:
            return model._meta.get_field(name)
        except FieldDoesNotExist:
            return None  # an annotation: compared as given

    def _order_expressions(self, *, reverse: bool):
        # NULLs sort after every value going forward, and so before them in reverse.
        expressions = []
        for term in self.ordering:
            descending = term.startswith("-") != reverse
            name = term.lstrip("-")
            expressions.append(F(name).desc(nulls_first=True) if descending else F(name).asc(nulls_last=True))
        return expressions

    def _beyond(self, position, *, reverse: bool, inclusive: bool) -> Q:
        """Rows after `position` in the direction of travel (a lexicographic comparison)."""
        alternatives = []
        equal_so_far = Q()
        for term, field, value in zip(self.ordering, self.fields, position, strict=True):
            name = term.lstrip("-")
            ascending = term.startswith("-") == reverse
            alternatives.append(equal_so_far & self._after(name, value, ascending=ascending, nullable=_nullable(field)))
            equal_so_far &= Q(**{f"{name}__isnull": True}) if value is None else Q(**{name: value})
        if inclusive:
            alternatives.append(equal_so_far)
        return reduce(or_, alternatives)

    @staticmethod
    def _after(name: str, value, *, ascending: bool, nullable: bool) -> Q:
        nothing = Q(pk__in=[])
        if ascending:  # values up, then NULLs
            if value is None:
                return nothing
            after = Q(**{f"{name}__gt": value})
            return after | Q(**{f"{name}__isnull": True}) if nullable else after
        # descending: NULLs, then values down
        if value is None:
            return Q(**{f"{name}__isnull": False})
        return Q(**{f"{name}__lt": value})

    def _position(self, row) -> tuple:
        # A page holds model instances, or dicts where a list selects `.values()` (api/rows.py).
        if isinstance(row, dict):
            return tuple(row[term.lstrip("-")] for term in self.ordering)
        return tuple(getattr(row, term.lstrip("-")) for term in self.ordering)

    @staticmethod
    def _dump(value):
        if isinstance(value, dt.date | dt.datetime | dt.time):
            return value.isoformat()
        if isinstance(value, Decimal):
            return str(value)
        return value

    @staticmethod
    def _load(field, value):
        if value is None:
            return None
        if not isinstance(value, str | int | float | bool):
            raise ValueError("Not a cursor value.")
        value = field.to_python(value) if field is not None else value
        if isinstance(value, dt.datetime):
            if value.tzinfo is None:
                raise ValueError("A cursor time needs its offset.")
            value = value.astimezone(dt.UTC)  # OverflowError at the ends of the calendar
        return value


def _nullable(field) -> bool:
    return field is None or field.null


class IncidentCursorPagination(KeysetCursorPagination):
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 200
    ordering = ("-started_at", "-id")


class UpdatedCursorPagination(KeysetCursorPagination):
    """Oldest change first, so a client can resume from the last `updated_at` it saw."""

    page_size = 100
    page_size_query_param = "page_size"
    max_page_size = 500
    ordering = ("updated_at", "id")

    def get_ordering(self, request, queryset, view):
        # Lists with an ordering filter follow it (it falls back to the view's
        # `ordering`); resources without updated_at page by the view's ordering.
        if any(hasattr(backend, "get_ordering") for backend in getattr(view, "filter_backends", [])):
            return super().get_ordering(request, queryset, view)
        if not hasattr(queryset.model, "updated_at"):
            return tuple(getattr(view, "ordering", None) or ("id",))
        return self.ordering
