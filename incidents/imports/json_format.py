"""Our own JSON export, read back (docs/export-format.md): the document is checked here, restored whole by
json_loader.py. Not an ImportedIncident per incident: the export carries far more (keys, claims, AI
citations, revisions, review comments, controls, the people named) and every date as it was.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from incidents.exports.json_document import FORMAT, VERSION

# The lists a document holds, each a list of records.
LISTS = ("incidents", "controls", "services", "teams", "regions", "tags", "sources", "users", "groups")


class DocumentError(ValueError):
    """The file is not an export this version can read; nothing was written."""


@dataclass
class JsonImportResult:
    origin: str
    dry_run: bool
    created: list[str] = field(default_factory=list)  # incident keys created (or that would be)
    present: list[str] = field(default_factory=list)  # incident keys already here: left as they are
    lookups_created: dict[str, int] = field(default_factory=dict)  # sources, users, ... created
    # Each incident of the file by the key it has here: {"title": ..., "external_id": ...}.
    described: dict[str, dict] = field(default_factory=dict)

    def report_entries(self) -> list[dict]:
        """One entry per incident, in the import runner's report shape."""
        return [
            {"origin": self.origin, "key": key, "action": action, **self.described.get(key, {})}
            for keys, action in ((self.created, "create"), (self.present, "unchanged"))
            for key in keys
        ]


def read_document(data: bytes | str) -> dict:
    """The export's document, checked for its format, version and shape before anything is written."""
    try:
        document = json.loads(data)
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise DocumentError(f"Not JSON: {error}") from None
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        raise DocumentError(f'Not a COE Tracker export (its "format" is not "{FORMAT}").')
    if document.get("version") != VERSION:
        raise DocumentError(f"Export version {document.get('version')!r}; this version reads version {VERSION}.")
    for name in LISTS:
        records = document.get(name)
        if not isinstance(records, list) or not all(isinstance(r, dict) for r in records):
            raise DocumentError(f'"{name}" must be a list of records.')
    return document


def import_file(path: str | Path, *, dry_run: bool = False) -> JsonImportResult:
    """Restore the export at `path`: what it holds that is not here yet, in one transaction."""
    from .json_loader import load

    path = Path(path)
    document = read_document(path.read_bytes())
    return load(document, origin=path.name, dry_run=dry_run)
