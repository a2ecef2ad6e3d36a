"""Markdown postmortems, with or without YAML front matter, read into an `ImportedIncident`.

- Front matter (python-frontmatter) gives the incident's fields by the keys headings.toml lists; keys
  it does not list are kept as a note, verbatim.
- Headings go to COE sections by headings.toml. A heading that maps to nothing goes where its parent
  heading went (with its heading kept in the text), or with no such parent is kept as a note.
  Text before the first heading is part of the summary.
- The timeline's lines and table rows become events, each as precisely as it states its time
  (timeline_lines.py); its text is also kept whole as the Timeline section.
- Action item lists (checkboxes, bullets, a table) become action items; the whys' list a chain.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from datetime import date
from pathlib import PurePosixPath

import frontmatter
import yaml
from markdown_it import MarkdownIt

from incidents.models.coe import SECTIONS_BY_KEY
from incidents.models.vocab import TimePrecision

from . import values
from .action_lines import read_action_items
from .headings import Mapping, mapping
from .records import ImportedIncident, ReadFailure
from .sources import SourceFile
from .timeline_lines import read_timeline

# Only the block structure is needed (where headings are): inline parsing is skipped.
_PARSER = MarkdownIt("commonmark").enable("table").disable("inline")
# The longest external id the column holds; a longer front-matter id or URL is kept by its hash.
EXTERNAL_ID_MAX = 100


def read(file: SourceFile, *, options: dict) -> Iterator[ImportedIncident | ReadFailure]:
    try:
        text = file.data.decode("utf-8-sig")
    except UnicodeDecodeError:
        yield ReadFailure(file.name, "Not UTF-8 text.")
        return
    yield from read_text(text, origin=file.name, content=file.data)


def read_text(text: str, *, origin: str, content: bytes | None = None) -> Iterator[ImportedIncident | ReadFailure]:
    """One postmortem's text; `content` (the file's bytes) is what its hash id is taken from."""
    try:
        post = frontmatter.loads(text)
    except (yaml.YAMLError, ValueError) as error:
        yield ReadFailure(origin, f"The front matter is not valid YAML: {_first_line(str(error))}")
        return
    if not isinstance(post.metadata, dict):
        yield ReadFailure(origin, "The front matter is not a list of keys and values.")
        return
    digest = hashlib.sha256(content if content is not None else text.encode()).hexdigest()
    yield _Reading(origin, mapping()).read(post.metadata, post.content, digest)


def _stated_time(raw) -> tuple[object, dict]:
    """A time as the front matter gives it: a value, or (as our own export writes it) a mapping of
    `at`, `precision` and `estimated`."""
    if isinstance(raw, dict) and "at" in raw:
        precision = raw.get("precision")
        return raw["at"], {
            "precision": precision if precision in TimePrecision.values else None,
            "estimated": raw.get("estimated") is True,
        }
    return raw, {}


def _first_line(text: str) -> str:
    return text.strip().splitlines()[0] if text.strip() else text


class _Reading:
    """One file's reading: what it found so far, and the warnings and notes that go with it."""

    def __init__(self, origin: str, known: Mapping):
        self.origin = origin
        self.map = known
        self.item = ImportedIncident(external_id="", origin=origin)
        self.url = ""
        self.given_id = ""

    def read(self, meta: dict, body: str, digest: str) -> ImportedIncident:
        item = self.item
        self._front_matter({str(k).lower(): v for k, v in meta.items()})
        heading_title = self._body(body)
        if not item.title:
            item.title = heading_title
        if not item.title and (sentence := _first_sentence(item.summary)):
            item.title = sentence
            item.warnings.append(f"Missing title: the summary's first sentence is the title ({item.title!r}).")
        if not item.title:
            item.title = _title_from_name(self.origin)
            item.warnings.append(f"Missing title: named after the file ({item.title!r}).")
        item.external_id = self._external_id(digest)
        self._start_from_elsewhere(body)
        item.timeline.sort(key=lambda event: event.occurred_at)
        return item

    # Front matter ------------------------------------------------------------------------------

    def _take(self, meta: dict, field: str):
        for key in self.map.front_matter.get(field, ()):
            if key in meta and meta[key] not in (None, "", []):
                self.item.mapped.append((f"front matter: {key}", field))
                return key, meta.pop(key)
        return None, None

    def _front_matter(self, meta: dict) -> None:
        item = self.item
        _, given_id = self._take(meta, "external_id")
        self.given_id = _one_line(given_id)
        _, title = self._take(meta, "title")
        item.title = _one_line(title)
        _, self.url = self._take(meta, "url")
        self.url = str(self.url or "")
        _, summary = self._take(meta, "summary")
        item.summary = str(summary or "").strip()
        _, impact = self._take(meta, "customer_impact")
        item.customer_impact = str(impact or "").strip()
        for field, reader in (("severity", values.severity_of), ("status", values.status_of)):
            key, raw = self._take(meta, field)
            if raw is not None:
                value, warning = reader(str(raw))
                setattr(item, field, value)
                self._warn(warning)
        key, raw = self._take(meta, "primary_cause")
        if raw is not None:
            item.primary_cause, warning = values.cause_of(str(raw))
            self._warn(warning)
        for field in ("started_at", "detected_at", "mitigated_at", "resolved_at", "created_at"):
            key, raw = self._take(meta, field)
            if raw is None:
                continue
            raw_at, stated = _stated_time(raw)
            when, precision, warning = values.when_of(raw_at)
            precision = stated.get("precision") or precision
            if when is None:
                self._warn(f"{warning} (front matter {key!r}; the value is kept as a note)")
                meta[key] = raw
                continue
            self._warn(warning)
            setattr(item, field, when)
            if field == "started_at":
                item.time_precision = precision
                item.started_estimated = bool(stated.get("estimated"))
        _, categories = self._take(meta, "categories")
        for category in _names(categories):
            if not item.primary_cause and (cause := self.map.categories.get(category.lower())):
                item.primary_cause = cause
            item.tags.append(category)
        for field in ("tags", "services", "regions"):
            _, names = self._take(meta, field)
            getattr(item, field).extend(_names(names))
        _, company = self._take(meta, "company")
        item.tags.extend(_names(company))
        _, team = self._take(meta, "team")
        item.team = _one_line(team)
        # Keys with no value say nothing; the others are kept, verbatim.
        meta = {key: value for key, value in meta.items() if value not in (None, "", [], {})}
        if meta:
            dumped = yaml.safe_dump(meta, sort_keys=False, allow_unicode=True, default_flow_style=False)
            item.notes.append(("Front matter", f"```yaml\n{dumped.strip()}\n```"))

    def _warn(self, warning: str | None) -> None:
        if warning:
            self.item.warnings.append(warning)

    def _external_id(self, digest: str) -> str:
        if self.given_id:
            return _bounded_id(self.given_id, "id")
        if self.url:
            return _bounded_id(self.url, "url")
        return f"import:sha256:{digest}"

    # The body ----------------------------------------------------------------------------------

    def _body(self, body: str) -> str:
        """Read the body's blocks into the item; returns the document's own title (its first H1), if any."""
        lines = body.splitlines()
        blocks = _blocks(lines)
        title = ""
        texts: dict[str, list[str]] = {}
        # The places open at each heading level, to give an unmapped sub-heading its parent's place.
        open_targets: list[tuple[int, str]] = []
        # The document's title: its first heading, when that is an H1 the mapping does not place.
        first_heading = next((b for b in blocks if b[0]), None)
        for block in blocks:
            level, heading, text = block
            if block is first_heading and level == 1 and self.map.target(heading) is None:
                title = heading
                if text.strip():
                    texts.setdefault("summary", []).append(text.strip())
                    self.item.mapped.append(("text under the title", "summary"))
                continue
            if level == 0:
                if text.strip():
                    texts.setdefault("summary", []).append(text.strip())
                    self.item.mapped.append(("text before the first heading", "summary"))
                continue
            open_targets = [(lvl, target) for lvl, target in open_targets if lvl < level]
            target = self.map.target(heading)
            if target == "title":
                title = title or _one_line(text)
                self.item.mapped.append((f"{'#' * level} {heading}", "title"))
                continue
            if target is not None:
                open_targets.append((level, target))
                self.item.mapped.append((f"{'#' * level} {heading}", target))
                if text.strip():
                    texts.setdefault(target, []).append(text.strip())
                continue
            if open_targets:
                parent = open_targets[-1][1]
                texts.setdefault(parent, []).append(f"{'#' * level} {heading}\n\n{text.strip()}".strip())
                self.item.mapped.append((f"{'#' * level} {heading}", f"{parent} (under its parent heading)"))
                continue
            self.item.notes.append((heading, text.strip()))
        self._places(texts)
        return _one_line(title)

    def _places(self, texts: dict[str, list[str]]) -> None:
        item = self.item
        for target, parts in texts.items():
            text = "\n\n".join(parts)
            if target == "timeline":
                item.sections["timeline_narrative"] = text
                item.timeline.extend(read_timeline(text, item=item, kinds=self.map.timeline_kinds))
            elif target == "action_items":
                items, leftover = read_action_items(text, item=item)
                item.action_items.extend(items)
                if leftover.strip():
                    item.notes.append(("Action items (text not read as items)", leftover.strip()))
            elif target == "whys":
                chains, leftover = _whys(text)
                item.whys.extend(chains)
                if leftover.strip():
                    item.sections["q_prevention"] = _joined(item.sections.get("q_prevention", ""), leftover.strip())
            elif target in SECTIONS_BY_KEY:
                item.sections[target] = _joined(item.sections.get(target, ""), text)
        if item.summary:
            item.sections["summary"] = _joined(item.summary, item.sections.get("summary", ""))
        elif item.sections.get("summary"):
            item.summary = item.sections["summary"]
        if item.customer_impact and not item.sections.get("impact"):
            item.sections["impact"] = item.customer_impact
        if self.url:
            item.sections["related_items"] = _joined(
                f"Original postmortem: <{self.url}>", item.sections.get("related_items", "")
            )

    def _start_from_elsewhere(self, body: str) -> None:
        """An incident needs a start. The front matter's, else the first dated timeline line's, else the
        first full date the text gives, else a date in the file's name (each as precisely as it is
        stated), else when the postmortem was written, marked as an estimate. Without any, the runner
        refuses the file."""
        item = self.item
        if item.started_at is not None:
            return
        if item.timeline:
            first = min(item.timeline, key=lambda event: event.occurred_at)
            item.started_at, item.time_precision = first.occurred_at, first.precision
            item.mapped.append(("first timeline line", "started_at"))
            return
        for found, where in ((_date_in_text(body), "the text"), (_date_in_name(self.origin), "the file's name")):
            if found:
                item.started_at, item.time_precision, _ = values.when_of(found)
                item.mapped.append((f"first date in {where}", "started_at"))
                item.warnings.append(f"No start time given: the first date in {where}, {found}, is taken as the start.")
                return
        if item.created_at is not None:
            item.started_at, item.time_precision, item.started_estimated = item.created_at, "day", True
            item.mapped.append(("date the postmortem was written", "started_at (estimated)"))
            item.warnings.append(
                "No start time given: the date the postmortem was written is taken as the start, marked as an estimate."
            )


