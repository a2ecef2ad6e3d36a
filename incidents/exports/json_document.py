"""The JSON export, written as it is read from the database (docs/export-format.md).

The incidents come first, a chunk at a time with everything hanging off them, one incident a line;
each record they point at (a source, a user, a team, a control...) is noted as it is written, and
the lists of those records follow, holding exactly what the exported incidents need: nothing an
incident hidden from the reader cites or names reaches the document.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db.models import Prefetch, QuerySet

from incidents.models import (
    ActionItem,
    AIFieldCitation,
    AIInvolvement,
    Claim,
    CoeDocument,
    CoeRevision,
    Control,
    ImpactFigure,
    Incident,
    Region,
    ReviewComment,
    Service,
    Source,
    Tag,
    Team,
    TimelineEvent,
)
from incidents.roles import ROLES

from . import fields

FORMAT = "coe-tracker-export"
VERSION = 1
CHUNK = 200  # incidents read (with all their parts) per round of queries

User = get_user_model()

INCIDENT_FIELDS = fields.record_fields(Incident)
EVENT_FIELDS = fields.record_fields(TimelineEvent, parent="incident")
FIGURE_FIELDS = fields.record_fields(ImpactFigure, parent="incident")
CLAIM_FIELDS = fields.record_fields(Claim, parent="incident")
AI_FIELDS = fields.record_fields(AIInvolvement, parent="incident")
ACTION_FIELDS = fields.record_fields(ActionItem, parent="incident")
COE_FIELDS = fields.record_fields(CoeDocument, parent="incident")
REVISION_FIELDS = fields.record_fields(CoeRevision, parent="coe")
# A reply names the comment it answers by its place in the COE's list (ids mean nothing elsewhere).
COMMENT_FIELDS = fields.record_fields(ReviewComment, parent="coe", skip=("reply_to",))
CONTROL_FIELDS = fields.record_fields(Control)
SOURCE_FIELDS = fields.record_fields(Source)
TEAM_FIELDS = fields.record_fields(Team)
SERVICE_FIELDS = fields.record_fields(Service)
REGION_FIELDS = fields.record_fields(Region)
TAG_FIELDS = fields.record_fields(Tag)
# People are referenced, not exported: a name to show and the groups that give them their role or
# let them see a restricted incident. No password, address, token or staff flag leaves the database.
USER_FIELDS = [User._meta.get_field(name) for name in ("username", "first_name", "last_name")]


def _incidents_with_parts(ids: list[int]) -> QuerySet[Incident]:
    return (
        Incident.objects.filter(pk__in=ids)
        .order_by("key")
        .select_related("owner", "team", "access_group", "reported_duration_source", "coe__owner", "coe__approver")
        .prefetch_related(
            "services",
            "regions",
            "tags",
            "factors",
            "sources",
            Prefetch("timeline", queryset=TimelineEvent.objects.select_related("source").order_by("occurred_at", "id")),
            Prefetch(
                "impact_figures", queryset=ImpactFigure.objects.select_related("source").order_by("name", "as_of", "id")
            ),
            Prefetch("claims", queryset=Claim.objects.select_related("source").order_by("id")),
            Prefetch("ai_involvements", queryset=AIInvolvement.objects.order_by("id")),
            "ai_involvements__evidence",
            Prefetch("ai_involvements__citations", queryset=AIFieldCitation.objects.select_related("source")),
            Prefetch(
                "action_items",
                queryset=ActionItem.objects.select_related(
                    "owner", "team", "source", "completed_by", "verified_by"
                ).order_by("created_at", "id"),
            ),
            "coe__authors",
            Prefetch("coe__revisions", queryset=CoeRevision.objects.select_related("saved_by").order_by("number")),
            Prefetch(
                "coe__comments",
                queryset=ReviewComment.objects.select_related("author", "resolved_by").order_by("created_at", "id"),
            ),
            Prefetch("controls", queryset=Control.objects.order_by("name")),
        )
    )


class _Needed:
    """The records the exported incidents point at, by model: natural keys noted as they are written."""

    def __init__(self) -> None:
        self.keys: dict[type, set[str]] = {}

    def add(self, model: type, *keys: str | None) -> None:
        self.keys.setdefault(model, set()).update(key for key in keys if key)

    def of(self, model: type) -> list[str]:
        return sorted(self.keys.get(model, ()))

    def dump(self, obj, record_fields: list) -> dict:
        """The record of `obj`, noting every row it points at."""
        for f in record_fields:
            if f.is_relation and f.related_model in fields.NATURAL_KEYS:
                target = getattr(obj, f.name)
                if target is not None:
                    self.add(f.related_model, getattr(target, fields.natural_key_of(f.related_model)))
        return fields.dump(obj, record_fields)


def _sorted_names(objects, attribute: str) -> list[str]:
    return sorted(getattr(o, attribute) for o in objects)


def incident_record(incident: Incident, needed: _Needed) -> dict:
    record = needed.dump(incident, INCIDENT_FIELDS)
    record["services"] = _sorted_names(incident.services.all(), "name")
    record["regions"] = _sorted_names(incident.regions.all(), "code")
    record["tags"] = _sorted_names(incident.tags.all(), "name")
    record["contributing_factors"] = _sorted_names(incident.factors.all(), "factor")
    record["sources"] = _sorted_names(incident.sources.all(), "url")
    needed.add(Service, *record["services"])
    needed.add(Region, *record["regions"])
    needed.add(Tag, *record["tags"])
    needed.add(Source, *record["sources"])
    record["timeline"] = [needed.dump(e, EVENT_FIELDS) for e in incident.timeline.all()]
    record["impact_figures"] = [needed.dump(f, FIGURE_FIELDS) for f in incident.impact_figures.all()]
    record["claims"] = [needed.dump(c, CLAIM_FIELDS) for c in incident.claims.all()]
    record["ai_involvements"] = [_ai_record(ai, needed) for ai in incident.ai_involvements.all()]
    record["action_items"] = [needed.dump(a, ACTION_FIELDS) for a in incident.action_items.all()]
    try:
        coe = incident.coe
    except Incident.coe.RelatedObjectDoesNotExist:
        coe = None
    record["coe"] = _coe_record(coe, needed) if coe is not None else None
    controls = list(incident.controls.all())
    needed.add(Control, *(c.name for c in controls))
    return record


def _ai_record(ai: AIInvolvement, needed: _Needed) -> dict:
    record = needed.dump(ai, AI_FIELDS)
    record["evidence"] = _sorted_names(ai.evidence.all(), "url")
    needed.add(Source, *record["evidence"])
    # Which source states each field: {"role": "https://...", ...}
    record["field_citations"] = {c.field: c.source.url for c in sorted(ai.citations.all(), key=lambda c: c.field)}
    needed.add(Source, *record["field_citations"].values())
    return record


def _coe_record(coe: CoeDocument, needed: _Needed) -> dict:
    record = needed.dump(coe, COE_FIELDS)
    record["authors"] = _sorted_names(coe.authors.all(), "username")
    needed.add(User, *record["authors"])
    record["revisions"] = [needed.dump(r, REVISION_FIELDS) for r in coe.revisions.all()]
    comments = list(coe.comments.all())
    place = {comment.pk: number for number, comment in enumerate(comments)}
    record["review_comments"] = [
        {**needed.dump(c, COMMENT_FIELDS), "reply_to": place.get(c.reply_to_id)} for c in comments
    ]
    return record


def _line(record: dict) -> str:
    return json.dumps(record, ensure_ascii=False, separators=(",", ":"))


def _list(name: str, records) -> Iterator[str]:
    """`"name": [` and one record a line; `records` may be a generator."""
    yield f',\n"{name}":['
    first = True
    for record in records:
        yield ("\n" if first else ",\n") + _line(record)
        first = False
    yield "\n]"


def write(incidents: QuerySet[Incident], *, query: str = "", exported_at: datetime) -> Iterator[str]:
    """The document for `incidents` (already narrowed to what the reader may see), in pieces."""
    needed = _Needed()
    header = {"format": FORMAT, "version": VERSION, "exported_at": exported_at.astimezone(UTC).isoformat()}
    header["filter"] = query
    yield _line(header)[:-1]  # the header's fields, left open for the lists that follow

    def incident_records() -> Iterator[dict]:
        ids = list(incidents.order_by("key").values_list("pk", flat=True))
        exported_keys: set[str] = set()
        for start in range(0, len(ids), CHUNK):
            for incident in _incidents_with_parts(ids[start : start + CHUNK]):
                exported_keys.add(incident.key)
                yield incident_record(incident, needed)
        needed.add(Incident, *exported_keys)

    yield from _list("incidents", incident_records())
    yield from _list("controls", _controls(needed))
    yield from _list("services", _services(needed))
    yield from _list("teams", _teams(needed))
    yield from _list(
        "regions",
        (fields.dump(r, REGION_FIELDS) for r in Region.objects.filter(code__in=needed.of(Region)).order_by("code")),
    )
    yield from _list(
        "tags", (fields.dump(t, TAG_FIELDS) for t in Tag.objects.filter(name__in=needed.of(Tag)).order_by("name"))
    )
    yield from _list(
        "sources",
        (fields.dump(s, SOURCE_FIELDS) for s in Source.objects.filter(url__in=needed.of(Source)).order_by("url")),
    )
    yield from _list("users", _users(needed))
    yield from _list("groups", ({"name": name} for name in needed.of(Group)))
    yield "\n}\n"


def _plain(model, key: str, record_fields: list, needed: _Needed) -> Iterator[dict]:
    """Records that point at nothing, in the order of their natural key."""
    for obj in model.objects.filter(**{f"{key}__in": needed.of(model)}).order_by(key):
        yield fields.dump(obj, record_fields)


def _controls(needed: _Needed) -> Iterator[dict]:
    """The controls the exported incidents lead to, each listing only those incidents among its own."""
    exported = set(needed.of(Incident))
    controls = (
        Control.objects.filter(name__in=needed.of(Control))
        .select_related("owner")
        .prefetch_related("incidents", "sources")
        .order_by("name")
    )
    for control in controls:
        record = needed.dump(control, CONTROL_FIELDS)
        record["incidents"] = sorted(i.key for i in control.incidents.all() if i.key in exported)
        record["sources"] = _sorted_names(control.sources.all(), "url")
        needed.add(Source, *record["sources"])
        yield record


def _services(needed: _Needed) -> Iterator[dict]:
    for service in Service.objects.filter(name__in=needed.of(Service)).select_related("team").order_by("name"):
        yield needed.dump(service, SERVICE_FIELDS)


def _teams(needed: _Needed) -> Iterator[dict]:
    for team in Team.objects.filter(slug__in=needed.of(Team)).prefetch_related("members").order_by("slug"):
        record = fields.dump(team, TEAM_FIELDS)
        record["members"] = _sorted_names(team.members.all(), "username")
        needed.add(User, *record["members"])
        yield record


def _users(needed: _Needed) -> Iterator[dict]:
    """The people the records name, each with the groups that matter here: the roles, and the access
    groups of the exported restricted incidents (another group's name could tell of what is hidden)."""
    shown_groups = set(ROLES) | set(needed.of(Group))
    users = User.objects.filter(username__in=needed.of(User)).prefetch_related("groups").order_by("username")
    for user in users:
        record = fields.dump(user, USER_FIELDS)
        record["groups"] = sorted(g.name for g in user.groups.all() if g.name in shown_groups)
        needed.add(Group, *record["groups"])
        yield record
