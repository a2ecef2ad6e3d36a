"""A CSV file or spreadsheet of incidents, one incident per row, read through a column mapping.

The mapping says, for each column heading, which field of `ImportedIncident` the column fills
({"Summary": "title", "Sev": "severity", ...}); the import pages let a person set it while looking at
the first rows, and save it by name (`ImportMapping`) for the next file. A column the mapping does not
name is kept as a note, as is any value that could not be read, so nothing in the file is lost.

A row's stable id is its id column when one is mapped, else a hash of all its cells: the same file
imported twice updates (or leaves alone) what the first import created.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime

from incidents.models import Incident
from incidents.models.coe import SECTIONS

from . import values
from .records import ImportedActionItem, ImportedIncident, ReadFailure

# Fields a column can fill, in the order the mapping page offers them. Sections are "section:<key>".
NOTE, SKIP = "note", "skip"
INCIDENT_FIELDS = {
    "title": "Title",
    "summary": "Summary",
    "severity": "Severity",
    "status": "Status",
    "started_at": "Started at",
    "detected_at": "Detected at",
    "mitigated_at": "Mitigated at",
    "resolved_at": "Resolved at",
    "customer_impact": "Customer impact",
    "primary_cause": "Primary cause",
    "services": "Services (a list)",
    "regions": "Regions (a list)",
    "tags": "Tags (a list)",
    "team": "Team",
    "action_items": "Action items (one per line or ;)",
    "created_at": "Postmortem written on",
    "external_id": "Id in the earlier tool (keeps re-imports from duplicating)",
}
SECTION_FIELDS = {f"section:{section.key}": f"COE: {section.title}" for section in SECTIONS}
OTHER_FIELDS = {NOTE: "Keep as a note", SKIP: "Leave out"}
FIELD_LABELS = {**INCIDENT_FIELDS, **SECTION_FIELDS, **OTHER_FIELDS}
# A column each; list fields, sections and notes may take several (their values are joined).
SINGLE_FIELDS = frozenset(INCIDENT_FIELDS) - {"services", "regions", "tags", "action_items"}
TIME_FIELDS = ("started_at", "detected_at", "mitigated_at", "resolved_at", "created_at")

# Headings people give these columns (compared lower case, punctuation as spaces). A COE section's
# title or key guesses that section, unless it names an incident field too ("Summary", "Impact").
GUESSES = {
    **{values._plain(section.title): f"section:{section.key}" for section in SECTIONS},
    **{values._plain(section.key): f"section:{section.key}" for section in SECTIONS},
    **dict.fromkeys(
        ("id", "incident id", "key", "issue key", "ticket", "ref", "reference", "url", "link"), "external_id"
    ),
    **dict.fromkeys(("title", "name", "incident", "incident title", "subject", "headline"), "title"),
    **dict.fromkeys(("summary", "description", "details", "what happened"), "summary"),
    **dict.fromkeys(("severity", "sev", "priority", "impact level"), "severity"),
    **dict.fromkeys(("status", "state"), "status"),
    **dict.fromkeys(
        ("started", "started at", "start", "start time", "start date", "date", "incident date", "occurred"),
        "started_at",
    ),
    **dict.fromkeys(("detected", "detected at", "detection time"), "detected_at"),
    **dict.fromkeys(("mitigated", "mitigated at", "mitigation time"), "mitigated_at"),
    **dict.fromkeys(("resolved", "resolved at", "end", "ended", "end time", "fixed at"), "resolved_at"),
    **dict.fromkeys(("impact", "customer impact", "user impact"), "customer_impact"),
    **dict.fromkeys(("cause", "primary cause", "cause category", "root cause category", "category"), "primary_cause"),
    **dict.fromkeys(
        ("service", "services", "component", "components", "component s", "system", "systems", "affected services"),
        "services",
    ),
    **dict.fromkeys(("region", "regions"), "regions"),
    **dict.fromkeys(("tags", "tag", "labels", "label"), "tags"),
    **dict.fromkeys(("team", "owning team", "owner team", "squad"), "team"),
    **dict.fromkeys(("action items", "actions", "follow ups", "followups", "remediation"), "action_items"),
    **dict.fromkeys(("postmortem date", "postmortem written", "written", "written on"), "created_at"),
    "root cause": "section:root_cause",  # prose; "Root cause category" is the primary cause
    "rca": "section:root_cause",
    "lessons learned": "section:lessons_went_wrong",
}

# A ticket's creation: the start, when a file has nothing better (guess_mapping).
OPENED = ("created", "created at", "opened", "opened at", "reported", "reported at")

_SNIFF_CHARS = 64 * 1024
EXTERNAL_ID_MAX_LENGTH = Incident._meta.get_field("external_id").max_length
_DELIMITERS = ",;\t|"


class BadFile(Exception):
    """The file is not a table we can read: the reason is for the person who uploaded it."""


@dataclass
class Table:
    headings: list[str]
    # Each row as the spreadsheet numbers it (the headings are row 1), with one cell per heading: text,
    # or a spreadsheet's own date.
    rows: list[tuple[int, list[str | date | datetime]]]
    # About the file as a whole: how it was read when that was a guess (encoding, sheet).
    notes: list[str] = field(default_factory=list)


def read_table(name: str, data: bytes) -> Table:
    """The file's headings and rows; BadFile if it is not a CSV file or spreadsheet, or holds no rows."""
    if data.startswith(b"PK\x03\x04"):
        table = _read_xlsx(data)
    elif data.startswith(b"\xd0\xcf\x11\xe0"):
        raise BadFile("This is an old Excel workbook (.xls): save it as .xlsx or CSV and upload that.")
    else:
        table = _read_csv(data)
    if not any(table.headings):
        raise BadFile(f"{name} is empty: the first row should name the columns.")
    if not table.rows:
        raise BadFile(f"{name} has headings but no rows below them.")
    return table


