"""The in-Django floor: the API list and detail's bytes from plain SQL, served inside Django's stack.

- constant: a bare Django view returning a constant (the cost of Django's stack alone);
- incident_list / incident_detail: the same SQL and the same bytes as the plain floor
  (plain_floor.py, floor_sql.py), run on Django's connection behind its middleware, each statement
  planned afresh: a second reference beside the plain floor, which is the floor the targets name;
- replay: for the search page, the app's own SELECTs (captured by probe.py) run with psycopg and
  dumped with orjson, so the ratio is what Python and templates add to them. (The dashboard has
  no floor: its default views are served from kept figures, computed by a Celery worker.)

The views trust a `uid` parameter for visibility instead of authenticating: they are only in the
benchmark's URLconf (bench/urlconf.py, selected by bench.settings), never in the product's.
"""

from __future__ import annotations

import json
import os
from decimal import Decimal
from pathlib import Path
from urllib.parse import parse_qsl, urlencode

import orjson
import psycopg
from django.db import connection
from django.http import Http404, HttpResponse

from .plain_floor import detail_body, list_body


def _json(body) -> HttpResponse:
    return HttpResponse(
        orjson.dumps(body, default=lambda value: str(value) if isinstance(value, Decimal) else repr(value)),
        content_type="application/json",
    )


def _cursor():
    # Django's own connection, below its cursor wrapper, with parameters bound on the client: each
    # statement planned afresh, whatever the app's settings, so this floor stays the reference it was.
    connection.ensure_connection()
    return psycopg.ClientCursor(connection.connection)


def constant(request):
    return HttpResponse(b'{"ok":true}', content_type="application/json")


def incident_list(request):
    """The API list's bytes for ?uid= and the API's own list parameters (page_size, filters, search)."""
    host = f"{request.scheme}://{request.get_host()}"
    # The API's own query and path, as its `next` link carries them.
    query = urlencode([(name, value) for name, value in parse_qsl(request.META["QUERY_STRING"]) if name != "uid"])
    with _cursor() as cursor:
        body = list_body(cursor, host=host, path="/api/v1/incidents/", query=query, uid=int(request.GET["uid"]))
    return HttpResponse(body, content_type="application/json")


def incident_detail(request, key: str):
    """The API detail's bytes for ?uid=."""
    host = f"{request.scheme}://{request.get_host()}"
    with _cursor() as cursor:
        body = detail_body(cursor, host=host, key=key, uid=int(request.GET["uid"]))
    if body is None:
        raise Http404("No such incident.")
    return HttpResponse(body, content_type="application/json")


_replays: dict[str, list[str]] = {}


def replay(request, case: str):
    """The SELECTs the app ran for this case (written by probe.py), run again with psycopg."""
    if case not in _replays:
        path = Path(os.environ.get("BENCH_REPLAY_DIR", "bench-results/replay")) / f"{case}.json"
        if not path.is_file():
            raise Http404("No captured queries for this case.")
        _replays[case] = json.loads(path.read_text())
    results = []
    with _cursor() as cursor:
        for sql in _replays[case]:
            cursor.execute(sql)  # no parameters: psycopg leaves % alone
            results.append(cursor.fetchall())
    return _json({"results": results})
