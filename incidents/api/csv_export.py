"""CSV of a whole filtered list, streamed so a large export does not sit in memory."""

import csv
from collections.abc import Iterator

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


def _rows(queryset, serializer_class, context, chunk: int = 500) -> Iterator[str]:
    writer = csv.writer(_Echo())
    fields = list(serializer_class.Meta.fields)
    yield writer.writerow(fields)
    # Serialise in chunks so prefetches run once per chunk, not once per row.
    offset = 0
    while True:
        rows = list(queryset[offset : offset + chunk])
        for item in serializer_class(rows, many=True, context=context).data:
            yield writer.writerow([_flatten(item.get(field)) for field in fields])
        if len(rows) < chunk:  # the last chunk: no query for an empty one after it
            return
        offset += chunk


def csv_response(filename: str, queryset, serializer_class, *, context) -> StreamingHttpResponse:
    response = StreamingHttpResponse(_rows(queryset, serializer_class, context), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response