def _read_csv(data: bytes) -> Table:
    text, notes = _decode(data)
    if "\x00" in text:
        raise BadFile("This is not a CSV file or spreadsheet (it holds binary data).")
    # Only the delimiter is sniffed: the sniffer's guesses at quoting go wrong on a doubled quote, and
    # every spreadsheet writes Excel's quoting anyway.
    try:
        delimiter = csv.Sniffer().sniff(text[:_SNIFF_CHARS], delimiters=_DELIMITERS).delimiter
    except csv.Error:
        delimiter = ","  # one column, or too little to tell
    try:
        records = list(csv.reader(io.StringIO(text, newline=""), csv.excel, delimiter=delimiter))
    except csv.Error as error:
        raise BadFile(f"This CSV file cannot be read: {error}.") from None
    return _table(records, notes)


def _decode(data: bytes) -> tuple[str, list[str]]:
    """UTF-8 (with or without Excel's byte-order mark), UTF-16 as Excel's "Unicode text" saves it,
    else Windows-1252, as older Excel exports are (the few bytes it has no character for replaced)."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16"), []
    try:
        return data.decode("utf-8-sig"), []
    except UnicodeDecodeError:
        return data.decode("cp1252", errors="replace"), ["The file is not UTF-8; it was read as Windows-1252."]


def _read_xlsx(data: bytes) -> Table:
    import openpyxl  # only spreadsheets need it

    try:
        workbook = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, OSError, ValueError) as error:
        raise BadFile(f"This is not a spreadsheet we can read (.xlsx): {error}.") from None
    try:
        sheet = workbook.worksheets[0]
        records = [[_cell(value) for value in row] for row in sheet.iter_rows(values_only=True)]
        notes = []
        if len(workbook.worksheets) > 1:
            others = ", ".join(repr(s.title) for s in workbook.worksheets[1:])
            notes.append(f"The first sheet, {sheet.title!r}, was read; the others ({others}) were not.")
    finally:
        workbook.close()
    return _table(records, notes)


def _cell(value) -> str | date | datetime:
    if value is None:
        return ""
    if isinstance(value, datetime | date):
        return value
    if isinstance(value, float) and value.is_integer():
        return str(int(value))  # 3.0 in a cell typed as a number is the 3 the person typed
    return str(value)


def _table(records: list[list], notes: list[str]) -> Table:
    numbered = [(number, record) for number, record in enumerate(records, start=1) if any(map(_text, record))]
    if not numbered:
        return Table(headings=[], rows=[], notes=notes)
    width = max(len(record) for _, record in numbered)
    # Trailing columns with nothing in them (a spreadsheet's formatted but empty cells) are not columns.
    while width and not any(_text(record[width - 1]) for _, record in numbered if len(record) >= width):
        width -= 1
    (_, first), *below = numbered
    headings = _unique_headings([_text(cell) for cell in first] + [""] * (width - len(first)), width)
    rows = [
        (number, [cell.strip() if isinstance(cell, str) else cell for cell in (list(record) + [""] * width)[:width]])
        for number, record in below
    ]
    return Table(headings=headings, rows=rows, notes=notes)


def _unique_headings(cells: list[str], width: int) -> list[str]:
    """Headings as the mapping keys them: an empty one named by its position, a repeated one numbered."""
    headings: list[str] = []
    for position, cell in enumerate(cells[:width], start=1):
        heading = cell or f"Column {position}"
        candidate, n = heading, 2
        while candidate in headings:
            candidate, n = f"{heading} ({n})", n + 1
        headings.append(candidate)
    return headings


def _text(cell) -> str:
    if isinstance(cell, datetime | date):
        return cell.isoformat()
    return str(cell).strip() if cell is not None else ""


def guess_mapping(headings: list[str]) -> dict[str, str]:
    """A first mapping from the headings' names; anything unrecognised is kept as a note."""
    mapping = {heading: GUESSES.get(values._plain(heading), NOTE) for heading in headings}
    # An issue tracker's export calls the title "Summary" and has no start but the ticket's creation:
    # with no title or start column, those are the nearest.
    if "title" not in mapping.values():
        summaries = [heading for heading, field_name in mapping.items() if field_name == "summary"]
        if summaries:
            named = [heading for heading in summaries if values._plain(heading) == "summary"]
            mapping[(named or summaries)[0]] = "title"
    if "started_at" not in mapping.values():
        opened = [heading for heading in headings if values._plain(heading) in OPENED and mapping[heading] == NOTE]
        if opened:
            mapping[opened[0]] = "started_at"
    taken: set[str] = set()
    for heading, field_name in mapping.items():
        if field_name in SINGLE_FIELDS:
            if field_name in taken:  # a second "Date" column stays a note rather than fight the first
                mapping[heading] = NOTE
            taken.add(field_name)
    return mapping