def _blocks(lines: list[str]) -> list[tuple[int, str, str]]:
    """(heading level, heading text, text under it up to the next heading); level 0 for text before any."""
    tokens = _PARSER.parse("\n".join(lines))
    starts = []
    for index, token in enumerate(tokens):
        if token.type == "heading_open" and token.map:
            inline = tokens[index + 1]
            starts.append((token.map[0], token.map[1], int(token.tag[1]), _plain_heading(inline.content)))
    blocks = []
    previous_end, previous = 0, (0, "")
    for start, end, level, heading in starts:
        blocks.append((*previous, "\n".join(lines[previous_end:start])))
        previous_end, previous = end, (level, heading)
    blocks.append((*previous, "\n".join(lines[previous_end:])))
    return [b for b in blocks if b[0] or b[2].strip()]


def _plain_heading(text: str) -> str:
    return re.sub(r"[*_`]+", "", text).strip().rstrip(":").strip()


def _whys(text: str) -> tuple[list[dict], str]:
    """Numbered or bulleted lines become one chain's links; a paragraph before a list names its cause."""
    chains: list[dict] = []
    leftover: list[str] = []
    cause, links = "", []
    for line in text.splitlines():
        match = re.match(r"^\s*(?:[-*+]|\d+[.)])\s+(.*\S)", line)
        if match:
            links.append(match.group(1))
            continue
        if not line.strip():
            continue
        if links:
            chains.append({"cause": cause, "links": links})
            cause, links = "", []
        if cause:
            leftover.append(cause)
        cause = line.strip().lstrip("#").strip()
    if links:
        chains.append({"cause": cause, "links": links})
    elif cause:
        leftover.append(cause)
    return chains, "\n".join(leftover)


