"""The Markdown export: a zip with one file per incident, readable without the product.

Each file is YAML front matter (key, title, severity, the four times with their precision, services,
cause, status, the COE's state and dates...) over the same Markdown the COE page's export gives
(templates/incidents/coe_export.md: its sections and whys, the timeline, the action items), with the
sources the incident lists or any of its records cites, each with its address. An index.md lists them all.
The zip is written as it is read: each file leaves as soon as it is compressed.
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Iterator
from datetime import UTC, datetime

import yaml
from django.db.models import QuerySet
from django.template.loader import render_to_string

from incidents.models import Incident

from .json_document import CHUNK, _incidents_with_parts


class _Sink(io.RawIOBase):
    """Where zipfile writes; what it wrote is taken away after each file (zipfile handles a stream
    it cannot seek by writing each file's sizes after its data)."""

    def __init__(self) -> None:
        self._chunks: list[bytes] = []

    def writable(self) -> bool:
        return True

    def write(self, data) -> int:
        self._chunks.append(bytes(data))
        return len(data)

    def take(self) -> bytes:
        data = b"".join(self._chunks)
        self._chunks.clear()
        return data


def _time(at: datetime | None, precision: str, estimated: bool) -> dict | None:
    if at is None:
        return None
    return {"at": at.astimezone(UTC).isoformat(), "precision": precision, "estimated": estimated}


def _coe(incident: Incident):
    try:
        return incident.coe
    except Incident.coe.RelatedObjectDoesNotExist:
        return None


def _cited_sources(incident: Incident) -> list:
    """The sources the incident lists or any of its records cites, from the prefetched rows."""
    cited = list(incident.sources.all())
    cited += [incident.reported_duration_source] if incident.reported_duration_source else []
    for records in (incident.timeline.all(), incident.impact_figures.all(), incident.claims.all()):
        cited += [r.source for r in records if r.source]
    cited += [a.source for a in incident.action_items.all() if a.source]
    for ai in incident.ai_involvements.all():
        cited += list(ai.evidence.all()) + [c.source for c in ai.citations.all()]
    return sorted({s.url: s for s in cited}.values(), key=lambda s: (s.publisher, s.url))


def front_matter(incident: Incident, sources: list) -> dict:
    coe = _coe(incident)
    return {
        "key": incident.key,
        "external_id": incident.external_id,
        "title": incident.title,
        "severity": incident.severity,
        "status": incident.status,
        "started": _time(incident.started_at, incident.time_precision, incident.started_estimated),
        "detected": _time(incident.detected_at, incident.detected_precision, incident.detected_estimated),
        "mitigated": _time(incident.mitigated_at, incident.mitigated_precision, incident.mitigated_estimated),
        "resolved": _time(incident.resolved_at, incident.resolved_precision, incident.resolved_estimated),
        "services": sorted(s.name for s in incident.services.all()),
        "regions": sorted(r.code for r in incident.regions.all()),
        "tags": sorted(t.name for t in incident.tags.all()),
        "team": incident.team.slug if incident.team else None,
        "owner": incident.owner.username if incident.owner else None,
        "primary_cause": incident.primary_cause,
        "adopted_cause": incident.adopted_cause or None,
        "attribution_status": incident.attribution_status,
        "contributing_factors": sorted(f.factor for f in incident.factors.all()),
        "ai_involved": bool(incident.ai_involvements.all()),
        "restricted": incident.restricted,
        "demo": incident.demo,
        "imported_at": incident.imported_at.astimezone(UTC).isoformat() if incident.imported_at else None,
        "created_at": incident.created_at.astimezone(UTC).isoformat(),
        "coe": None
        if coe is None
        else {
            "status": coe.status,
            "owner": coe.owner.username if coe.owner else None,
            "approver": coe.approver.username if coe.approver else None,
            **{
                name: getattr(coe, name).astimezone(UTC).isoformat() if getattr(coe, name) else None
                for name in ("created_at", "submitted_at", "approved_at", "published_at")
            },
        },
        "sources": [s.url for s in sources],
    }


def incident_markdown(incident: Incident) -> str:
    """One incident's file: front matter, then the COE export's Markdown."""
    sources = _cited_sources(incident)
    coe = _coe(incident)
    body = render_to_string(
        "incidents/coe_export.md",
        {
            "coe": coe,
            "incident": incident,
            "sections": coe.section_items() if coe else [],
            "items": list(incident.action_items.all()),
            "timeline": list(incident.timeline.all()),
            "sources": sources,
        },
    )
    head = yaml.safe_dump(front_matter(incident, sources), sort_keys=False, allow_unicode=True, width=1000)
    return f"---\n{head}---\n\n{body}"


def write(incidents: QuerySet[Incident], *, query: str = "", exported_at: datetime) -> Iterator[bytes]:
    """The zip of `incidents` (already narrowed to what the reader may see), in pieces."""
    sink = _Sink()
    stamp = exported_at.astimezone(UTC)
    index = [f"# Incidents exported {stamp:%Y-%m-%d %H:%M} UTC", ""]
    if query:
        index += [f"Filter: `{query}`", ""]
    with zipfile.ZipFile(sink, mode="w", compression=zipfile.ZIP_DEFLATED) as archive:

        def add(name: str, text: str) -> None:
            info = zipfile.ZipInfo(name, date_time=stamp.timetuple()[:6])
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, text.encode())

        ids = list(incidents.order_by("key").values_list("pk", flat=True))
        for start in range(0, len(ids), CHUNK):
            for incident in _incidents_with_parts(ids[start : start + CHUNK]):
                add(f"incidents/{incident.key}.md", incident_markdown(incident))
                index.append(f"- [{incident.key}](incidents/{incident.key}.md) {incident.severity} {incident.title}")
                yield sink.take()
        add("index.md", "\n".join(index) + "\n")
    yield sink.take()