def mapping_problems(mapping: dict[str, str], headings: list[str]) -> list[str]:
    """What stops this mapping from importing this file's rows (empty when it can)."""
    problems = []
    used = {heading: field_name for heading, field_name in mapping.items() if heading in headings}
    unknown = sorted({f for f in used.values() if f not in FIELD_LABELS})
    if unknown:
        problems.append(f"Unknown field {', '.join(unknown)}.")
    if "title" not in used.values():
        problems.append("No column is mapped to the title: every incident needs one.")
    for field_name in SINGLE_FIELDS:
        columns = [heading for heading, f in used.items() if f == field_name]
        if len(columns) > 1:
            problems.append(f"{FIELD_LABELS[field_name]} is mapped from more than one column ({', '.join(columns)}).")
    return problems


def read(file, *, options: dict) -> Iterator[ImportedIncident | ReadFailure]:
    """The runner's entry point: one ImportedIncident per row, or one ReadFailure for a bad file."""
    try:
        table = read_table(file.name, file.data)
    except BadFile as error:
        yield ReadFailure(origin=file.name, reason=str(error))
        return
    mapping = options.get("columns") or guess_mapping(table.headings)
    if problems := mapping_problems(mapping, table.headings):
        yield ReadFailure(origin=file.name, reason=" ".join(problems))
        return
    dayfirst = bool(options.get("dayfirst"))
    for index, (number, cells) in enumerate(table.rows):
        item = incident_from_row(
            dict(zip(table.headings, cells, strict=True)),
            mapping,
            origin=f"{file.name} row {number}",
            dayfirst=dayfirst,
        )
        if index == 0:
            item.warnings[:0] = table.notes  # said once, on the first row, for the whole file
        yield item


def incident_from_row(
    row: dict[str, str | date | datetime], mapping: dict[str, str], *, origin: str, dayfirst: bool = False
) -> ImportedIncident:
    item = ImportedIncident(external_id=row_hash(row), origin=origin)
    for heading, cell in row.items():
        field_name = mapping.get(heading, NOTE)
        text = _text(cell)
        if not text or field_name == SKIP:
            continue
        if field_name == NOTE:
            item.notes.append((heading, text))
            continue
        item.mapped.append((heading, FIELD_LABELS[field_name]))
        if not _fill(item, field_name, cell, text, dayfirst=dayfirst):
            # Not readable as that field: the warning says why, and the text is kept as a note.
            item.notes.append((heading, text))
    return item


def _fill(item: ImportedIncident, field_name: str, cell, text: str, *, dayfirst: bool) -> bool:
    """Put one cell's value into the record; False when the value could not be read."""
    if field_name in TIME_FIELDS:
        when, precision, warning = values.when_of(cell, dayfirst=dayfirst)
        if warning:
            item.warnings.append(f"{FIELD_LABELS[field_name]}: {warning}")
        if when is None:
            return False
        setattr(item, field_name, when)
        if field_name == "started_at":
            item.time_precision = precision
        return True
    if field_name in ("severity", "status", "primary_cause"):
        reader = {"severity": values.severity_of, "status": values.status_of, "primary_cause": values.cause_of}
        value, warning = reader[field_name](text)
        if warning:
            item.warnings.append(warning)
        setattr(item, field_name, value)
        return bool(value)
    if field_name in ("services", "regions", "tags"):
        getattr(item, field_name).extend(n for n in values.names_of(text) if n not in getattr(item, field_name))
    elif field_name == "action_items":
        titles = [line.strip(" -*•\t") for line in text.replace(";", "\n").splitlines()]
        item.action_items.extend(ImportedActionItem(title=title) for title in titles if title)
    elif field_name.startswith("section:"):
        key = field_name.removeprefix("section:")
        item.sections[key] = f"{item.sections[key]}\n\n{text}" if key in item.sections else text
    elif field_name == "external_id":
        if len(text) > EXTERNAL_ID_MAX_LENGTH:
            item.warnings.append(
                f"Id {text[:40]!r}… is longer than {EXTERNAL_ID_MAX_LENGTH} characters; the row's hash is its id."
            )
            return False
        item.external_id = text
    else:  # title, summary, customer_impact, team: text as written
        setattr(item, field_name, text)
    return True


def row_hash(row: dict[str, str | date | datetime]) -> str:
    """A row's content, headings and all, as a stable id: the same row in the same file hashes the same,
    whatever order its columns are in and however it is mapped."""
    content = json.dumps({heading: _text(cell) for heading, cell in row.items()}, sort_keys=True)
    return "import:sha256:" + hashlib.sha256(content.encode()).hexdigest()
