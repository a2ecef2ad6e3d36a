"""What every reader (Markdown, HTML, CSV, our JSON) hands the runner: one incident as the file tells it.

Readers only read; the runner checks, previews and writes through the services. Anything a reader could
not place goes into `notes` (kept verbatim as an "Imported notes" section) or `warnings`: nothing is dropped.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime


@dataclass
class ImportedEvent:
    occurred_at: datetime
    description: str
    precision: str = "minute"  # a TimePrecision value: what the line stated
    kind: str = "note"  # a TimelineKind value


@dataclass
class ImportedActionItem:
    title: str
    status: str = "open"  # an ActionStatus value
    owner_name: str = ""  # as the file names them; matched to a user if one exists
    due_date: date | None = None
    created_at: datetime | None = None  # the file's own dates, kept so charts do not jump on import day
    completed_at: datetime | None = None
    ticket_url: str = ""
    # What a table's columns or the item's own lines add; empty when the file does not say.
    action_type: str = ""  # an ActionType value; "" lets the runner pick one from the title's words
    priority: str = ""  # a Priority value
    description: str = ""


@dataclass
class ImportedIncident:
    # A stable id so a second import of the same file updates rather than duplicates: the front
    # matter's id, the page URL, or a hash of the content ("import:sha256:...").
    external_id: str
    origin: str  # the file (path inside a folder or zip) or URL, or "file.csv row 12"
    title: str = ""
    summary: str = ""
    severity: str = ""  # a Severity value, or "" when the file gives none (the runner warns and picks a default)
    status: str = ""
    started_at: datetime | None = None
    time_precision: str = "minute"
    started_estimated: bool = False  # the start is inferred (e.g. from when the postmortem was written)
    detected_at: datetime | None = None
    mitigated_at: datetime | None = None
    resolved_at: datetime | None = None
    customer_impact: str = ""
    primary_cause: str = ""
    services: list[str] = field(default_factory=list)
    regions: list[str] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)
    team: str = ""
    created_at: datetime | None = None  # when the original postmortem was written, if the file says
    # COE sections by SECTIONS key (summary, impact, timeline_narrative, root_cause, ...), Markdown.
    sections: dict[str, str] = field(default_factory=dict)
    whys: list[dict] = field(default_factory=list)  # [{"cause": str, "links": [str, ...]}]
    timeline: list[ImportedEvent] = field(default_factory=list)
    action_items: list[ImportedActionItem] = field(default_factory=list)
    # Headings that mapped to nothing, kept verbatim: [(heading, markdown), ...].
    notes: list[tuple[str, str]] = field(default_factory=list)
    # For the report: which heading or column went where ([(from, to), ...]) and what was doubtful.
    mapped: list[tuple[str, str]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


@dataclass
class ReadFailure:
    """A file or row that could not be read at all: it fails alone, with its reason."""

    origin: str
    reason: str
