"""An incident list's statement, compiled once per shape of request and run with each request's values.

Building a list page's queryset (visibility, filters, the row annotations of rows.py, the keyset
condition and order) and compiling it to SQL cost about as much Python time as the rest of the
request (bench/README.md). The statement's text depends on the request's shape: which filters and
which of their choices, the ordering, the direction and the page size. It does not depend on the
caller's id, on the times a filter asks for, or on the position a cursor continues from. So the
queryset is built and compiled once per shape with stand-ins for those values, and each later
request of that shape puts its own values where the stand-ins came out.

The builder is the one the ORM path uses (`_Request.build`), so the statement is the ORM's: a test
compares it with a fresh compile, parameters included, across every filter. A stand-in that does
not come out of the compiler as it went in (a value the ORM transformed) makes the shape one that
is compiled every time instead.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from django.contrib.auth import get_user_model
from django.core.exceptions import EmptyResultSet
from django.db import connection

from incidents.models import Incident
from incidents.models.incident import signed_in

from . import rows
from .filtering import StrictDjangoFilterBackend

# Stand-ins for the values that vary between requests of one shape: nothing real takes these values.
_INT = -0x5EED_0000
_TIME = datetime(1901, 1, 1, tzinfo=UTC)
_TEXT = "\x00stand-in-{}\x00"
_MARK = "\x00stand-in-"

# Compiled statements by shape: (sql, slots), or None for a shape compiled every time. Shapes are few
# (filters with their choices, orderings, page sizes); the bound keeps odd clients from growing it.
_statements: dict[tuple, tuple[str, list] | None] = {}
MAX_SHAPES = 512
_UNKNOWN = object()


def _stand_in(value, n: int):
    if isinstance(value, datetime):
        return _TIME + timedelta(microseconds=n + 1)
    if isinstance(value, str):
        return _TEXT.format(n)
    return _INT - n


def _varies(value) -> bool:
    """Whether a value is put in per request (else it is part of the shape, as it is)."""
    return isinstance(value, datetime | str) or (isinstance(value, int) and not isinstance(value, bool))


def _frozen(value):
    return tuple(_frozen(v) for v in value) if isinstance(value, list | tuple) else value


class _Request:
    """One list request, read and validated: the caller, the filters' values and the paging."""

    def __init__(self, view, request):
        self.user = request.user
        # The filters and the paginator only need the model here; visibility comes in build().
        base = Incident.objects.all()
        self.filterset = StrictDjangoFilterBackend().valid_filterset(request, base, view)
        self.paginator = view.paginator
        self.paginator.read_request(request, base, view)
        self.cleaned = dict(self.filterset.form.cleaned_data) if self.filterset is not None else {}
        reverse, position, inclusive = self.paginator.cursor or (False, None, False)
        self.position = position
        # What varies: the caller's id (a superuser's list has none), the plain filters' times, the position.
        self.varying_filters = tuple(
            name
            for name, value in self.cleaned.items()
            if isinstance(value, datetime) and self.filterset.filters[name].method is None
        )
        self.values = [
            *([] if self.user.is_superuser else [self.user.pk]),
            *(self.cleaned[name] for name in self.varying_filters),
            *(value for value in position or () if value is not None and _varies(value)),
        ]
        self.shape = (
            connection.alias,
            type(view),
            self.user.is_superuser,
            tuple((name, None if name in self.varying_filters else _frozen(v)) for name, v in self.cleaned.items()),
            tuple(self.paginator.ordering),
            reverse,
            inclusive,
            None if position is None else tuple(type(v) if _varies(v) else v for v in position),
            self.paginator.page_size,
        )

    def build(self, values: list):
        """The page's queryset with these values (the request's own, or stand-ins) in their places."""
        values = iter(values)
        user = self.user
        if not user.is_superuser:
            user = get_user_model()(pk=next(values), is_superuser=False)
        cleaned = {**self.cleaned, **{name: next(values) for name in self.varying_filters}}
        position = None
        if self.position is not None:
            position = tuple(next(values) if v is not None and _varies(v) else v for v in self.position)
        incidents = Incident.objects.visible_to(user)
        if self.filterset is not None:
            self.filterset.form.cleaned_data = cleaned
            incidents = self.filterset.filter_queryset(incidents)
        return self.paginator.page_query(rows.list_values(incidents), position)


def _compile(listing: _Request) -> tuple[str, list] | None:
    """The statement built with stand-ins, and where each of its parameters comes from: ("value", i)
    for the request's i-th value, ("constant", p) otherwise. None if a stand-in was transformed."""
    stand_ins = [_stand_in(value, n) for n, value in enumerate(listing.values)]
    try:
        sql, params = listing.build(stand_ins).query.get_compiler(using=connection.alias).as_sql()
    except EmptyResultSet:
        return None
    where = {(type(s), s): n for n, s in enumerate(stand_ins)}
    slots, seen = [], set()
    for param in params:
        n = where.get((type(param), param)) if _varies(param) else None
        if n is None:
            if isinstance(param, str) and _MARK in param:
                return None
            slots.append(("constant", param))
        else:
            slots.append(("value", n))
            seen.add(n)
    return (sql, slots) if len(seen) == len(stand_ins) else None


def page(view, request) -> list[dict]:
    """The rows of one page of an incident list (rows.list_values), the view's paginator told of them."""
    if not signed_in(request.user):
        return view.paginator.paginate_queryset(rows.list_values(Incident.objects.none()), request, view=view)
    listing = _Request(view, request)
    compiled = _statements.get(listing.shape, _UNKNOWN)
    if compiled is _UNKNOWN:
        if len(_statements) >= MAX_SHAPES:
            _statements.clear()
        compiled = _statements[listing.shape] = _compile(listing)
    if compiled is None:
        return listing.paginator.take_page(list(listing.build(listing.values)))
    sql, slots = compiled
    params = [listing.values[n] if kind == "value" else n for kind, n in slots]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        names = [column.name for column in cursor.description]
        found = [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
    return listing.paginator.take_page(found)
