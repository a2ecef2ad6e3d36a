"""Geometry for the drawn timeline on the incident page (a server-drawn SVG).

Positions are computed here as percentages of the incident's span so the
template only places shapes; no script is needed to draw it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from .models import Incident, TimelineEvent
from .models.vocab import ActorKind, TimelineKind

WIDTH = 1000  # SVG user units; the SVG scales to the page width


@dataclass(frozen=True)
class Mark:
    x: float
    label: str
    kind: str
    when: datetime
    is_agent: bool

    @property
    def triangle(self) -> str:
        return f"{self.x},10 {self.x - 7},24 {self.x + 7},24"


@dataclass(frozen=True)
class Span:
    x1: float
    x2: float
    label: str
    css: str

    @property
    def width(self) -> float:
        return round(self.x2 - self.x1, 1)


def timeline_chart(incident: Incident, events: list[TimelineEvent]) -> dict | None:
    milestones = [
        ("Start", incident.started_at),
        ("Detected", incident.detected_at),
        ("Mitigated", incident.mitigated_at),
        ("Resolved", incident.resolved_at),
    ]
    known = [when for _, when in milestones if when]
    start = incident.started_at
    end = max(known + [e.occurred_at for e in events if e.occurred_at >= start], default=start)
    if end <= start:
        return None
    total = (end - start).total_seconds()

    def x(when: datetime) -> float:
        return round(20 + (WIDTH - 40) * max(0.0, min(1.0, (when - start).total_seconds() / total)), 1)

    marks = [Mark(x(when), label, label.lower(), when, False) for label, when in milestones if when]
    # Agent actions are what the product exists to make visible: draw them all.
    marks += [
        Mark(x(e.occurred_at), "Agent action", TimelineKind.AGENT_ACTION, e.occurred_at, True)
        for e in events
        if (e.kind == TimelineKind.AGENT_ACTION or e.actor_kind == ActorKind.AI_AGENT) and e.occurred_at >= start
    ]
    spans = []
    for label, css, when in [
        ("to detect", "ttd", incident.detected_at),
        ("to mitigate", "ttm", incident.mitigated_at),
        ("to resolve", "ttr", incident.resolved_at),
    ]:
        if when and when > start:
            spans.append(Span(x(start), x(when), f"{_short(when - start)} {label}", css))
    return {"width": WIDTH, "marks": marks, "spans": spans}


def _short(delta) -> str:
    minutes = int(delta.total_seconds() // 60)
    hours, minutes = divmod(minutes, 60)
    if hours >= 48:
        return f"{hours // 24} d"
    return f"{hours} h {minutes} min" if hours else f"{minutes} min"
