"""The COE quality linter: rules L01-L18 of shared/DOMAIN.md 1.5.

`check_coe()` is pure Python over objects the caller has already loaded. It
runs no queries of its own, so the editor can run it on every save (or on a
submitted form before saving). It reads only plain attributes: section text,
`whys`, `*_id` foreign keys, never a relation such as `coe.authors` or
`item.owner`. Who wrote and who approved the COE therefore comes in as
keyword arguments; `owner_id`, `approver_id` and `reviewed_in_ops_meeting`
fall back to the same attributes on `coe` when not given.

Each rule is one small function below, registered with `@_rule(...)` in
checklist order; `RULES` lists their (id, title, required, source) so a page
can render the checklist before anything has been checked.

Findings
    `messages` say what is wrong, one specific sentence each; a finding
    passes exactly when it has no messages. `info` carries notes that are
    true whether the rule passes or not (L03's time to detect and mitigate,
    L12's drafting delay), so the editor can show them without a warning.

Score
    Required rules weigh 2, advisory rules 1 (7 required, 11 advisory: 25
    points in all). score = floor(100 * points passed / 25), so 100 means
    every rule passed and any failure costs at least 4 points; a required
    failure costs 8. Rules that look for faults (blame, vague actions, an
    incomplete AI block...) pass when there is nothing to judge, so an empty
    draft still scores about half; L01 and `can_submit` say it is unfinished.

Submitting for review is blocked while any required rule fails
(`QualityReport.can_submit`).

Text heuristics are deliberately simple and case-insensitive unless noted:
a reviewer still reads the COE; the linter only points at what to look at.
Words inside a pair of double quotes ("..." or “...”) are not held against
the author in L05 and L06: quoting a vendor's "human error" is reporting it.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any, NamedTuple

from django.conf import settings
from django.utils import timezone

from .models.coe import SECTIONS_BY_KEY
from .models.vocab import ActionStatus, ActionType, PermissionScope, Priority, Severity, TimelineKind, TriState

# --------------------------------------------------------------------------
# The report
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class Finding:
    rule: str  # "L01".."L18"
    title: str  # short human title of the rule
    passed: bool
    required: bool  # required rules block "submit for review"
    messages: tuple[str, ...]  # what is wrong; empty when the rule passes
    sections: tuple[str, ...]  # section keys, or "whys", "action_items", "timeline", "ai"
    source: str  # where the rule comes from (DOMAIN.md 1.5)
    info: tuple[str, ...] = ()  # notes shown whether the rule passes or not


REQUIRED_WEIGHT = 2
ADVISORY_WEIGHT = 1


@dataclass(frozen=True)
class QualityReport:
    findings: tuple[Finding, ...]

    @property
    def score(self) -> int:
        """0..100: share of rule weight passed, required rules counting double."""
        total = sum(_weight(f) for f in self.findings)
        if not total:
            return 100
        passed = sum(_weight(f) for f in self.findings if f.passed)
        return math.floor(100 * passed / total)

    @property
    def failing(self) -> tuple[Finding, ...]:
        return tuple(f for f in self.findings if not f.passed)

    @property
    def failing_required(self) -> tuple[Finding, ...]:
        return tuple(f for f in self.findings if f.required and not f.passed)

    @property
    def can_submit(self) -> bool:
        return not self.failing_required

    def for_section(self, key: str) -> list[Finding]:
        """Failing findings that point at this section, to show them in place."""
        return [f for f in self.findings if not f.passed and key in f.sections]

    def messages_for(self, key: str) -> list[tuple[str, str]]:
        """(rule, message) pairs to show under one section.

        A finding may point at several sections (L01 lists every empty one), so
        only the messages that name this section are shown here; a finding that
        points at this section alone shows all of its messages.
        """
        title = SECTIONS_BY_KEY[key].title.lower() if key in SECTIONS_BY_KEY else key
        pairs = []
        for finding in self.for_section(key):
            named = [m for m in finding.messages if title in m.lower()]
            for message in named or (finding.messages if len(finding.sections) == 1 else ()):
                pairs.append((finding.rule, message))
        return pairs

    def get(self, rule: str) -> Finding:
        return next(f for f in self.findings if f.rule == rule)


def _weight(finding: Finding) -> int:
    return REQUIRED_WEIGHT if finding.required else ADVISORY_WEIGHT


# --------------------------------------------------------------------------
# Rule registry
# --------------------------------------------------------------------------


class Rule(NamedTuple):
    id: str
    title: str
    required: bool
    source: str


@dataclass
class _Result:
    """What a rule function returns; `check_coe` adds the rule's metadata."""

    messages: list[str] = field(default_factory=list)
    sections: list[str] = field(default_factory=list)
    info: list[str] = field(default_factory=list)


