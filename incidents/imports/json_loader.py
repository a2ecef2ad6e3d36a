"""Restore a JSON export (json_format.read_document) into this database: the one writer of that import.

A bulk loader, like the seed loader, not the services: an export is a record of the past, with its
keys (INC-2025-0001), its dates (an item closed in April, a COE approved in May, a comment resolved
by whoever resolved it) and its revisions, where a service would stamp "now", number a new key and
apply today's workflow. Every record is validated as the services would (full_clean; the database's
constraints catch the rest) before it is written, all in one transaction: a bad file writes nothing.

What is here already is left alone and counted as present: an incident found by its key or external
id, and a source, user, team, service, region, tag, group or control found by its natural key. So
importing the same file twice creates nothing the second time. People are created without a
password (they sign in once an administrator sets one) and with the groups the export names.
"""

from __future__ import annotations

from collections import Counter

from auditlog.context import disable_auditlog
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, models, transaction

from incidents import figures, repeats
from incidents.exports import fields as codec
from incidents.exports import json_document as doc
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
    IncidentFactor,
    IncidentKeyCounter,
    Region,
    ReviewComment,
    Service,
    Source,
    Tag,
    Team,
    TimelineEvent,
)
from incidents.models.keys import PUBLIC_PREFIX
from incidents.roles import ROLES, ensure_roles

from .json_format import DocumentError, JsonImportResult

User = get_user_model()
CHUNK = 500  # incidents written per round of bulk inserts


def load(document: dict, *, origin: str, dry_run: bool = False) -> JsonImportResult:
    """Write what `document` holds that is not here yet; with dry_run, work it all out, then roll back."""
    result = JsonImportResult(origin=origin, dry_run=dry_run)
    try:
        with transaction.atomic(), disable_auditlog():
            _Loader(document, result).run()
            if result.created and not dry_run:
                repeats.rebuild()  # the flags the services would have kept
                figures.data_changed()
            if dry_run:
                transaction.set_rollback(True)
    except IntegrityError as error:
        raise DocumentError(f"The database refused a record: {error}") from None
    except (KeyError, TypeError, ValueError) as error:
        if isinstance(error, DocumentError):
            raise
        raise DocumentError(f"A record is malformed ({type(error).__name__}: {error}).") from None
    return result


def _check(obj: models.Model, where: str) -> None:
    """Validate as the services do. Uniqueness and constraints are left to the database, inside this
    transaction; so are the foreign keys, each a row this loader found or made (full_clean would ask
    the database once per key: 28,000 queries for a thousand incidents)."""
    links = [f.name for f in obj._meta.concrete_fields if f.is_relation]
    try:
        obj.full_clean(exclude=links, validate_unique=False, validate_constraints=False)
    except ValidationError as error:
        problems = "; ".join(f"{name}: {' '.join(messages)}" for name, messages in error.message_dict.items())
        raise DocumentError(f"{where}: {problems}") from None


