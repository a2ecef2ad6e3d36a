"""CSV of a whole filtered list, streamed so a large export does not sit in memory."""

import csv
from collections.abc import Callable, Iterable, Iterator

from django.http import StreamingHttpResponse

_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


class _Echo:
    def write(self, value: str) -> str:
        return value


def _flatten(value) -> str:
    if value is None:
        return ""
    if isinstance(value, list):
        return "; ".join(_flatten(v) for v in value)
    if isinstance(value, dict):
        return "; ".join(f"{k}={_flatten(v)}" for k, v in value.items())
    text = str(value)
    # A cell starting with = + - @ (or a tab or carriage return before one) is
    # a formula to a spreadsheet: neutralise it (OWASP "CSV injection").
    return "'" + text if text[:1] in _FORMULA_STARTS and not _is_number(text) else text


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def chunks(queryset, shape: Callable[[list], list[dict]], size: int = 500) -> Iterator[list[dict]]:
    """The queryset's rows in chunks of `size`, each shaped as the list's JSON objects, so a large
    export runs one query per chunk and never holds the whole list."""
    offset = 0
    while True:
        rows = list(queryset[offset : offset + size])
        yield shape(rows)
        if len(rows) < size:  # the last chunk: no query for an empty one after it
            return
        offset += size


def _lines(fields: list[str], objects: Iterable[list[dict]]) -> Iterator[str]:
    writer = csv.writer(_Echo())
    yield writer.writerow(fields)
    for chunk in objects:
        for item in chunk:
            yield writer.writerow([_flatten(item.get(field)) for field in fields])


def csv_response(filename: str, fields: list[str], objects: Iterable[list[dict]]) -> StreamingHttpResponse:
    """A CSV of the JSON objects a list answers with (in chunks), one column per field."""
    response = StreamingHttpResponse(_lines(fields, objects), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response
