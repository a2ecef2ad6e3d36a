"""The one export function, behind the command (export_kb), the incident list's link and the API."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime

from django.db import connection, transaction
from django.utils import timezone

from . import json_document, markdown_zip
from .selection import ExportError, select_incidents

FORMATS = ("json", "markdown")


@dataclass
class Export:
    """A document on its way out: its pieces (bytes, produced as the database is read) and how to name it."""

    chunks: Iterator[bytes]
    content_type: str
    filename: str


def export_knowledge_base(*, user, format: str, query: str = "", exported_at: datetime | None = None) -> Export:
    """What `user` may see, narrowed by `query` (the incident list's filters as a query string), in `format`.

    The filter is checked here, before anything is sent, so a bad one is an ExportError rather than
    a broken download. `exported_at` is stamped in the document (now, unless given).
    """
    if format not in FORMATS:
        raise ExportError(f"Unknown format {format!r}; use {' or '.join(FORMATS)}.")
    incidents = select_incidents(user=user, query=query)
    exported_at = exported_at or timezone.now()
    stamp = f"{exported_at.astimezone(UTC):%Y%m%d-%H%M}"
    if format == "json":
        pieces = json_document.write(incidents, query=query, exported_at=exported_at)
        return Export(
            chunks=_one_snapshot(piece.encode() for piece in pieces),
            content_type="application/json; charset=utf-8",
            filename=f"coe-tracker-{stamp}.json",
        )
    return Export(
        chunks=_one_snapshot(markdown_zip.write(incidents, query=query, exported_at=exported_at)),
        content_type="application/zip",
        filename=f"coe-tracker-{stamp}.zip",
    )


def _one_snapshot(chunks: Iterator[bytes]) -> Iterator[bytes]:
    """Read every chunk from one snapshot of the database: an export takes many queries, and a record
    changed between two of them (a source an exported incident cites, deleted after the incidents were
    read) must not make a document that names what it does not hold. Inside a caller's transaction
    (a test), that transaction's own view is used."""
    if connection.in_atomic_block:
        yield from chunks
        return
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        yield from chunks
