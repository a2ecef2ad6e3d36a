"""Which reader reads which file: each format's module and the file names it takes.

Readers are named by dotted path and imported when first used, so a format's module is loaded only
by the imports that need it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import PurePosixPath

from django.utils.module_loading import import_string

from incidents.models.imports import ImportFormat

from .records import ImportedIncident, ReadFailure
from .sources import SourceFile

Reader = Callable[..., Iterable[ImportedIncident | ReadFailure]]

READERS: dict[str, str] = {
    ImportFormat.MARKDOWN: "incidents.imports.markdown_format.read",
    ImportFormat.HTML: "incidents.imports.html_format.read",
    ImportFormat.CSV: "incidents.imports.csv_format.read",
}

EXTENSIONS: dict[str, tuple[str, ...]] = {
    ImportFormat.MARKDOWN: (".md", ".markdown", ".mdown", ".txt"),
    ImportFormat.HTML: (".html", ".htm"),
    ImportFormat.CSV: (".csv", ".tsv", ".xlsx"),
    ImportFormat.JSON: (".json",),
}


def format_of(name: str) -> str | None:
    """The format a file's name says, or None for a file no reader takes."""
    suffix = PurePosixPath(name).suffix.lower()
    return next((fmt for fmt, suffixes in EXTENSIONS.items() if suffix in suffixes), None)


def accepts(fmt: str | None) -> Callable[[str], bool]:
    """Which file names an import of `fmt` reads (with no format: any a reader takes)."""
    if fmt:
        return lambda name: PurePosixPath(name).suffix.lower() in EXTENSIONS[fmt]
    return lambda name: format_of(name) in READERS


# What a folder of postmortems also holds: its index and its README, which describe no incident.
NOT_POSTMORTEMS = {"readme", "index", "license", "changelog", "contributing"}


def read(file: SourceFile, *, fmt: str | None, options: dict) -> Iterable[ImportedIncident | ReadFailure]:
    """The file's items, read by the format given or the one its name says."""
    if PurePosixPath(file.name).stem.lower() in NOT_POSTMORTEMS:
        return [ReadFailure(file.name, "A folder's README or index, not a postmortem: left out.")]
    chosen = fmt or format_of(file.name)
    if chosen == ImportFormat.JSON:
        # Restored whole, in one transaction, by its own loader (json_format.py), not file by file.
        return [ReadFailure(file.name, "Our JSON export is imported on its own: manage.py import_json, or the page.")]
    if chosen not in READERS:
        return [ReadFailure(file.name, "No reader for this kind of file.")]
    reader: Reader = import_string(READERS[chosen])
    return reader(file, options=options)