_REGISTRY: list[tuple[Rule, Callable[[_Input], _Result]]] = []


def _rule(rule_id: str, title: str, *, required: bool, source: str):
    def register(func: Callable[[_Input], _Result]) -> Callable[[_Input], _Result]:
        _REGISTRY.append((Rule(rule_id, title, required, source), func))
        return func

    return register


# --------------------------------------------------------------------------
# Input, normalised once
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class _Chain:
    number: int  # 1-based position in coe.whys, as the editor shows it
    cause: str
    links: tuple[str, ...]  # non-empty links only

    @property
    def label(self) -> str:
        return f"Whys chain {self.number} ('{_short(self.cause)}')" if self.cause else f"Whys chain {self.number}"


@dataclass(frozen=True)
class _Input:
    coe: Any
    incident: Any
    chains: tuple[_Chain, ...]
    items: tuple[Any, ...]
    timeline: tuple[Any, ...]
    ai: tuple[Any, ...]
    owner_id: Any
    author_ids: frozenset
    approver_id: Any
    reviewed_in_ops_meeting: bool
    today: date
    draft_target_days: int

    def text(self, key: str) -> str:
        """A section's text; whitespace-only counts as empty."""
        return str(getattr(self.coe, key, "") or "").strip()

    @property
    def severity(self) -> str:
        return getattr(self.incident, "severity", "") or ""

    @property
    def live_items(self) -> tuple[Any, ...]:
        """Items still meant to happen: a won't-do item prevents nothing."""
        return tuple(i for i in self.items if getattr(i, "status", "") != ActionStatus.WONT_DO)


def _chains(whys: Any) -> tuple[_Chain, ...]:
    """Whys chains, skipping fully blank rows (the editor's empty extra form).

    Malformed data (CoeDocument.clean reports it) is read as leniently as
    possible rather than raising here.
    """
    if not isinstance(whys, list):
        return ()
    chains = []
    for number, raw in enumerate(whys, start=1):
        if not isinstance(raw, dict):
            continue
        cause = str(raw.get("cause") or "").strip()
        links = raw.get("links") or []
        if not isinstance(links, list):
            links = []
        links = tuple(str(link).strip() for link in links if str(link or "").strip())
        if cause or links:
            chains.append(_Chain(number, cause, links))
    return tuple(chains)


def check_coe(
    coe,
    *,
    incident,
    action_items: Iterable,
    timeline: Iterable,
    ai_involvements: Iterable,
    today: date | None = None,
    draft_target_days: int | None = None,
    owner_id=None,
    author_ids: Iterable = (),
    approver_id=None,
    reviewed_in_ops_meeting: bool = False,
) -> QualityReport:
    """Run every rule over already-loaded objects and return the report.

    `timeline` is the incident's events (any order); `author_ids` the COE's
    authors' ids. `owner_id`, `approver_id` and `reviewed_in_ops_meeting`
    default to the attributes of the same name on `coe`.
    """
    data = _Input(
        coe=coe,
        incident=incident,
        chains=_chains(getattr(coe, "whys", None)),
        items=tuple(action_items),
        timeline=tuple(timeline),
        ai=tuple(ai_involvements),
        owner_id=owner_id if owner_id is not None else getattr(coe, "owner_id", None),
        author_ids=frozenset(author_ids),
        approver_id=approver_id if approver_id is not None else getattr(coe, "approver_id", None),
        reviewed_in_ops_meeting=bool(reviewed_in_ops_meeting or getattr(coe, "reviewed_in_ops_meeting", False)),
        today=today or timezone.localdate(),
        draft_target_days=draft_target_days if draft_target_days is not None else settings.COE_DRAFT_TARGET_DAYS,
    )
    findings = []
    for rule, func in _REGISTRY:
        result = func(data)
        findings.append(
            Finding(
                rule=rule.id,
                title=rule.title,
                passed=not result.messages,
                required=rule.required,
                messages=tuple(result.messages),
                sections=tuple(dict.fromkeys(result.sections)),  # de-duplicated, in order
                source=rule.source,
                info=tuple(result.info),
            )
        )
    return QualityReport(tuple(findings))


