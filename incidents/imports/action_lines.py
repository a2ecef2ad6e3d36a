"""A postmortem's action items, from checkboxes, bullets, numbered lines or a table.

    - [x] Add an alert on queue depth (owner: sam, done 2024-03-09)     done, closed that day
    - [ ] Split the worker pool, due 2024-04-01, https://jira/OPS-12     open, with a due date and ticket
    | Action Item | Type | Owner | Bug |                                 a table (SRE book style)

An item's own dates ("opened", "done", "due" followed by an ISO date) are kept, so charts over time
see it when it was raised and closed rather than on the day it was imported. Indented lines under an
item are its description. Lines that are neither are returned as leftover, kept as a note.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime

from incidents.models.vocab import ActionStatus, ActionType, Priority

from .records import ImportedActionItem, ImportedIncident

TITLE_MAX = 300

_ITEM = re.compile(r"^(?P<indent>\s*)(?:[-*+]|\d+[.)])\s+(?:\[(?P<check>[ xX])\]\s*)?(?P<text>\S.*)$")
_URL = re.compile(r"https?://[^\s)>\]]+")
_OWNER = re.compile(r"\b(?:owner|assignee|assigned to|owned by)\s*[:=]?\s*@?(?P<name>[\w.\-]+)", re.IGNORECASE)
_HANDLE = re.compile(r"(?<![\w/])@(?P<name>[A-Za-z][\w.\-]*)")
_ISO_DATE = r"(?P<day>\d{4}-\d{2}-\d{2})"
_DUE = re.compile(r"\bdue(?:\s+date)?\s*(?:on|by)?\s*[:=]?\s*" + _ISO_DATE, re.IGNORECASE)
_DONE = re.compile(r"\b(?:done|closed|completed|fixed|resolved)\s*(?:on)?\s*[:=]?\s*" + _ISO_DATE, re.IGNORECASE)
_OPENED = re.compile(r"\b(?:opened|created|raised|filed|added)\s*(?:on)?\s*[:=]?\s*" + _ISO_DATE, re.IGNORECASE)

_STATUS_WORDS = {
    **dict.fromkeys(("done", "fixed", "complete", "completed", "closed", "resolved", "shipped"), ActionStatus.DONE),
    **dict.fromkeys(("won't do", "wont do", "wontfix", "won't fix", "dropped", "cancelled", "canceled"), "wont_do"),
    **dict.fromkeys(("in progress", "started", "ongoing", "wip", "doing"), ActionStatus.IN_PROGRESS),
    **dict.fromkeys(("verified", "verified effective"), ActionStatus.VERIFIED),
    **dict.fromkeys(("open", "todo", "to do", "not started", "planned", "new", "pending", "tbd"), ActionStatus.OPEN),
}
# What a table's cell holds when it holds nothing.
_NO_VALUE = {"-", "\u2013", "\u2014", "n/a", "na", "none", "tbd", "?"}
# A table's heading -> the item's field it fills.
_COLUMNS = {
    "title": ("action item", "action items", "action", "item", "task", "description", "title", "what", "follow up"),
    "action_type": ("type", "kind", "category"),
    "priority": ("priority", "prio", "p"),
    "owner_name": ("owner", "assignee", "who", "owner s", "responsible"),
    "ticket_url": ("bug", "ticket", "issue", "link", "jira", "tracking"),
    "status": ("status", "state", "done"),
    "due_date": ("due", "due date", "deadline", "eta"),
    "created_at": ("created", "opened", "raised", "date"),
    "completed_at": ("closed", "completed", "done on", "completed on", "closed on"),
}


def read_action_items(text: str, *, item: ImportedIncident) -> tuple[list[ImportedActionItem], str]:
    lines = text.splitlines()
    table = [line for line in lines if line.strip().startswith("|")]
    items: list[ImportedActionItem] = []
    leftover: list[str] = []
    if table:
        table_items, table_leftover = _table(table, item)
        items.extend(table_items)
        leftover.extend(table_leftover)
        lines = [line for line in lines if not line.strip().startswith("|")]
    items_from_lines, line_leftover = _lines(lines, item)
    items.extend(items_from_lines)
    leftover.extend(line_leftover)
    return items, "\n".join(leftover)


def _lines(lines: list[str], item: ImportedIncident) -> tuple[list[ImportedActionItem], list[str]]:
    found: list[ImportedActionItem] = []
    leftover: list[str] = []
    top_indent: int | None = None
    for line in lines:
        if not line.strip():
            continue
        match = _ITEM.match(line)
        indent = len(match.group("indent").expandtabs(4)) if match else len(line) - len(line.lstrip())
        if match and (top_indent is None or indent <= top_indent):
            top_indent = indent
            found.append(_item_from_text(match.group("text"), match.group("check"), item))
        elif found and indent > (top_indent or 0):
            # A line under an item: its description.
            found[-1].description = "\n".join(filter(None, (found[-1].description, line.strip())))
        else:
            leftover.append(line)
    return found, leftover


def _item_from_text(text: str, check: str | None, item: ImportedIncident) -> ImportedActionItem:
    text = text.strip()
    result = ImportedActionItem(title="")
    plain = re.sub(r"~~(.*?)~~", r"\1", text)
    if check is not None:
        result.status = ActionStatus.DONE if check.lower() == "x" else ActionStatus.OPEN
    elif status := _status_in_text(plain):
        result.status = status
    if url := _URL.search(plain):
        result.ticket_url = url.group(0).rstrip(".,;")
    if owner := (_OWNER.search(plain) or _HANDLE.search(plain)):
        result.owner_name = owner.group("name")
    result.due_date = _date(_DUE.search(plain), item)
    opened = _date(_OPENED.search(plain), item)
    closed = _date(_DONE.search(plain), item)
    result.created_at = _at(opened)
    if closed and result.status in (ActionStatus.OPEN, ActionStatus.IN_PROGRESS) and check is None:
        result.status = ActionStatus.DONE
    result.completed_at = _at(closed)
    _set_title(result, plain)
    return result


def _status_in_text(text: str) -> str | None:
    """A status the line states in brackets or after a dash at its end: "(done)", "[in progress]", "- won't do"."""
    match = re.search(r"[(\[]\s*([^()\[\]]{2,20}?)\s*[)\]]\s*\.?$|[\u2013\u2014-]\s*([A-Za-z' ]{2,20})\s*$", text)
    if not match:
        return None
    word = (match.group(1) or match.group(2) or "").strip().lower()
    return _STATUS_WORDS.get(word)


def _set_title(result: ImportedActionItem, text: str) -> None:
    title = " ".join(text.split())
    if len(title) > TITLE_MAX:
        result.description = "\n".join(filter(None, (text, result.description)))
        title = title[: TITLE_MAX - 1] + "…"
    result.title = title


def _date(match: re.Match | None, item: ImportedIncident) -> date | None:
    if not match:
        return None
    try:
        return date.fromisoformat(match.group("day"))
    except ValueError:
        item.warnings.append(f"Unparsed date {match.group('day')!r} in an action item.")
        return None


def _at(day: date | None) -> datetime | None:
    return datetime(day.year, day.month, day.day, tzinfo=UTC) if day else None


def _cells(line: str) -> list[str]:
    return [cell.strip() for cell in re.split(r"(?<!\\)\|", line.strip().strip("|"))]


def _column_key(heading: str) -> str:
    return " ".join(re.sub(r"[^0-9a-z]+", " ", heading.lower()).split())


def _table(lines: list[str], item: ImportedIncident) -> tuple[list[ImportedActionItem], list[str]]:
    rows = [_cells(line) for line in lines if not all(re.fullmatch(r":?-{2,}:?", c) or not c for c in _cells(line))]
    if len(rows) < 2:
        # A table with headings and no rows lists no item: nothing to keep.
        return [], []
    headings = [_column_key(h) for h in rows[0]]
    columns: dict[int, str] = {}
    for index, heading in enumerate(headings):
        field = next((f for f, names in _COLUMNS.items() if heading in names and f not in columns.values()), None)
        if field:
            columns[index] = field
    if "title" not in columns.values():
        # No column names the action: the first column is it.
        columns = {0: "title", **{i: f for i, f in columns.items() if i != 0}}
    found = []
    for cells in rows[1:]:
        values = {columns[i]: cell for i, cell in enumerate(cells) if i in columns and cell}
        if not values.get("title"):
            continue
        result = _item_from_text(values["title"], None, item)
        extra = [f"{rows[0][i]}: {cell}" for i, cell in enumerate(cells) if i not in columns and cell]
        if extra:
            result.description = "\n".join(filter(None, (result.description, *extra)))
        _table_fields(result, values, item)
        found.append(result)
    return found, []


def _table_fields(result: ImportedActionItem, values: dict, item: ImportedIncident) -> None:
    if kind := values.get("action_type", "").lower():
        if kind in ActionType.values:
            result.action_type = kind
        else:
            result.description = "\n".join(filter(None, (result.description, f"Type: {values['action_type']}")))
    if (priority := values.get("priority", "").upper()) in Priority.values:
        result.priority = priority
    elif priority:
        result.description = "\n".join(filter(None, (result.description, f"Priority: {values['priority']}")))
    if owner := values.get("owner_name"):
        result.owner_name = owner.lstrip("@")
    if ticket := values.get("ticket_url"):
        url = _URL.search(ticket)
        if url:
            result.ticket_url = url.group(0)
        else:
            result.description = "\n".join(filter(None, (result.description, f"Ticket: {ticket}")))
    if status := values.get("status"):
        # "Done (Demo workflow)": the status is what comes before a remark in brackets.
        known = _STATUS_WORDS.get(status.split("(")[0].lower().strip(" .✅"))
        if status.strip() in ("✅", "✔", "x", "X", "yes"):
            known = ActionStatus.DONE
        if known:
            result.status = known
        else:
            item.warnings.append(f"Unknown action item status {status!r}: {result.title[:60]!r} is kept open.")
    for field in ("due_date", "created_at", "completed_at"):
        raw = values.get(field)
        if not raw or raw.strip() in _NO_VALUE:
            continue
        try:
            day = date.fromisoformat(raw.strip()[:10])
        except ValueError:
            item.warnings.append(f"Unparsed date {raw!r} in an action item's {field.replace('_', ' ')}.")
            continue
        setattr(result, field, day if field == "due_date" else _at(day))
