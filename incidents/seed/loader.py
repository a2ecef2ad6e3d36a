"""Write the seed data (incidents.seed.data) into the database, idempotently.

Every row is found by a natural key (an incident's external_id, a source's
url, a claim's incident + source + statement, ...) and written only when a
value differs, so a second run creates nothing, saves nothing and leaves
auto_now timestamps and password hashes alone.

The seed owns the fields it writes but not the collections: for many-to-many
links, group memberships and contributing factors it adds what is missing and
never removes what someone added in the app. The one exception is a COE's
authors, set exactly so the approver can never end up among them. A record the
seed renamed carries its former key (`formerly`), so a database seeded before
is updated in place rather than given a second copy; a fact the seed withdrew
(data.WITHDRAWN) is deleted from it.

Free text is written in the seed as statements, each cited or marked as ours
(incidents.seed.common), and rendered here into the text the pages show. Every
seeded incident is demo data: its workflow states were made by demo users.

It writes rows itself rather than through incidents.services: the seed is a
record of the past, with the dates it happened (an item completed in April, a
COE approved in May, revisions saved by whoever saved them), where a service
stamps "now", records a new revision and applies today's workflow. Like a
service, it sets the repeat flags and tells the dashboard when it changed anything.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from auditlog.context import disable_auditlog
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission
from django.db import models, transaction
from django.db.models import ProtectedError

from incidents import figures, repeats
from incidents.models import (
    SECTIONS,
    ActionItem,
    AIFieldCitation,
    AIInvolvement,
    Claim,
    CoeDocument,
    CoeRevision,
    Control,
    ImpactFigure,
    Incident,
    IncidentFactor,
    Region,
    Service,
    Source,
    Tag,
    Team,
    TimelineEvent,
)
from incidents.roles import ROLES, ensure_roles

from . import data
from .common import Statement, render


@dataclass
class SeedResult:
    """What a run did, per model label (e.g. "incidents.Incident")."""

    created: Counter = field(default_factory=Counter)
    updated: Counter = field(default_factory=Counter)
    unchanged: Counter = field(default_factory=Counter)
    links_added: Counter = field(default_factory=Counter)
    withdrawn: Counter = field(default_factory=Counter)
    users_created: list[str] = field(default_factory=list)
    incident_keys: list[tuple[str, str]] = field(default_factory=list)

    @property
    def changed_anything(self) -> bool:
        return any(sum(counter.values()) for counter in (self.created, self.updated, self.links_added, self.withdrawn))

    def labels(self) -> list[str]:
        return sorted(set(self.created) | set(self.updated) | set(self.unchanged))


@transaction.atomic
def load() -> SeedResult:
    """Load users, teams, lookups, sources, the incidents with everything hanging off them, and controls.

    Not written to the change history: the seed is the knowledge base's starting state, and its own
    files (with their version control) are the record of how it changes. Recorded, every seeded
    record showed up as a "system" change, marked as made after its COE's publication.
    """
    with disable_auditlog():
        result = _Loader().run()
    if result.changed_anything:
        repeats.rebuild()  # the flags a service would have kept (a pass over a few incidents here)
        figures.data_changed()
    return result


def _same(obj: models.Model, name: str, value: Any) -> bool:
    model_field = obj._meta.get_field(name)
    if model_field.is_relation and model_field.concrete:
        # Compare ids, so an unchanged foreign key costs no query.
        return getattr(obj, model_field.attname) == (value.pk if value is not None else None)
    return getattr(obj, name) == value


class _Loader:
    def __init__(self) -> None:
        self.result = SeedResult()
        self.users: dict[str, Any] = {}
        self.teams: dict[str, Team] = {}
        self.services: dict[str, Service] = {}
        self.regions: dict[str, Region] = {}
        self.tags: dict[str, Tag] = {}
        self.sources: dict[str, Source] = {}
        self.incidents: dict[str, Incident] = {}
        self.citation_words: dict[str, str] = {}

    # --- generic helpers -------------------------------------------------

    def upsert(
        self, model: type[models.Model], lookup: dict, values: dict, formerly: list[dict] = ()
    ) -> tuple[models.Model, bool]:
        """get-or-create by `lookup`, then write `values` only if one differs; full_clean() before any save.

        `formerly` lists the lookup's earlier values (e.g. {"title": "an old title"}): a record found
        under one of them is renamed in place.
        """
        label = model._meta.label
        obj = model.objects.filter(**lookup).first()
        for former in formerly:
            if obj is not None:
                break
            obj = model.objects.filter(**{**lookup, **former}).first()
            values = {**values, **lookup}
        if obj is None:
            obj = model(**{**lookup, **values})
            obj.full_clean()
            obj.save()
            self.result.created[label] += 1
            return obj, True
        changed = [name for name, value in values.items() if not _same(obj, name, value)]
        if not changed:
            self.result.unchanged[label] += 1
            return obj, False
        for name in changed:
            setattr(obj, name, values[name])
        obj.full_clean()
        obj.save()
        self.result.updated[label] += 1
        return obj, False

    def add_links(self, obj: models.Model, name: str, targets) -> None:
        """Add the missing members of a many-to-many; never remove any."""
        manager = getattr(obj, name)
        present = set(manager.values_list("pk", flat=True))
        missing = [t for t in targets if t.pk not in present]
        if missing:
            manager.add(*missing)
            self.result.links_added[f"{obj._meta.label}.{name}"] += len(missing)

    def source(self, key: str | None) -> Source | None:
        return self.sources[key] if key else None

    def text(self, statements: list[Statement]) -> str:
        if isinstance(statements, str):
            raise TypeError(f"Write seeded text as statements, cited or ours, not a bare string: {statements!r}")
        return render(statements, self.citation_words)

    def user(self, username: str | None):
        return self.users[username] if username else None

    # --- the run ---------------------------------------------------------

    def run(self) -> SeedResult:
        self.load_users()
        self.load_teams_and_lookups()
        self.load_sources()
        for spec in data.INCIDENTS:
            self.load_incident(spec)
        self.load_controls()
        self.withdraw()
        return self.result

    def load_users(self) -> None:
        if Group.objects.filter(name__in=ROLES).count() != len(ROLES):
            # The roles migration normally made these; a hand-made database may lack them.
            ensure_roles(Group, Permission)
        user_model = get_user_model()
        label = user_model._meta.label
        for spec in data.USERS:
            values = {
                "first_name": spec["first_name"],
                "last_name": spec["last_name"],
                "email": f"{spec['username']}@example.com",
                "is_staff": spec["is_staff"],
                "is_superuser": spec["is_superuser"],
                "is_active": True,
            }
            user = user_model.objects.filter(username=spec["username"]).first()
            if user is None:
                user = user_model(username=spec["username"], **values)
                # Only on creation: set_password salts afresh, so calling it
                # on every run would change the stored hash each time.
                user.set_password(data.DEMO_PASSWORD)
                user.save()
                self.result.created[label] += 1
                self.result.users_created.append(user.username)
            else:
                changed = [name for name, value in values.items() if getattr(user, name) != value]
                if changed:
                    for name in changed:
                        setattr(user, name, values[name])
                    user.save(update_fields=changed)
                    self.result.updated[label] += 1
                else:
                    self.result.unchanged[label] += 1
            self.add_links(user, "groups", list(Group.objects.filter(name__in=spec["groups"])))
            self.users[user.username] = user

    def load_teams_and_lookups(self) -> None:
        for spec in data.TEAMS:
            team, _ = self.upsert(Team, {"name": spec["name"]}, {"slug": spec["slug"]})
            self.add_links(team, "members", [self.users[u] for u in spec["members"]])
            self.teams[team.name] = team
        for name, team_name in data.SERVICES.items():
            self.services[name], _ = self.upsert(
                Service,
                {"name": name},
                {"team": self.teams[team_name]},
                formerly=[{"name": old} for old in data.SERVICE_FORMER_NAMES.get(name, ())],
            )
        for spec in data.REGIONS:
            self.regions[spec["code"]], _ = self.upsert(Region, {"code": spec["code"]}, {"name": spec["name"]})
        for name in data.TAGS:
            self.tags[name], _ = self.upsert(Tag, {"name": name}, {})

    def load_sources(self) -> None:
        for key, spec in data.SOURCES.items():
            values = {k: v for k, v in spec.items() if k not in ("url", "cite_as")}
            self.sources[key], _ = self.upsert(Source, {"url": spec["url"]}, values)
            self.citation_words[key] = spec["cite_as"]

    def load_incident(self, spec: dict) -> None:
        values = {
            name: spec[name]
            for name in (
                "title",
                "severity",
                "status",
                "started_at",
                "time_precision",
                "detected_at",
                "mitigated_at",
                "resolved_at",
                "reported_duration",
                "primary_cause",
                "trigger_kind",
                "harm_level",
                "attribution_status",
                "adopted_cause",
            )
        }
        for name in INCIDENT_TEXT_FIELDS:
            values[name] = self.text(spec[name])
        values["team"] = self.teams[spec["team"]]
        values["owner"] = self.user(spec["owner"])
        values["reported_duration_source"] = self.source(spec["reported_duration_source"])
        # The knowledge base is demo data: its COE approvals and action item progress are demo users' work.
        values["demo"] = True
        incident, _ = self.upsert(Incident, {"external_id": spec["external_id"]}, values)
        self.incidents[spec["external_id"]] = incident
        self.result.incident_keys.append((incident.key, incident.title))

        self.add_links(incident, "services", [self.services[name] for name in spec["services"]])
        self.add_links(incident, "regions", [self.regions[code] for code in spec["regions"]])
        self.add_links(incident, "tags", [self.tags[name] for name in spec["tags"]])
        self.add_links(incident, "sources", [self.sources[key] for key in spec["sources"]])

        for factor in spec["factors"]:
            self.upsert(IncidentFactor, {"incident": incident, "factor": factor}, {})

        for figure in spec["impact_figures"]:
            self.upsert(
                ImpactFigure,
                {
                    "incident": incident,
                    "name": figure["name"],
                    "value": Decimal(figure["value"]),
                    "source": self.source(figure["source"]),
                },
                {k: figure[k] for k in ("unit", "is_estimate", "as_of", "note", "basis")},
            )

        for event in spec["timeline"]:
            # One moment told by several sources is several rows; the source
            # is part of the key so conflicting times stay side by side.
            self.upsert(
                TimelineEvent,
                {"incident": incident, "moment": event["moment"], "source": self.source(event["source"])},
                {
                    k: event[k]
                    for k in (
                        "occurred_at",
                        "precision",
                        "estimated",
                        "display_tz",
                        "kind",
                        "description",
                        "actor_kind",
                        "basis",
                    )
                },
            )

        for claim in spec["claims"]:
            self.upsert(
                Claim,
                {"incident": incident, "source": self.source(claim["source"]), "statement": claim["statement"]},
                {k: claim[k] for k in ("claimant", "stance", "claimed_cause", "claimed_ai_role", "quote")},
                formerly=[{"statement": old} for old in claim.get("formerly", ())],
            )

        for ai in spec["ai"]:
            involvement, _ = self.upsert(
                AIInvolvement,
                {"incident": incident, "agent_name": ai["agent_name"]},
                {k: v for k, v in ai.items() if k not in AI_SEED_KEYS},
                formerly=[{"agent_name": old} for old in ai.get("formerly", ())],
            )
            self.add_links(involvement, "evidence", [self.sources[key] for key in ai["evidence"]])
            # Each field a source states is cited; the fields in ai["ours"] are our reading, left uncited.
            for name, key in ai["cited"].items():
                self.upsert(AIFieldCitation, {"involvement": involvement, "field": name}, {"source": self.sources[key]})

        for action in spec["actions"]:
            values = {k: v for k, v in action.items() if k not in ("title", "owner", "team", "source", "formerly")}
            values["owner"] = self.user(action["owner"])
            values["team"] = self.teams[action["team"]] if action["team"] else None
            values["source"] = self.source(action["source"])
            self.upsert(
                ActionItem,
                {"incident": incident, "title": action["title"]},
                values,
                formerly=[{"title": old} for old in action.get("formerly", ())],
            )

        if spec.get("coe"):
            self.load_coe(incident, spec["coe"])

    def load_coe(self, incident: Incident, spec: dict) -> None:
        values: dict[str, Any] = {section.key: self.text(spec["sections"].get(section.key, [])) for section in SECTIONS}
        whys = [
            {"cause": self.text(chain["cause"]), "links": [self.text(link) for link in chain["links"]]}
            for chain in spec["whys"]
        ]
        values.update(
            whys=whys,
            owner=self.user(spec["owner"]),
            approver=self.user(spec["approver"]),
            status=spec["status"],
            reviewed_in_ops_meeting=spec["reviewed_in_ops_meeting"],
            submitted_at=spec["submitted_at"],
            approved_at=spec["approved_at"],
            published_at=spec["published_at"],
        )
        values["created_at"] = spec["created_at"]
        coe, created = self.upsert(CoeDocument, {"incident": incident}, values)
        if created:
            # updated_at is automatic; pin it to the story's date once, so the
            # document is not "written" after it was published.
            CoeDocument.objects.filter(pk=coe.pk).update(updated_at=spec["revision"]["saved_at"])
        authors = [self.users[name] for name in spec["authors"]]
        if set(coe.authors.values_list("pk", flat=True)) != {u.pk for u in authors}:
            coe.authors.set(authors)
            self.result.links_added[f"{coe._meta.label}.authors"] += len(authors)
        coe.clean()  # Now that authors exist: the approver must not be one of them.

        snapshot: dict[str, Any] = {section.key: values[section.key] for section in SECTIONS}
        snapshot["whys"] = whys
        revision = spec["revision"]
        self.upsert(
            CoeRevision,
            {"coe": coe, "number": 1},
            {
                "status": spec["status"],
                "saved_by": self.user(revision["saved_by"]),
                "saved_at": revision["saved_at"],
                "note": revision["note"],
                "data": snapshot,
            },
        )

    def load_controls(self) -> None:
        for spec in data.CONTROLS:
            values = {
                k: v for k, v in spec.items() if k not in ("name", "owner", "sources", "incidents", "description")
            }
            values["description"] = self.text(spec["description"])
            values["owner"] = self.user(spec["owner"])
            control, _ = self.upsert(Control, {"name": spec["name"]}, values)
            self.add_links(control, "sources", [self.sources[key] for key in spec["sources"]])
            self.add_links(control, "incidents", [self.incidents[ext] for ext in spec["incidents"]])

    def withdraw(self) -> None:
        """Delete what an earlier seed wrote and the knowledge base has since withdrawn."""
        for model, lookup in data.WITHDRAWN:
            deleted, _ = model.objects.filter(**lookup).delete()
            if deleted:
                self.result.withdrawn[model._meta.label] += deleted
        for url in data.WITHDRAWN_SOURCE_URLS:
            try:
                with transaction.atomic():
                    deleted, _ = Source.objects.filter(url=url).delete()
            except ProtectedError:
                continue  # Something entered in the app cites it: it stays.
            if deleted:
                self.result.withdrawn[Source._meta.label] += 1


# Free text of an incident, written in the seed as statements (cited or ours).
INCIDENT_TEXT_FIELDS = ("summary", "customer_impact", "trigger_text", "adopted_cause_rationale")
# Keys of an AI involvement's seed entry that are not model fields.
AI_SEED_KEYS = ("agent_name", "evidence", "cited", "ours", "formerly")