# --------------------------------------------------------------------------
# Small text helpers
# --------------------------------------------------------------------------


def _title(key: str) -> str:
    return SECTIONS_BY_KEY[key].title


def _short(text: str, limit: int = 40) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _item_label(item: Any, number: int) -> str:
    title = str(getattr(item, "title", "") or "").strip()
    return f"Action item '{_short(title, 60)}'" if title else f"Action item {number}"


def _join(parts: list[str], word: str = "and") -> str:
    """'a', 'a and b', 'a, b and c'."""
    return parts[0] if len(parts) == 1 else f"{', '.join(parts[:-1])} {word} {parts[-1]}"


_QUOTED = re.compile(r"“[^”]*”|\"[^\"\n]*\"")


def _unquoted(text: str) -> str:
    """The text with double-quoted passages blanked out (they quote others)."""
    return _QUOTED.sub(lambda m: " " * len(m.group()), text)


def _find_phrases(patterns: Iterable[re.Pattern], text: str) -> list[str]:
    """Each distinct phrase (as written) that a pattern finds outside quotes."""
    text = _unquoted(text)
    found: dict[str, str] = {}
    for pattern in patterns:
        for match in pattern.finditer(text):
            found.setdefault(match.group().lower(), match.group())
    return list(found.values())


def _texts_to_scan(data: _Input, section_keys: Iterable[str], *, whys: bool, item_titles: bool):
    """(label, section key, text) for every piece of writing a rule reads."""
    for key in section_keys:
        yield _title(key), key, data.text(key)
    if whys:
        for chain in data.chains:
            yield chain.label, "whys", "\n".join((chain.cause, *chain.links))
    if item_titles:
        for number, item in enumerate(data.items, start=1):
            yield _item_label(item, number), "action_items", str(getattr(item, "title", "") or "")