class _Loader:
    def __init__(self, document: dict, result: JsonImportResult) -> None:
        self.document = document
        self.result = result
        self.found: dict[type, dict[str, models.Model]] = {}
        self.created = Counter()

    def resolve(self, model: type[models.Model], key: str) -> models.Model:
        try:
            return self.found[model][key]
        except KeyError:
            raise DocumentError(f"{model._meta.verbose_name} {key!r} is named but not in the file.") from None

    def run(self) -> None:
        self.groups()
        self.users()
        self.lookup(Team, "slug", self.document["teams"], doc.TEAM_FIELDS, then=self.team_members)
        self.lookup(Service, "name", self.document["services"], doc.SERVICE_FIELDS)
        self.lookup(Region, "code", self.document["regions"], doc.REGION_FIELDS)
        self.lookup(Tag, "name", self.document["tags"], doc.TAG_FIELDS)
        self.lookup(Source, "url", self.document["sources"], doc.SOURCE_FIELDS)
        self.incidents()
        self.controls()
        self.result.lookups_created = {label: count for label, count in sorted(self.created.items()) if count}

    # --- what incidents point at -----------------------------------------------

    def groups(self) -> None:
        names = [r["name"] for r in self.document["groups"]]
        if Group.objects.filter(name__in=ROLES).count() != len(ROLES):
            ensure_roles(Group, Permission)  # a role group comes with its permissions
        have = {g.name: g for g in Group.objects.filter(name__in=names)}
        for name in names:
            if name not in have:
                _check(Group(name=name), f"group {name!r}")
                have[name] = Group.objects.create(name=name)
                self.created["groups"] += 1
        self.found[Group] = have

    def users(self) -> None:
        records = self.document["users"]
        have = {u.username: u for u in User.objects.filter(username__in=[r["username"] for r in records])}
        for record in records:
            if record["username"] in have:
                continue
            user = codec.load(User, record, doc.USER_FIELDS, self.resolve)
            user.set_unusable_password()
            _check(user, f"user {user.username!r}")
            user.save()
            user.groups.set([self.resolve(Group, name) for name in record["groups"]])
            have[user.username] = user
            self.created["users"] += 1
        self.found[User] = have

    def lookup(self, model, key: str, records: list[dict], fields: list, *, then=None) -> None:
        """Create the records not here yet (by `key`); `then(obj, record)` for each one created."""
        have = {getattr(o, key): o for o in model.objects.filter(**{f"{key}__in": [r[key] for r in records]})}
        new = []
        for record in records:
            if record[key] in have:
                continue
            obj = codec.load(model, record, fields, self.resolve)
            _check(obj, f"{model._meta.verbose_name} {record[key]!r}")
            new.append((obj, record))
        model.objects.bulk_create([obj for obj, _ in new])
        for obj, record in new:
            have[record[key]] = obj
            if then:
                then(obj, record)
        self.created[model._meta.verbose_name_plural] += len(new)
        self.found[model] = have

    def team_members(self, team: Team, record: dict) -> None:
        team.members.set([self.resolve(User, name) for name in record["members"]])

    # --- the incidents and everything hanging off them -------------------------

    def incidents(self) -> None:
        records = self.document["incidents"]
        by_key = dict(Incident.objects.filter(key__in=[r["key"] for r in records]).values_list("key", "external_id"))
        by_external = dict(
            Incident.objects.filter(
                external_id__in=[r["external_id"] for r in records if r.get("external_id")]
            ).values_list("external_id", "key")
        )
        new = []
        for record in records:
            key, external_id = record["key"], record.get("external_id")
            if key in by_key:
                if by_key[key] != external_id:
                    raise DocumentError(
                        f"{key}: this key is another incident's here (external id {by_key[key]!r}, "
                        f"the file's {external_id!r}); nothing was imported."
                    )
                here = key
                self.result.present.append(here)
            elif external_id and external_id in by_external:
                here = by_external[external_id]  # the same incident, keyed otherwise here
                self.result.present.append(here)
            else:
                here = key
                new.append(record)
            self.result.described[here] = {"title": record["title"], "external_id": external_id}
        self.found[Incident] = {}
        for start in range(0, len(new), CHUNK):
            self.incident_chunk(new[start : start + CHUNK])
        self.result.created = [r["key"] for r in new]
        self.advance_key_counters(self.result.created)
        self.found[Incident].update(
            {i.key: i for i in Incident.objects.filter(key__in=self.result.present + self.result.created)}
        )

    def incident_chunk(self, records: list[dict]) -> None:
        incidents = []
        for record in records:
            incident = codec.load(Incident, record, doc.INCIDENT_FIELDS, self.resolve)
            _check(incident, record["key"])
            incidents.append(incident)
        Incident.objects.bulk_create(incidents)
        # bulk_create stamps auto_now columns with now; the export's own dates go back.
        _restore(Incident, incidents, records, "updated_at")

        linked = (("services", Service), ("regions", Region), ("tags", Tag), ("sources", Source))
        links: dict[str, list] = {name: [] for name, _ in linked}
        children: dict[type, list] = {model: [] for model in (IncidentFactor, TimelineEvent, ImpactFigure, Claim)}
        ai_pairs, action_pairs, coe_pairs = [], [], []
        for incident, record in zip(incidents, records, strict=True):
            for name, model in linked:
                through, column = getattr(Incident, name).through, f"{model._meta.model_name}_id"
                links[name] += [
                    through(incident_id=incident.pk, **{column: self.resolve(model, value).pk})
                    for value in record[name]
                ]
            children[IncidentFactor] += [
                IncidentFactor(incident=incident, factor=f) for f in record["contributing_factors"]
            ]
            for model, name, fields in (
                (TimelineEvent, "timeline", doc.EVENT_FIELDS),
                (ImpactFigure, "impact_figures", doc.FIGURE_FIELDS),
                (Claim, "claims", doc.CLAIM_FIELDS),
            ):
                children[model] += [codec.load(model, r, fields, self.resolve, incident=incident) for r in record[name]]
            ai_pairs += [
                (codec.load(AIInvolvement, r, doc.AI_FIELDS, self.resolve, incident=incident), r)
                for r in record["ai_involvements"]
            ]
            action_pairs += [
                (codec.load(ActionItem, r, doc.ACTION_FIELDS, self.resolve, incident=incident), r)
                for r in record["action_items"]
            ]
            if record["coe"] is not None:
                coe_pairs.append(
                    (
                        codec.load(CoeDocument, record["coe"], doc.COE_FIELDS, self.resolve, incident=incident),
                        record["coe"],
                    )
                )

        for objs in children.values():
            for obj in objs:
                _check(obj, f"{obj.incident.key}: {obj._meta.verbose_name}")
        for name, rows in links.items():
            getattr(Incident, name).through.objects.bulk_create(rows)
        for model, objs in children.items():
            model.objects.bulk_create(objs)
        self.ai_involvements(ai_pairs)
        self.action_items(action_pairs)
        self.coes(coe_pairs)

    def ai_involvements(self, pairs: list) -> None:
        for ai, _ in pairs:
            _check(ai, f"{ai.incident.key}: AI involvement")
        AIInvolvement.objects.bulk_create([ai for ai, _ in pairs])
        evidence = AIInvolvement.evidence.through
        AIInvolvement.evidence.through.objects.bulk_create(
            [
                evidence(aiinvolvement_id=ai.pk, source_id=self.resolve(Source, url).pk)
                for ai, record in pairs
                for url in record["evidence"]
            ]
        )
        citations = [
            AIFieldCitation(involvement=ai, field=name, source=self.resolve(Source, url))
            for ai, record in pairs
            for name, url in record["field_citations"].items()
        ]
        for citation in citations:
            _check(citation, f"{citation.involvement.incident.key}: AI field citation")
        AIFieldCitation.objects.bulk_create(citations)

    def action_items(self, pairs: list) -> None:
        items = [item for item, _ in pairs]
        for item in items:
            _check(item, f"{item.incident.key}: action item {item.title!r}")
        ActionItem.objects.bulk_create(items)
        _restore(ActionItem, items, [r for _, r in pairs], "updated_at")

    def coes(self, pairs: list) -> None:
        coes = [coe for coe, _ in pairs]
        for coe in coes:
            _check(coe, f"{coe.incident.key}: COE")
        CoeDocument.objects.bulk_create(coes)
        _restore(CoeDocument, coes, [r for _, r in pairs], "updated_at")
        authors = CoeDocument.authors.through
        authors.objects.bulk_create(
            [
                authors(coedocument_id=coe.pk, user_id=self.resolve(User, name).pk)
                for coe, record in pairs
                for name in record["authors"]
            ]
        )
        revisions = [
            codec.load(CoeRevision, r, doc.REVISION_FIELDS, self.resolve, coe=coe)
            for coe, record in pairs
            for r in record["revisions"]
        ]
        for revision in revisions:
            _check(revision, f"{revision.coe.incident.key}: COE revision {revision.number}")
        CoeRevision.objects.bulk_create(revisions)
        comments, comment_records = [], []
        for coe, record in pairs:
            placed = [
                codec.load(ReviewComment, r, doc.COMMENT_FIELDS, self.resolve, coe=coe)
                for r in record["review_comments"]
            ]
            for comment, r in zip(placed, record["review_comments"], strict=True):
                _check(comment, f"{coe.incident.key}: review comment")
                comment._answers = placed[r["reply_to"]] if r["reply_to"] is not None else None
            comments += placed
            comment_records += record["review_comments"]
        ReviewComment.objects.bulk_create(comments)
        # A reply points at a comment written before it (now saved), and created_at is stamped on insert.
        for comment, record in zip(comments, comment_records, strict=True):
            comment.reply_to = comment._answers
            comment.created_at = codec.load_value(
                ReviewComment._meta.get_field("created_at"), record["created_at"], None
            )
        ReviewComment.objects.bulk_update(comments, ["reply_to", "created_at"])

    def advance_key_counters(self, keys: list[str]) -> None:
        """Move each year's counter past the public keys restored, so the next incident created here
        takes the number after them, never one of theirs."""
        last: dict[int, int] = {}
        for key in keys:
            prefix, year, number = key.split("-", 2)
            if prefix == PUBLIC_PREFIX and number.isdigit():
                last[int(year)] = max(last.get(int(year), 0), int(number))
        table = connection.ops.quote_name(IncidentKeyCounter._meta.db_table)
        with connection.cursor() as cursor:
            for year, number in last.items():
                cursor.execute(
                    f"INSERT INTO {table} (year, last) VALUES (%s, %s) "
                    f"ON CONFLICT (year) DO UPDATE SET last = GREATEST({table}.last, EXCLUDED.last)",
                    [year, number],
                )

    def controls(self) -> None:
        records = self.document["controls"]
        self.lookup(Control, codec.natural_key_of(Control), records, doc.CONTROL_FIELDS)
        created = set(self.result.created)
        sources, incidents = Control.sources.through, Control.incidents.through
        have_sources = set(
            sources.objects.filter(control__name__in=[r["name"] for r in records]).values_list(
                "control_id", "source_id"
            )
        )
        have_incidents = set(
            incidents.objects.filter(control__name__in=[r["name"] for r in records]).values_list(
                "control_id", "incident_id"
            )
        )
        new_sources, new_incidents = [], []
        for record in records:
            control = self.resolve(Control, record["name"])
            for url in record["sources"]:
                pair = (control.pk, self.resolve(Source, url).pk)
                if pair not in have_sources:
                    new_sources.append(sources(control_id=pair[0], source_id=pair[1]))
            # An existing control gains the incidents this file brought; it keeps the ones it had.
            for key in record["incidents"]:
                if key not in created:
                    continue
                pair = (control.pk, self.resolve(Incident, key).pk)
                if pair not in have_incidents:
                    new_incidents.append(incidents(control_id=pair[0], incident_id=pair[1]))
        sources.objects.bulk_create(new_sources)
        incidents.objects.bulk_create(new_incidents)


def _restore(model: type[models.Model], objs: list, records: list[dict], name: str) -> None:
    """Put the export's value of an automatic timestamp back (bulk_create stamped it with now)."""
    field = model._meta.get_field(name)
    for obj, record in zip(objs, records, strict=True):
        setattr(obj, name, codec.load_value(field, record[name], None))
    model.objects.bulk_update(objs, [name], batch_size=1000)
