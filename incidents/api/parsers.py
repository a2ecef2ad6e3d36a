"""JSON bodies, with the same size limit Django applies to form bodies, and a nesting limit.

DRF reads the request stream directly, which bypasses
DATA_UPLOAD_MAX_MEMORY_SIZE; without this a client could post a body of any
size and have it parsed in memory before validation refused it.

No body the API takes nests deeper than a few levels (a COE's whys: object, list, object, list);
Python's parser recurses once per level, so 1,000 levels raise RecursionError (a 500) and
100,000 could exhaust the stack. The body is scanned first: deeper than MAX_DEPTH is a 400.
"""

import io
import re

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser

MAX_DEPTH = 32


class BoundedJSONParser(JSONParser):
    def parse(self, stream, media_type=None, parser_context=None):
        request = (parser_context or {}).get("request")
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        if request is not None and limit is not None:
            try:
                length = int(request.META.get("CONTENT_LENGTH") or 0)
            except ValueError:
                length = 0
            if length > limit:
                raise RequestDataTooBig("The request body is larger than DATA_UPLOAD_MAX_MEMORY_SIZE.")
        body = stream.read() if stream is not None else b""
        if _depth(body) > MAX_DEPTH:
            raise ParseError(f"JSON parse error - nested deeper than {MAX_DEPTH} levels.")
        try:
            return super().parse(io.BytesIO(body), media_type, parser_context)
        except RecursionError:
            raise ParseError(f"JSON parse error - nested deeper than {MAX_DEPTH} levels.") from None


_STRING = re.compile(rb'"(?:[^"\\]++|\\.)*+"', re.S)
_BRACKET = re.compile(rb"[\[\]{}]")


def _depth(body: bytes) -> int:
    """The deepest nesting of [ and { outside strings, found without parsing (in C, bar the brackets)."""
    depth = deepest = 0
    for match in _BRACKET.finditer(_STRING.sub(b"", body)):
        if match.group() in (b"[", b"{"):
            depth += 1
            if depth > deepest:
                deepest = depth
                if deepest > MAX_DEPTH:
                    break
        else:
            depth -= 1
    return deepest