def _format_duration(span: timedelta) -> str:
    """'2 h 5 min', '1 d 3 h', '20 min'."""
    days, rest = divmod(int(span.total_seconds() // 60), 24 * 60)
    hours, minutes = divmod(rest, 60)
    parts = [f"{value} {unit}" for value, unit in ((days, "d"), (hours, "h"), (minutes, "min")) if value]
    return " ".join(parts) or "under 1 min"


def _as_date(value: date | datetime) -> date:
    if isinstance(value, datetime):
        return timezone.localdate(value) if timezone.is_aware(value) else value.date()
    return value


# --------------------------------------------------------------------------
# The rules, in checklist order
# --------------------------------------------------------------------------

# Sections every COE needs (WA COE + SRE Appendix D). Lessons are checked
# separately: either half of "went well / went wrong" is enough.
L01_SECTIONS = (
    "summary",
    "impact",
    "timeline_narrative",
    "detection",
    "root_cause",
    "trigger",
    "resolution",
    "related_items",
)


@_rule("L01", "Required sections are filled in", required=True, source="WA COE; SRE App. D")
def _required_sections(data: _Input) -> _Result:
    result = _Result()
    for key in L01_SECTIONS:
        if not data.text(key):
            result.messages.append(f"Section '{_title(key)}' is empty")
            result.sections.append(key)
    if not (data.text("lessons_went_well") or data.text("lessons_went_wrong")):
        result.messages.append("Lessons are empty: fill in what went well or what went wrong")
        result.sections += ["lessons_went_well", "lessons_went_wrong"]
    if not data.chains:
        result.messages.append("No whys chain: write one chain per root cause")
        result.sections.append("whys")
    if not data.items:
        result.messages.append("No action items: add the corrective actions you are taking")
        result.sections.append("action_items")
    return result


# A quantity: a digit that is not glued to a word or a hyphen, so "EC2",
# "SEV1" and "us-east-1" do not count but "1.6M", "~15", "$5M", "99%" and
# "120,000" do. Dates and clock times are removed first: they are the start
# and end the rule also asks for, not a measure of impact. (A bare year such
# as "in 2025" still counts; rare enough to accept.)
_MONTH = r"(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)[a-z]*\.?"
_NOT_QUANTITIES = re.compile(
    r"\d{4}-\d{2}-\d{2}(?:[T ]\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?"  # ISO date (and time)
    r"|\b\d{1,2}:\d{2}(?::\d{2})?"  # clock time
    r"|[+-]\d{2}:?\d{2}\b"  # UTC offset
    rf"|\b{_MONTH}\s+\d{{1,2}}(?:st|nd|rd|th)?(?:,?\s+\d{{4}})?\b"  # Oct 20, 2025
    rf"|\b\d{{1,2}}(?:st|nd|rd|th)?\s+{_MONTH}(?:\s+\d{{4}})?\b"  # 20 Oct 2025
    rf"|\b{_MONTH}\s+\d{{4}}\b"  # October 2025
)
_QUANTITY = re.compile(r"(?<![\w-])\d")

# A time zone named in prose: an abbreviation (case-sensitive), a UTC offset
# or "Z" after a clock time, or an IANA name.
_TIME_ZONE = re.compile(
    r"\b(?:UTC|GMT|PST|PDT|PT|MST|MDT|CST|CDT|EST|EDT|ET|AKST|AKDT|HST|WET|WEST|CET|CEST|EET|EEST|BST|IST|"
    r"JST|KST|SGT|AEST|AEDT|ACST|AWST|NZST|NZDT)\b"
    r"|\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?\s*(?:Z\b|[+-]\d{2}:?\d{2}\b)"
    r"|\b(?:Africa|America|Antarctica|Asia|Atlantic|Australia|Europe|Indian|Pacific|Etc)/[A-Za-z_]+"
)


@_rule(
    "L02",
    "Impact is quantified, with start and end times",
    required=True,
    source='SRE Workbook ch. 10, "Key details omitted"',
)
def _impact_quantified(data: _Input) -> _Result:
    result = _Result()
    impact = data.text("impact")
    if not _QUANTITY.search(_NOT_QUANTITIES.sub(" ", impact)):
        result.messages.append(
            "Impact has no number: say how many users, orders or requests were affected, "
            "or what share or revenue (an estimate is fine)"
        )
    incident = data.incident
    # Stored times are time-zone aware, so recorded ends satisfy the rule. A
    # reported duration counts as an estimated end: sources often give only
    # "about 13 hours", and the rule allows an estimate.
    has_recorded_span = getattr(incident, "started_at", None) and (
        getattr(incident, "mitigated_at", None)
        or getattr(incident, "resolved_at", None)
        or getattr(incident, "reported_duration", None)
    )
    if not has_recorded_span and not _TIME_ZONE.search(impact):
        result.messages.append(
            "Impact gives no start and end with a time zone (e.g. '11:48 PM PDT'), "
            "and the incident has no start and end times recorded"
        )
    if result.messages:
        result.sections.append("impact")
    return result


# The moments Incident Manager marks on every post-incident timeline.
L03_KINDS = (
    TimelineKind.START,
    TimelineKind.DETECTION,
    TimelineKind.ENGAGEMENT,
    TimelineKind.MITIGATION,
    TimelineKind.RESOLUTION,
)
# (earlier, later): the first event of each kind must not come before the
# first of the kind it follows. Engagement is only checked against the start:
# automation may mitigate before anyone is paged.
L03_ORDER = (
    (TimelineKind.START, TimelineKind.DETECTION),
    (TimelineKind.START, TimelineKind.ENGAGEMENT),
    (TimelineKind.START, TimelineKind.MITIGATION),
    (TimelineKind.START, TimelineKind.RESOLUTION),
    (TimelineKind.DETECTION, TimelineKind.ENGAGEMENT),
    (TimelineKind.MITIGATION, TimelineKind.RESOLUTION),
)


@_rule("L03", "Timeline marks the key moments in order", required=False, source="AWS Incident Manager")
def _timeline(data: _Input) -> _Result:
    result = _Result()
    # Time to detect and mitigate, whenever the incident records both ends.
    for label, span in (
        ("Time to detect (TTD)", getattr(data.incident, "time_to_detect", None)),
        ("Time to mitigate (TTM)", getattr(data.incident, "time_to_mitigate", None)),
    ):
        result.info.append(f"{label}: {_format_duration(span)}" if span is not None else f"{label}: not recorded")

    if not data.timeline:
        result.messages.append("The timeline has no events")
        result.sections.append("timeline")
        return result

    # The earliest time of each kind. Kinds are compared as plain strings:
    # a TextChoices member hashes by its name, not its value.
    first: dict[str, Any] = {}
    for event in data.timeline:
        kind, at = str(getattr(event, "kind", "")), getattr(event, "occurred_at", None)
        if at is not None and (kind not in first or at < first[kind]):
            first[kind] = at
    missing = [kind.label for kind in L03_KINDS if kind.value not in first]
    if missing:
        result.messages.append(f"The timeline lacks these events: {', '.join(missing)}")
    for earlier, later in L03_ORDER:
        if earlier.value in first and later.value in first and first[later.value] < first[earlier.value]:
            result.messages.append(f"The first {later.label} event comes before the first {earlier.label} event")
    if result.messages:
        result.sections.append("timeline")
    return result


# A last "why" about a person: names a role or pronoun, a handle, or
# "human error". It passes anyway if it also names a system or control
# ("the operator had no two-person review" is about the missing review).
_PERSON = re.compile(
    r"\b(?:engineers?|operators?|developers?|employees?|admins?|someone|somebody|he|she|him|her|"
    r"human error|forgot|forgotten|mistake)\b"
    r"|(?<![\w.@])@\w+",
    re.IGNORECASE,
)
_SYSTEM = re.compile(
    r"\b(?:system|control|process|review|automation|automated|alarm|alert|monitor\w*|test\w*|validat\w*|"
    r"check\w*|guard\w*|gate|permission\w*|access|runbook|pipeline|tool\w*|config\w*|deploy\w*|limit\w*|"
    r"polic\w*|safeguard\w*|service|code|mechanism|workflow|procedure|template|documentation|docs?)\b",
    re.IGNORECASE,
)
L04_MIN_LINKS = 3


@_rule("L04", "Whys go deep and end at a system or control", required=True, source="Working Backwards")
def _whys(data: _Input) -> _Result:
    # No chains at all is L01's finding; this rule judges the chains there are.
    result = _Result()
    for chain in data.chains:
        if len(chain.links) < L04_MIN_LINKS:
            result.messages.append(f"{chain.label} has {len(chain.links)} links; write at least {L04_MIN_LINKS}")
        if chain.links:
            last = chain.links[-1]
            if _PERSON.search(last) and not _SYSTEM.search(last):
                result.messages.append(
                    f"{chain.label} ends with a person ('{_short(last, 60)}'); "
                    "end on the system or control that let it happen"
                )
    if result.messages:
        result.sections.append("whys")
    return result


_BLAME = tuple(
    re.compile(p, re.IGNORECASE)
    for p in (
        r"\b(?:human|operator|user) error\b",
        r"\bcareless(?:ly|ness)?\b",
        r"\bshould(?: have|'ve|\u2019ve)\b",  # \u2019: a typographic apostrophe
        r"\bfailed to\b",
        r"\bnegligen(?:t|tly|ce)\b",
        r"\bfault of\b",
        r"(?<![\w.@])@\w(?:[\w.-]*\w)?",  # an @handle; e-mail addresses are not handles
    )
)


@_rule("L05", "No blame", required=True, source="SRE Workbook ch. 10; AWS Incident Manager")
def _no_blame(data: _Input) -> _Result:
    result = _Result()
    scanned = _texts_to_scan(data, ("root_cause", "lessons_went_wrong"), whys=True, item_titles=True)
    for label, key, text in scanned:
        for phrase in _find_phrases(_BLAME, text):
            if phrase.startswith("@"):
                result.messages.append(f"{label} names a person ('{phrase}'); name the role or the system")
            else:
                result.messages.append(f"{label} uses blame wording '{phrase}'; say what the system allowed")
            result.sections.append(key)
    return result


_ANIMATED = tuple(
    re.compile(p, re.IGNORECASE)
    for p in (
        r"!{3,}",
        r"\bridiculous(?:ly)?\b",
        r"\b(?:can't|can\u2019t|cant|cannot|can not) believe\b",
        r"\binsane(?:ly)?\b",
        r"\bidiot(?:s|ic)?\b",
    )
)


@_rule("L06", "Calm, factual language", required=False, source="SRE Workbook ch. 10")
def _calm_language(data: _Input) -> _Result:
    result = _Result()
    scanned = _texts_to_scan(data, SECTIONS_BY_KEY, whys=True, item_titles=True)
    for label, key, text in scanned:
        for phrase in _find_phrases(_ANIMATED, text):
            result.messages.append(f"{label} uses animated language '{phrase}'; state the facts")
            result.sections.append(key)
    return result


@_rule(
    "L07",
    "Each action item has an owner, due date, priority, ticket and type",
    required=True,
    source="SRE Workbook ch. 10; SRE App. D; causeoferror.net",
)
def _action_items_complete(data: _Input) -> _Result:
    result = _Result()
    for number, item in enumerate(data.items, start=1):
        lacks = []
        if not getattr(item, "owner_id", None):
            lacks.append("owner")
        if not getattr(item, "due_date", None):
            lacks.append("due date")
        if not getattr(item, "priority", ""):
            lacks.append("priority")
        # An item decided against has no work to track, so no ticket.
        if not getattr(item, "ticket_url", "") and getattr(item, "status", "") != ActionStatus.WONT_DO:
            lacks.append("ticket")
        if not getattr(item, "action_type", ""):
            lacks.append("type")
        if lacks:
            result.messages.append(f"{_item_label(item, number)} has no {_join(lacks, 'or')}")
    if result.messages:
        result.sections.append("action_items")
    return result


USER_FACING = (Severity.SEV1, Severity.SEV2)
URGENT = (Priority.P0, Priority.P1)


@_rule(
    "L08",
    "Actions prevent recurrence, at the right priority",
    required=False,
    source="SRE Workbook ch. 10 (Treynor Sloss)",
)
def _prevention(data: _Input) -> _Result:
    # Won't-do items are left out: they prevent nothing.
    result = _Result()
    items = data.live_items
    if not any(getattr(i, "action_type", "") == ActionType.PREVENT for i in items):
        result.messages.append("No 'prevent' action item: add one that stops this from happening again")
    if data.severity in USER_FACING and not any(getattr(i, "priority", "") in URGENT for i in items):
        result.messages.append(f"A {data.severity} incident needs at least one P0 or P1 action item")
    if result.messages:
        result.sections.append("action_items")
    return result


# Vague only when the title opens with the vague verb; "Add a P1 alarm to
# improve detection" is specific. Fixes aimed at people count anywhere.
_VAGUE_START = re.compile(
    r"^\s*(?:we will |we'll |to )?(improve|make (?:\w+ ){0,3}better|look into|investigate)\b", re.IGNORECASE
)
_PEOPLE_FIX = re.compile(
    r"\b(?:train|training|retrain|be (?:more )?careful|remind|reminder|re-?educate)\b", re.IGNORECASE
)


@_rule("L09", "Actions are specific and fix systems, not people", required=False, source="SRE Workbook ch. 10")
def _specific_actions(data: _Input) -> _Result:
    result = _Result()
    for number, item in enumerate(data.items, start=1):
        title = str(getattr(item, "title", "") or "")
        label = _item_label(item, number)
        if vague := _VAGUE_START.search(title):
            result.messages.append(
                f"{label} starts with the vague '{vague.group(1)}'; say what will change and how you will know"
            )
        if people := _PEOPLE_FIX.search(title):
            result.messages.append(f"{label} aims at people ('{people.group()}'); change a system or control")
    if result.messages:
        result.sections.append("action_items")
    return result


@_rule("L10", "Action items are prioritised against each other", required=False, source="SRE Workbook ch. 10")
def _prioritised(data: _Input) -> _Result:
    result = _Result()
    priorities = [str(i.priority) for i in data.items if getattr(i, "priority", "")]
    if len(priorities) >= 2 and len(set(priorities)) == 1:
        result.messages.append(
            f"All {len(priorities)} action items are {priorities[0]}; rank them so the most important comes first"
        )
        result.sections.append("action_items")
    return result


@_rule("L11", "The COE has a single owner", required=True, source="SRE Workbook ch. 10")
def _owner(data: _Input) -> _Result:
    # The model allows only one owner; the rule is that there is one.
    return _Result(messages=[] if data.owner_id else ["The COE has no owner"])


@_rule("L12", "Drafted soon after resolution", required=False, source="SRE Workbook ch. 10")
def _drafted_promptly(data: _Input) -> _Result:
    result = _Result()
    # An imported postmortem was drafted in another tool, maybe years before it came here: its delay
    # says nothing about this team's practice now.
    if getattr(data.incident, "imported_at", None):
        result.info.append("Not judged: imported")
        return result
    resolved_at = getattr(data.incident, "resolved_at", None)
    if not resolved_at:
        result.info.append("The incident has no resolution time yet")
        return result
    # An unsaved COE is being drafted now: on the check's day at the latest (created_at is a default,
    # set when the object was built, so an imported COE can keep its own date).
    created_at = getattr(data.coe, "created_at", None)
    drafted_on = min(_as_date(created_at), data.today) if created_at else data.today
    days = max(0, (drafted_on - _as_date(resolved_at)).days)
    note = f"drafted {days} days after resolution; the target is {data.draft_target_days}"
    if days > data.draft_target_days:
        result.messages.append(f"The COE was {note}")
    else:
        result.info.append(f"The COE was {note}")
    return result


_LINK_OR_NUMBER = re.compile(r"https?://|\d")


@_rule("L13", "Root cause is backed by data", required=False, source="WA COE")
def _data_backed(data: _Input) -> _Result:
    metrics = data.text("metrics")
    if not metrics:
        message = f"Section '{_title('metrics')}' is empty: link the graphs or logs that show the root cause"
    elif not _LINK_OR_NUMBER.search(metrics):
        message = f"Section '{_title('metrics')}' has no link or number: link the dashboard, graph or log query"
    else:
        return _Result()
    return _Result(messages=[message], sections=["metrics"])


L14_SECTIONS = ("q_detection", "q_diagnosis", "q_mitigation", "q_prevention")


@_rule(
    "L14",
    "Detection, diagnosis, mitigation and prevention questions answered",
    required=False,
    source="AWS Incident Manager",
)
def _questions(data: _Input) -> _Result:
    empty = [key for key in L14_SECTIONS if not data.text(key)]
    return _Result(messages=[f"Section '{_title(key)}' is empty" for key in empty], sections=empty)


@_rule("L15", "Reviewed by someone other than the author", required=False, source="WA COE; SRE ch. 15")
def _reviewed(data: _Input) -> _Result:
    # Drafts fail this one by design: it turns green at approval.
    result = _Result()
    if not data.approver_id:
        result.messages.append("Not yet approved by a second person")
    elif data.approver_id in data.author_ids:
        result.messages.append("The approver is also an author; someone else must approve")
    if data.severity == Severity.SEV1 and not data.reviewed_in_ops_meeting:
        result.messages.append("A SEV1 COE must also be reviewed in an operational meeting")
    return result


_RELATED_LINK = re.compile(r"https?://\S+|\b(?:INC-\d{4}-\d{4,}|RST-\d{4}-[0-9A-HJKMNP-TV-Z]{8})\b")


@_rule("L16", "Related tickets and prior incidents are linked", required=False, source="WA COE")
def _related(data: _Input) -> _Result:
    if _RELATED_LINK.search(data.text("related_items")):
        return _Result()
    return _Result(
        messages=[
            f"Section '{_title('related_items')}' has no link or incident key (INC-2025-0001): "
            "link the tickets and any prior similar incidents"
        ],
        sections=["related_items"],
    )


# Acronyms any reader knows (time zones, protocols, titles, the app's own
# words) plus the SRE book's upper-case timeline markers.
_L17_ALLOWED_WORDS = """
    AI AM API AWS CEO CET CEST COE CPU CSV CTO DB DNS EDT EST EU FAQ FT GMT HTTP HTTPS ID IP JSON OK PDF
    PDT PM PST PT QA RAM SEV SLA SLO SQL SRE SSH TLS TTD TTM UI UK URL US USA UTC VP
    OUTAGE BEGINS ENDS
"""
L17_ALLOWED = frozenset(_L17_ALLOWED_WORDS.split())
# Two to six capitals standing alone (a trailing plural "s" allowed), so
# "NLB" and "NLBs" count, while "EC2" or "SEV1" do not.
_ACRONYM = re.compile(r"\b([A-Z]{2,6})s?\b")
_NOT_PROSE = re.compile(r"https?://\S+|\b(?:INC-\d{4}-\d{4,}|RST-\d{4}-[0-9A-HJKMNP-TV-Z]{8})\b")


@_rule("L17", "Acronyms are explained", required=False, source='SRE Workbook ch. 10, "Missing context"')
def _acronyms(data: _Input) -> _Result:
    background = data.text("background")
    explained = set(_ACRONYM.findall(background))
    used: dict[str, str] = {}  # acronym -> label of the first place it is used
    keys: dict[str, str] = {}
    other_sections = [key for key in SECTIONS_BY_KEY if key != "background"]
    for label, key, text in _texts_to_scan(data, other_sections, whys=True, item_titles=False):
        for acronym in _ACRONYM.findall(_NOT_PROSE.sub(" ", text)):
            if acronym not in L17_ALLOWED and acronym not in explained and acronym not in used:
                used[acronym], keys[acronym] = label, key
    result = _Result()
    for acronym, label in used.items():
        result.messages.append(f"'{acronym}' (used in {label}) is not explained in '{_title('background')}'")
    if used:
        result.sections += ["background", *keys.values()]
    return result


@_rule("L18", "AI involvement is recorded in full", required=True, source="Our own rule (DOMAIN.md 2.5)")
def _ai_block(data: _Input) -> _Result:
    # No involvement recorded means AI did not touch the change: nothing to fill in.
    result = _Result()
    for number, ai in enumerate(data.ai, start=1):
        lacks = []
        if not getattr(ai, "autonomy_level", ""):
            lacks.append("autonomy level")
        if not getattr(ai, "role", ""):
            lacks.append("role")
        if getattr(ai, "gate_present", TriState.UNKNOWN) in ("", TriState.UNKNOWN):
            lacks.append("whether an approval gate was present")
        if getattr(ai, "permissions_held", PermissionScope.UNKNOWN) in ("", PermissionScope.UNKNOWN):
            lacks.append("permissions held")
        if not getattr(ai, "action_class", ""):
            lacks.append("action class")
        if lacks:
            name = str(getattr(ai, "agent_name", "") or "").strip() or f"AI involvement {number}"
            result.messages.append(f"AI involvement '{name}' is missing {_join(lacks)}")
    if result.messages:
        result.sections.append("ai")
    return result


RULES: tuple[Rule, ...] = tuple(rule for rule, _func in _REGISTRY)
