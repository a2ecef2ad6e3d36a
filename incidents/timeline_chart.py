"""Geometry for the drawn timeline on the incident page (a server-drawn SVG).

Positions are computed here as percentages of the incident's span so the
template only places shapes; no script is needed to draw it. A time known only to
the hour, day or coarser is drawn as a band over the interval it lies in, an
estimated one hollow; a span to such a time reads as a range ("between 1 h and
1 d 1 h"), one to an estimate "≈".
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from .models import Incident, TimelineEvent
from .models.vocab import ActorKind, TimelineKind
from .templatetags.times import span_text
from .times import MILESTONES, event_time

WIDTH = 1000  # SVG user units; the SVG scales to the page width


@dataclass(frozen=True)
class Mark:
    x: float
    label: str
    kind: str
    when: datetime
    is_agent: bool
    text: str = ""  # the time as known: "2025-12-10 (estimated)", never a clock time for a date
    x2: float | None = None  # where the interval the time lies in ends, when it is wider than a minute
    estimated: bool = False

    @property
    def triangle(self) -> str:
        return f"{self.x},10 {self.x - 7},24 {self.x + 7},24"

    @property
    def band_width(self) -> float:
        return round(self.x2 - self.x, 1) if self.x2 is not None else 0.0


@dataclass(frozen=True)
class Span:
    x1: float
    x2: float
    label: str
    css: str

    @property
    def width(self) -> float:
        return round(self.x2 - self.x1, 1)


_LABELS = {"start": "Start", "detection": "Detected", "mitigation": "Mitigated", "resolution": "Resolved"}


def timeline_chart(incident: Incident, events: list[TimelineEvent]) -> dict | None:
    milestones = [(m, m.of(incident)) for m in MILESTONES]
    known = [when for _, when in milestones if when]
    start = incident.started_at
    # A time known only to the day or coarser is drawn over the whole interval it lies in.
    ends = [when.span()[1] if when.precision != "minute" else when.at for when in known]
    end = max(ends + [e.occurred_at for e in events if e.occurred_at >= start], default=start)
    if end <= start:
        return None
    total = (end - start).total_seconds()

    def x(when: datetime) -> float:
        return round(20 + (WIDTH - 40) * max(0.0, min(1.0, (when - start).total_seconds() / total)), 1)

    marks = []
    for milestone, when in milestones:
        if when is None:
            continue
        label = _LABELS[milestone.kind]
        band_end = x(when.span()[1]) if when.precision != "minute" else None
        marks.append(Mark(x(when.at), label, label.lower(), when.at, False, when.label(), band_end, when.estimated))
    # Agent actions are what the product exists to make visible: draw them all.
    for e in events:
        if (e.kind == TimelineKind.AGENT_ACTION or e.actor_kind == ActorKind.AI_AGENT) and e.occurred_at >= start:
            when = event_time(e)
            marks.append(
                Mark(x(e.occurred_at), "Agent action at", TimelineKind.AGENT_ACTION, e.occurred_at, True, when.label())
            )
    spans = []
    begins = milestones[0][1]
    for (_milestone, when), css, label in zip(
        milestones[1:], ("ttd", "ttm", "ttr"), ("to detect", "to mitigate", "to resolve"), strict=True
    ):
        text = span_text(begins, when) if when else None
        if text is not None:
            # Drawn to the earliest the end may be; the end's own mark shows how far it may reach.
            spans.append(Span(x(start), x(max(when.at, start)), f"{text} {label}", css))
    return {"width": WIDTH, "marks": marks, "spans": spans}