def _joined(first: str, second: str) -> str:
    return "\n\n".join(part for part in (first.strip(), second.strip()) if part)


def _one_line(value) -> str:
    return " ".join(str(value or "").split())


def _names(value) -> list[str]:
    if value is None:
        return []
    if isinstance(value, list | tuple):
        return [_one_line(v) for v in value if _one_line(v)]
    return values.names_of(str(value))


def _bounded_id(value: str, kind: str) -> str:
    if len(value) <= EXTERNAL_ID_MAX:
        return value
    return f"import:{kind}:sha256:{hashlib.sha256(value.encode()).hexdigest()}"


def _title_from_name(origin: str) -> str:
    stem = PurePosixPath(origin).stem
    return " ".join(re.sub(r"[-_]+", " ", stem).split())[:200] or origin


def _first_sentence(text: str, limit: int = 120) -> str:
    plain = " ".join(re.sub(r"[#*_`>\[\]]+", " ", text).split())
    sentence = re.split(r"(?<=[.!?])\s", plain, maxsplit=1)[0]
    return sentence if len(sentence) <= limit else sentence[: limit - 1].rsplit(" ", 1)[0] + "…"


_MONTH_NAMES = "January|February|March|April|May|June|July|August|September|October|November|December"
_TEXT_DATE = re.compile(
    rf"(?<!\d)(\d{{4}}-\d{{2}}-\d{{2}})(?!\d)"
    rf"|\b((?:{_MONTH_NAMES})\s+(?:\d{{1,2}}(?:st|nd|rd|th)?,?\s+)?\d{{4}})\b"
)


def _date_in_text(text: str) -> str | None:
    """The first date with a year the text gives ("2012-06-13", "June 13, 2012", "June 2012"), as written."""
    match = _TEXT_DATE.search(text)
    if not match:
        return None
    found = match.group(1) or re.sub(r"(?<=\d)(?:st|nd|rd|th)", "", match.group(2))
    when, _, _ = values.when_of(found)
    return found if when is not None else None


_NAME_DATE = re.compile(r"(?<!\d)(\d{4})-?(\d{2})-?(\d{2})(?!\d)")


def _date_in_name(origin: str) -> date | None:
    match = _NAME_DATE.search(PurePosixPath(origin).name)
    if not match:
        return None
    try:
        return date(*(int(part) for part in match.groups()))
    except ValueError:
        return None
