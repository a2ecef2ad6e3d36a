"""Synthetic data at scale: `manage.py generate_data --incidents 100000 --seed 1`.

Every incident gets its own random.Random seeded from (seed, its number), so
the rows depend only on the seed and the count, never on the batch size. The
"today" the data is built around is a fixed date (END, or --end), not the
clock: the same seed gives the same open, overdue and done items any day.

Rows are built as plain tuples and written in bulk with COPY (100,000
incidents, about three million rows, in a few minutes; two connections
write while the next batch is built). Tables that other rows point at get
ids assigned here, continuing after the largest id already present; their
sequences are moved past them after every batch, so the app can keep
inserting while (or after) the generator runs.

This is a bulk loader for the benchmark and bypasses the services
(incidents.services) on purpose: writing millions of historical rows one
object at a time, each validated and stamped "now", would be far slower and
could not set the past dates the rows carry. It tells the dashboard once,
when it is done (figures.data_changed).
"""

from __future__ import annotations

import bisect
import hashlib
import json
import random
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import IntegrityError, connection, models, transaction
from psycopg.types.json import Jsonb

from . import figures, repeats
from .metrics import REPEAT_WINDOW
from .models import (
    ActionItem,
    AIInvolvement,
    Claim,
    CoeDocument,
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
    keys,
)
from .models import vocab as v
from .models.coe import SECTION_KEYS
from .roles import APPROVERS, LEADERSHIP, REVIEWERS

# The last day of the generated history; items are open, overdue or done relative to it.
END = date(2026, 11, 1)
YEARS = 5

# The fixed pools. Names do not depend on the seed, so a second run reuses them.
USERS = 200
APPROVER_USERS = 20  # the first 20 users approve COEs; they are reviewers too
LEADERS = 5
TEAMS = 20
WEBHOOK_TEAMS = 4
SERVICES = 60
REGIONS = 10
TAGS = 40
ACCESS_GROUPS = 8
CONTROLS = 25
USER_PREFIX = "gen-"

# Shares, per incident.
SHARE_RESTRICTED = 0.03
SHARE_AI = 0.15
SHARE_COE = 0.80
SHARE_CLAIMS = 0.45
SHARE_CONTROL = 0.05


@dataclass
class Result:
    incidents: int
    seed: int
    end: date
    seconds: float = 0.0
    rows: dict[str, int] = field(default_factory=dict)

    @property
    def total_rows(self) -> int:
        return sum(self.rows.values())

    @property
    def rows_per_second(self) -> float:
        return self.total_rows / self.seconds if self.seconds else 0.0


# Words ---------------------------------------------------------------------

_SERVICE_WORDS = (  # noqa: SIM905 (a word list reads better as words)
    "checkout auth billing search catalog inventory payments ledger identity gateway dns storage queue "
    "scheduler notifications orders pricing shipping recommendations reviews media upload export "
    "reporting metrics logging config feature-flags session cart profile messaging"
).split()
_SERVICE_KINDS = ["api", "worker", "db", "cache", "frontend"]
_REGION_CODES = [
    "us-east-1",
    "us-east-2",
    "us-west-2",
    "eu-west-1",
    "eu-central-1",
    "ap-southeast-1",
    "ap-northeast-1",
    "sa-east-1",
    "ca-central-1",
    "ap-south-1",
]
_TAG_WORDS = (  # noqa: SIM905 (a word list reads better as words)
    "latency errors outage degradation rollback failover certificate dns-resolution memory-leak "
    "disk-full thundering-herd cold-start deadlock cache-stampede quota throttling replication "
    "split-brain clock-skew retry-storm misconfiguration expired-token permissions data-loss corruption "
    "partial-outage timeout connection-pool load-balancer autoscaling kubernetes terraform migration "
    "schema deploy canary feature-flag agent llm on-call paging"
).split()
_TIMEZONES = ["UTC", "America/Los_Angeles", "America/New_York", "Europe/London", "Europe/Berlin", "Asia/Tokyo"]
_SYMPTOMS = [
    "Elevated error rates",
    "Increased latency",
    "Partial outage",
    "Full outage",
    "Failed deployments",
    "Stale data",
    "Login failures",
    "Dropped messages",
    "Timeouts",
    "Duplicate charges",
    "Missing records",
    "Degraded throughput",
]
_SUBJECTS = [
    "the {s} fleet",
    "a config push to {s}",
    "the deploy pipeline",
    "the on-call engineer",
    "an automated remediation job",
    "the coding agent",
    "the load balancer in {r}",
    "the primary database",
    "a retry loop in the client library",
    "the health checker",
    "the canary stage",
    "the DNS resolver",
    "the incident commander",
    "the rollback tooling",
    "the alerting rule",
    "the cache tier in {r}",
]
_VERBS = [
    "rejected",
    "retried",
    "overloaded",
    "deleted",
    "rolled back",
    "misreported",
    "throttled",
    "replicated",
    "paged on",
    "stopped serving",
    "recreated",
    "exhausted",
    "masked",
    "delayed",
    "amplified",
    "validated",
]
_OBJECTS = [
    "requests from {s}",
    "the connection pool",
    "the production environment",
    "stale routing entries",
    "the feature flag",
    "queued messages in {r}",
    "customer sessions",
    "the schema migration",
    "the certificate chain",
    "about {n} percent of traffic",
    "every write for {n} minutes",
    "the runbook step",
    "the permission boundary",
    "the approval gate",
    "the replica set",
    "the quota limits",
]
_TAILS = [
    "before anyone noticed",
    "within minutes",
    "during the peak hour",
    "because no guard was in place",
    "while the alarm stayed silent",
    "after the previous change",
    "for customers in {r}",
    "until the rollback finished",
    "as the runbook described",
    "without a second reviewer",
    "and the dashboards showed it",
    "which nobody had tested",
]
_AGENTS = [
    ("Kiro", "Amazon"),
    ("Copilot Agent", "GitHub"),
    ("Replit Agent", "Replit"),
    ("SRE Agent", "Microsoft"),
    ("Claude Code", "Anthropic"),
    ("Cursor Agent", "Anysphere"),
    ("in-house remediation bot", ""),
]
_PUBLISHERS = [
    ("Example Times", v.SourceKind.PRESS),
    ("Ops Weekly", v.SourceKind.PRESS),
    ("The Status Page", v.SourceKind.VENDOR_PRIMARY),
    ("Vendor Engineering Blog", v.SourceKind.VENDOR_PRIMARY),
    ("Customer Forum", v.SourceKind.AFFECTED_PARTY),
    ("Reliability Analysts", v.SourceKind.ANALYST),
]
_FIGURES = [
    ("Failed requests", "requests"),
    ("Lost orders", "orders"),
    ("Affected users", "users"),
    ("Error rate", "%"),
    ("Support tickets", "tickets"),
    ("Downdetector reports", "reports"),
]


class _Rng(random.Random):
    """random.Random drawing the very same numbers, with randint and choice a third of the cost.

    An incident draws about a hundred of them; random.Random's go through randrange's argument
    checks. These draw as CPython's do (_randbelow_with_getrandbits: k bits, again while too
    large), which the same-seed tests hold them to.
    """

    def randint(self, a: int, b: int) -> int:
        return a + self._below(b - a + 1)

    def choice(self, seq):
        return seq[self._below(len(seq))]

    def _below(self, n: int) -> int:
        if n <= 0:  # randint's empty range, choice's empty sequence
            raise ValueError(f"nothing to draw from (n={n})")
        k = n.bit_length()
        r = self.getrandbits(k)
        while r >= n:
            r = self.getrandbits(k)
        return r


def _weighted(pairs: list[tuple[str, float]]) -> tuple[list[str], list[float]]:
    values = [p[0] for p in pairs]
    cumulative, total = [], 0.0
    for _, weight in pairs:
        total += weight
        cumulative.append(total)
    return values, cumulative


def _pick(rng: random.Random, table: tuple[list[str], list[float]]) -> str:
    values, cumulative = table
    return values[bisect.bisect_left(cumulative, rng.random() * cumulative[-1])]


_SEVERITY = _weighted([("SEV1", 5), ("SEV2", 20), ("SEV3", 45), ("SEV4", 30)])
_CAUSE = _weighted(
    [
        ("change_config", 20),
        ("change_code", 18),
        ("automation_defect", 8),
        ("capacity_overload", 12),
        ("dependency_failure", 12),
        ("access_control", 5),
        ("data_integrity", 4),
        ("hardware_power", 5),
        ("time_clock", 2),
        ("security_attack", 3),
        ("process_docs", 4),
        ("undetermined", 7),
    ]
)
_TRIGGER = _weighted(
    [
        ("deploy", 30),
        ("config_push", 25),
        ("traffic", 15),
        ("manual_op", 12),
        ("agent_action", 6),
        ("external", 12),
    ]
)
_ATTRIBUTION = _weighted([("undisputed", 90), ("disputed", 7), ("vendor_corrected", 3)])
_PRECISION = _weighted([("minute", 85), ("hour", 10), ("day", 5)])
_ACTOR = _weighted([("human", 60), ("automation", 20), ("ai_agent", 5), ("unknown", 15)])
_EXTRA_KINDS = ["communication", "decision", "context", "engagement", "mitigation", "communication"]
_FACTORS = list(v.ContributingFactor.values)
# The choices' values, read once: Django builds the list afresh at each `.values` (13 µs, eight times an incident).
_CLAIMED_AI_ROLES = v.ClaimedAIRole.values
_AI_ROLES = v.AIRole.values
_AUTONOMY_LEVELS = v.AutonomyLevel.values
_TRI_STATES = v.TriState.values
_GATE_TYPES = v.GateType.values
_PERMISSION_SCOPES = v.PermissionScope.values
_ACTION_CLASSES = v.ActionClass.values
_COE_STATUSES = v.CoeStatus.values
_ACTION_TYPES = v.ActionType.values
_PRIORITIES = v.Priority.values
_HARM_LEVELS = (v.HarmLevel.NEAR_MISS, v.HarmLevel.ISSUE, v.HarmLevel.EVENT, v.HarmLevel.UNCLEAR)
_STANCES = (v.Stance.ASSERTS, v.Stance.ASSERTS, v.Stance.DENIES, v.Stance.CORRECTS)


class _Text:
    """Prose from a pool of sentences built once per seed: fast, deterministic, searchable."""

    def __init__(self, seed: int, size: int = 3000):
        rng = random.Random(f"text:{seed}")
        self.sentences = [self._sentence(rng) for _ in range(size)]

    @staticmethod
    def _sentence(rng: random.Random) -> str:
        text = f"{rng.choice(_SUBJECTS)} {rng.choice(_VERBS)} {rng.choice(_OBJECTS)} {rng.choice(_TAILS)}"
        if rng.random() < 0.5:
            text += f", so {rng.choice(_SUBJECTS)} {rng.choice(_VERBS)} {rng.choice(_OBJECTS)}"
        return text[0].upper() + text[1:] + "."

    def sentence(self, rng: random.Random) -> str:
        return self.sentences[int(rng.random() * len(self.sentences))]

    def paragraph(self, rng: random.Random, low: int = 3, high: int = 6) -> str:
        pool, size = self.sentences, len(self.sentences)
        return " ".join([pool[int(rng.random() * size)] for _ in range(rng.randint(low, high))])

    def prose(self, rng: random.Random, paragraphs: tuple[int, int], sentences: tuple[int, int] = (3, 5)) -> str:
        return "\n\n".join([self.paragraph(rng, *sentences) for _ in range(rng.randint(*paragraphs))])


def _fill(text: str, service: str, region: str, rng: random.Random) -> str:
    if "{" not in text:
        return text
    return text.replace("{s}", service).replace("{r}", region).replace("{n}", str(2 + int(rng.random() * 94)))


# How long each COE section runs, in paragraphs.
# About a thousand words in all: a COE of three or four pages.
_SECTION_LENGTH: dict[str, tuple[int, int]] = {
    "summary": (1, 1),
    "impact": (1, 2),
    "background": (1, 1),
    "timeline_narrative": (2, 3),
    "metrics": (1, 1),
    "trigger": (1, 1),
    "root_cause": (1, 3),
    "resolution": (1, 2),
    "detection": (1, 1),
    "lessons_went_well": (1, 1),
    "lessons_went_wrong": (1, 2),
    "lessons_lucky": (1, 1),
}


# Writing -------------------------------------------------------------------


class _Table:
    """One table's columns in a fixed order, and how to write tuples of them in bulk."""

    def __init__(self, model: type[models.Model], attnames: list[str]):
        self.model = model
        self.name = model._meta.db_table
        # Generated columns (the search vectors) are the database's to fill.
        writable = [f for f in model._meta.concrete_fields if not f.generated]
        by_attname = {f.attname: f for f in writable}
        unknown = [name for name in attnames if name not in by_attname]
        if unknown:
            raise ValueError(f"{self.name} has no columns {unknown}")
        # Columns the generator does not set take their model default, so a
        # field added later does not break the generator.
        self.defaults = tuple(f.get_default() for f in writable if f.attname not in attnames and not f.primary_key)
        rest = [f for f in writable if f.attname not in attnames and not f.primary_key]
        self.fields = [by_attname[name] for name in attnames] + rest
        self.columns = [f.column for f in self.fields]
        self.json_positions = [i for i, f in enumerate(self.fields) if isinstance(f, models.JSONField)]
        self.types: list[int] | None = None  # the columns' type oids, read at the first write
        self.pending: list[tuple] = []
        self.written = 0

    def add(self, row: tuple) -> None:
        self.pending.append(row + self.defaults if self.defaults else row)

    def take(self) -> list[tuple]:
        """The rows added since the last take, for write() (counted as written from here)."""
        rows, self.pending = self.pending, []
        self.written += len(rows)
        return rows

    def write(self, rows: list[tuple]) -> None:
        if not rows:
            return
        if self.json_positions:
            rows = [self._json(row) for row in rows]
        quoted = ", ".join(connection.ops.quote_name(c) for c in self.columns)
        table = connection.ops.quote_name(self.name)
        with connection.cursor() as cursor:
            if self.types is None:
                self.types = self._types(cursor)
            # Binary: the server reads each value as it is stored instead of parsing its text
            # (timestamps above all), and psycopg sends most values as they are.
            with cursor.cursor.copy(f"COPY {table} ({quoted}) FROM STDIN (FORMAT BINARY)") as copy:
                copy.set_types(self.types)
                for row in rows:
                    copy.write_row(row)

    def _types(self, cursor) -> list[int]:
        cursor.execute(
            "SELECT attname, atttypid FROM pg_attribute WHERE attrelid = %s::regclass AND attnum > 0",
            [self.name],
        )
        oids = dict(cursor.fetchall())
        return [oids[column] for column in self.columns]

    def _json(self, row: tuple) -> tuple:
        values = list(row)
        for i in self.json_positions:
            if values[i] is not None:
                values[i] = Jsonb(values[i], dumps=json.dumps)
        return tuple(values)


def _next_id(model: type[models.Model]) -> int:
    return (model.objects.aggregate(m=models.Max("pk"))["m"] or 0) + 1


# Pools ---------------------------------------------------------------------


@dataclass
class _Pools:
    users: list[int]
    approvers: list[int]
    teams: list[int]
    team_of_user: dict[int, int]
    services: list[tuple[int, str]]
    regions: list[tuple[int, str]]
    tags: list[int]
    groups: list[int]
    controls: list[int]

    def referenced(self) -> list[tuple[type[models.Model], list[int]]]:
        """The rows outside a batch that its rows point at (every other reference is to a row of the batch)."""
        return [
            (get_user_model(), self.users),
            (Team, self.teams),
            (Group, self.groups),
            (Service, [pk for pk, _name in self.services]),
            (Region, [pk for pk, _code in self.regions]),
            (Tag, self.tags),
            (Control, self.controls),
        ]


def _pools() -> _Pools:
    """The people, teams and lookups every incident draws from; created once, reused after."""
    user_model = get_user_model()
    roles = {name: Group.objects.get_or_create(name=name)[0] for name in (REVIEWERS, APPROVERS, LEADERSHIP)}
    names = [f"{USER_PREFIX}user{n:03d}" for n in range(1, USERS + 1)]
    leader_names = [f"{USER_PREFIX}leader{n}" for n in range(1, LEADERS + 1)]
    existing = set(user_model.objects.filter(username__in=names + leader_names).values_list("username", flat=True))
    joined = datetime(END.year - YEARS, 1, 1, tzinfo=UTC)
    user_model.objects.bulk_create(
        [
            user_model(
                username=name,
                email=f"{name}@example.com",
                first_name=name.removeprefix(USER_PREFIX).capitalize(),
                # Generated people cannot log in: "!" marks an unusable password.
                password=f"!generated-{name}",
                date_joined=joined,
            )
            for name in names + leader_names
            if name not in existing
        ]
    )
    ids = dict(user_model.objects.filter(username__in=names + leader_names).values_list("username", "pk"))
    users = [ids[name] for name in names]
    approvers = users[:APPROVER_USERS]
    through = user_model.groups.through
    wanted = (
        [(uid, roles[REVIEWERS].pk) for uid in users]
        + [(uid, roles[APPROVERS].pk) for uid in approvers]
        + [(ids[name], roles[LEADERSHIP].pk) for name in leader_names]
    )

    groups = [
        Group.objects.get_or_create(name=f"{USER_PREFIX}restricted-{n}")[0].pk for n in range(1, ACCESS_GROUPS + 1)
    ]
    # Each access group holds 12 of the generated people.
    for g, group_id in enumerate(groups):
        wanted += [(users[(g * 25 + k) % USERS], group_id) for k in range(12)]
    have = set(through.objects.filter(user_id__in=ids.values()).values_list("user_id", "group_id"))
    through.objects.bulk_create([through(user_id=u, group_id=g) for u, g in wanted if (u, g) not in have])

    for n in range(1, TEAMS + 1):
        Team.objects.get_or_create(
            slug=f"{USER_PREFIX}team-{n:02d}",
            defaults={
                "name": f"Generated team {n:02d}",
                "webhook_url": f"https://chat.example.com/hooks/team-{n:02d}" if n <= WEBHOOK_TEAMS else "",
            },
        )
    teams = list(
        Team.objects.filter(slug__startswith=f"{USER_PREFIX}team-").order_by("slug").values_list("pk", flat=True)
    )
    team_of_user = {uid: teams[i % len(teams)] for i, uid in enumerate(users)}
    members = Team.members.through
    have_members = set(members.objects.filter(team_id__in=teams).values_list("team_id", "user_id"))
    members.objects.bulk_create(
        [members(team_id=t, user_id=u) for u, t in team_of_user.items() if (t, u) not in have_members]
    )

    service_names = [
        f"{_SERVICE_WORDS[n % len(_SERVICE_WORDS)]}-{_SERVICE_KINDS[n // len(_SERVICE_WORDS) % len(_SERVICE_KINDS)]}"
        for n in range(SERVICES)
    ]
    for n, name in enumerate(service_names):
        Service.objects.get_or_create(name=name, defaults={"team_id": teams[n % len(teams)]})
    services = list(Service.objects.filter(name__in=service_names).order_by("name").values_list("pk", "name"))
    for code in _REGION_CODES[:REGIONS]:
        Region.objects.get_or_create(code=code, defaults={"name": code})
    regions = list(Region.objects.filter(code__in=_REGION_CODES[:REGIONS]).order_by("code").values_list("pk", "code"))
    for name in _TAG_WORDS[:TAGS]:
        Tag.objects.get_or_create(name=name)
    tags = list(Tag.objects.filter(name__in=_TAG_WORDS[:TAGS]).order_by("name").values_list("pk", flat=True))
    for n in range(1, CONTROLS + 1):
        Control.objects.get_or_create(
            name=f"Generated control {n:02d}",
            defaults={
                "description": "A standing rule put in place after repeated incidents.",
                "scope": f"{n * 10} Tier-1 services",
                "status": v.ControlStatus.ACTIVE if n % 5 else v.ControlStatus.PROPOSED,
            },
        )
    controls = list(
        Control.objects.filter(name__startswith="Generated control ").order_by("name").values_list("pk", flat=True)
    )
    return _Pools(users, approvers, teams, team_of_user, services, regions, tags, groups, controls)


# Generation ----------------------------------------------------------------


def _tables() -> dict[str, _Table]:
    """Tables in the order they are written (rows point only at tables before them)."""
    return {
        "source": _Table(
            Source, ["id", "url", "title", "publisher", "kind", "published_on", "published_approx", "retrieved_on"]
        ),
        "incident": _Table(
            Incident,
            [
                "id",
                "key",
                "title",
                "summary",
                "severity",
                "status",
                "team_id",
                "owner_id",
                "started_at",
                "time_precision",
                "detected_at",
                "mitigated_at",
                "resolved_at",
                "customer_impact",
                "primary_cause",
                "trigger_kind",
                "trigger_text",
                "harm_level",
                "attribution_status",
                "adopted_cause",
                "adopted_cause_rationale",
                "restricted",
                "access_group_id",
                "created_at",
                "updated_at",
                "repeat_any",
                "repeat_public",
            ],
        ),
        "incident_services": _Table(Incident.services.through, ["incident_id", "service_id"]),
        "incident_regions": _Table(Incident.regions.through, ["incident_id", "region_id"]),
        "incident_tags": _Table(Incident.tags.through, ["incident_id", "tag_id"]),
        "incident_sources": _Table(Incident.sources.through, ["incident_id", "source_id"]),
        "factor": _Table(IncidentFactor, ["incident_id", "factor"]),
        "impact_figure": _Table(
            ImpactFigure, ["incident_id", "name", "value", "unit", "is_estimate", "as_of", "note", "source_id"]
        ),
        "timeline_event": _Table(
            TimelineEvent,
            ["incident_id", "occurred_at", "precision", "display_tz", "kind", "description", "actor_kind", "moment"],
        ),
        "claim": _Table(
            Claim,
            [
                "incident_id",
                "source_id",
                "claimant",
                "stance",
                "claimed_cause",
                "claimed_ai_role",
                "statement",
                "quote",
            ],
        ),
        "ai_involvement": _Table(
            AIInvolvement,
            [
                "id",
                "incident_id",
                "agent_name",
                "vendor",
                "role",
                "autonomy_level",
                "gate_present",
                "gate_type",
                "gate_bypassed",
                "permissions_held",
                "permissions_inherited",
                "action_taken",
                "action_class",
                "reversible",
                "excessive_functionality",
                "excessive_permissions",
                "excessive_autonomy",
            ],
        ),
        "ai_evidence": _Table(AIInvolvement.evidence.through, ["aiinvolvement_id", "source_id"]),
        "coe": _Table(
            CoeDocument,
            [
                "id",
                "incident_id",
                *SECTION_KEYS,
                "whys",
                "owner_id",
                "status",
                "approver_id",
                "reviewed_in_ops_meeting",
                "version",
                "created_at",
                "updated_at",
                "submitted_at",
                "approved_at",
                "published_at",
            ],
        ),
        "coe_authors": _Table(CoeDocument.authors.through, ["coedocument_id", "user_id"]),
        "action_item": _Table(
            ActionItem,
            [
                "incident_id",
                "title",
                "description",
                "action_type",
                "priority",
                "status",
                "owner_id",
                "team_id",
                "due_date",
                "ticket_url",
                "answers_why",
                "disputed",
                "completed_at",
                "created_at",
                "updated_at",
            ],
        ),
        "control_incidents": _Table(Control.incidents.through, ["control_id", "incident_id"]),
    }


# Tables whose ids the generator assigns (other generated rows point at them).
_ID_MODELS = {"source": Source, "incident": Incident, "ai_involvement": AIInvolvement, "coe": CoeDocument}


class _Repeats:
    """The repeat flags (incidents/repeats.py) of the incidents generated so far, worked out as they are made.

    Incidents are made oldest first, so each one's flags only need the earlier ones of the last 90
    days on its services with its cause. Storing them with the rows leaves rebuild() at the end
    nothing to change in a fresh database: it rewrote nearly every incident before (every index
    once more: 18 s of a 100,000-incident run, on one CPU). rebuild() still runs, for the
    incidents that were already there.
    """

    def __init__(self):
        # (service, cause) -> (started_at, restricted) of the incidents in the window, oldest first.
        self.recent: dict[tuple[int, str], deque[tuple[datetime, bool]]] = {}

    def flags(self, started_at: datetime, cause: str, services: list[int], restricted: bool) -> tuple[bool, bool]:
        """(repeat_any, repeat_public) of an incident no older than any given before."""
        if cause == v.PrimaryCause.UNDETERMINED:
            return False, False
        repeat_any = repeat_public = False
        oldest = started_at - REPEAT_WINDOW
        for service in services:
            recent = self.recent.setdefault((service, cause), deque())
            while recent and recent[0][0] < oldest:
                recent.popleft()
            # Strictly earlier only: one that started at the same moment is no repeat of this one.
            earlier = [hidden for at, hidden in recent if at < started_at]
            repeat_any = repeat_any or bool(earlier)
            repeat_public = repeat_public or not all(earlier)
            recent.append((started_at, restricted))
        return repeat_any, repeat_public


class _Generator:
    def __init__(self, *, seed: int, end: date, pools: _Pools, tables: dict[str, _Table]):
        self.seed = seed
        self.end = end
        self.today = end
        self.end_at = datetime(end.year, end.month, end.day, tzinfo=UTC)
        self.pools = pools
        self.t = tables
        self.text = _Text(seed)
        self.ids = {name: _next_id(model) for name, model in _ID_MODELS.items()}
        self.repeats = _Repeats()

    def restricted(self, number: int) -> bool:
        """Whether incident `number` is restricted, drawn apart from its other values: its key (the
        next public number, or opaque) has to be known before they are made."""
        return random.Random(f"{self.seed}:{number}:restricted").random() < SHARE_RESTRICTED

    def restricted_key(self, year: int) -> str:
        """An opaque key for the next incident, the same for the same seed in a fresh database (drawn from
        the incident's id, so a second run with the same seed draws others)."""
        return keys.restricted_key(year, random.Random(f"{self.seed}:{self.ids['incident']}:key"))

    def incident(self, number: int, key: str, started_at: datetime, *, restricted: bool) -> None:
        rng = _Rng(self.seed * 1_000_003 + number)
        p, t, text = self.pools, self.t, self.text
        incident_id = self.ids["incident"]
        self.ids["incident"] += 1

        services = rng.sample(p.services, rng.choice((1, 1, 2, 2, 3)))
        regions = rng.sample(p.regions, rng.choice((1, 1, 1, 2)))
        service, region = services[0][1], regions[0][1]

        def fill(s: str) -> str:
            return _fill(s, service, region, rng)

        severity = _pick(rng, _SEVERITY)
        cause = _pick(rng, _CAUSE)
        age = self.end_at - started_at
        detected = started_at + timedelta(minutes=rng.randint(1, 180))
        mitigated = detected + timedelta(minutes=rng.randint(5, 600))
        resolved = mitigated + timedelta(minutes=rng.randint(10, 2880))
        if age < timedelta(days=2) and rng.random() < 0.6:
            status, resolved = v.IncidentStatus.INVESTIGATING, None
            mitigated = None if rng.random() < 0.5 else mitigated
        elif age < timedelta(days=14) and rng.random() < 0.3:
            status, resolved = v.IncidentStatus.MITIGATED, None
        else:
            status = v.IncidentStatus.CLOSED if age > timedelta(days=60) else v.IncidentStatus.RESOLVED
        # Nothing happens after the end of the history: what would have is still to come.
        if resolved is not None and resolved > self.end_at:
            status, resolved = v.IncidentStatus.MITIGATED, None
        if mitigated is not None and mitigated > self.end_at:
            status, mitigated = v.IncidentStatus.INVESTIGATING, None
        if detected > self.end_at:
            detected = None

        has_ai = rng.random() < SHARE_AI
        attribution = _pick(rng, _ATTRIBUTION)
        adopted = ""
        rationale = ""
        if attribution != v.AttributionStatus.UNDISPUTED and rng.random() < 0.7:
            adopted = _pick(rng, _CAUSE)
            rationale = fill(text.paragraph(rng, 2, 3))
        owner = rng.choice(p.users)
        team = p.team_of_user[owner]
        last_change = min(
            self.end_at, (resolved or mitigated or detected or started_at) + timedelta(days=rng.randint(0, 30))
        )
        t["incident"].add(
            (
                incident_id,
                key,
                f"{rng.choice(_SYMPTOMS)} in {service} ({region})",
                fill(text.paragraph(rng, 2, 4)),
                severity,
                status,
                team,
                owner,
                started_at,
                _pick(rng, _PRECISION),
                detected,
                mitigated,
                resolved,
                fill(text.sentence(rng)),
                cause,
                _pick(rng, _TRIGGER),
                fill(text.sentence(rng)),
                rng.choice(_HARM_LEVELS) if has_ai and rng.random() < 0.5 else v.HarmLevel.NONE,
                attribution,
                adopted,
                rationale,
                restricted,
                rng.choice(p.groups) if restricted else None,
                min(self.end_at, started_at + timedelta(minutes=rng.randint(5, 240))),
                last_change,
                *self.repeats.flags(started_at, cause, [sid for sid, _name in services], restricted),
            )
        )
        for sid, _name in services:
            t["incident_services"].add((incident_id, sid))
        for rid, _code in regions:
            t["incident_regions"].add((incident_id, rid))
        for tag in rng.sample(p.tags, rng.randint(0, 3)):
            t["incident_tags"].add((incident_id, tag))
        for factor in rng.sample(_FACTORS, rng.randint(1, 3)):
            t["factor"].add((incident_id, factor))
        if rng.random() < SHARE_CONTROL:
            t["control_incidents"].add((rng.choice(p.controls), incident_id))

        # Sources and what they claim.
        sources = []
        if rng.random() < SHARE_CLAIMS or has_ai:
            for n in range(rng.randint(1, 3)):
                publisher, kind = rng.choice(_PUBLISHERS)
                source_id = self.ids["source"]
                self.ids["source"] += 1
                published = (started_at + timedelta(days=rng.randint(0, 20))).date()
                t["source"].add(
                    (
                        source_id,
                        f"https://{publisher.lower().replace(' ', '-')}.example.com/{key.lower()}/{n + 1}",
                        f"{publisher} on the {service} incident",
                        publisher,
                        kind,
                        published,
                        rng.random() < 0.1,
                        published,
                    )
                )
                sources.append(source_id)
                t["incident_sources"].add((incident_id, source_id))
                t["claim"].add(
                    (
                        incident_id,
                        source_id,
                        publisher,
                        rng.choice(_STANCES),
                        _pick(rng, _CAUSE) if rng.random() < 0.8 else "",
                        rng.choice(_CLAIMED_AI_ROLES) if has_ai else "",
                        fill(text.sentence(rng)),
                        fill(text.sentence(rng)) if rng.random() < 0.5 else "",
                    )
                )

        for _ in range(rng.randint(0, 2)):
            name, unit = rng.choice(_FIGURES)
            t["impact_figure"].add(
                (
                    incident_id,
                    name,
                    Decimal(rng.randint(1, 500_000)) / (100 if unit == "%" else 1),
                    unit,
                    rng.random() < 0.4,
                    resolved or started_at,
                    "",
                    rng.choice(sources) if sources and rng.random() < 0.5 else None,
                )
            )

        self._timeline(rng, incident_id, started_at, detected, mitigated, resolved, fill)

        if has_ai:
            for _ in range(1 if rng.random() < 0.85 else 2):
                ai_id = self.ids["ai_involvement"]
                self.ids["ai_involvement"] += 1
                agent, vendor = rng.choice(_AGENTS)
                t["ai_involvement"].add(
                    (
                        ai_id,
                        incident_id,
                        agent,
                        vendor,
                        rng.choice(_AI_ROLES),
                        rng.choice(_AUTONOMY_LEVELS) if rng.random() < 0.85 else "",
                        rng.choice(_TRI_STATES),
                        rng.choice(_GATE_TYPES),
                        rng.choice(_TRI_STATES),
                        rng.choice(_PERMISSION_SCOPES),
                        rng.choice(_TRI_STATES),
                        fill(text.sentence(rng)),
                        rng.choice(_ACTION_CLASSES),
                        rng.choice(_TRI_STATES),
                        rng.random() < 0.3,
                        rng.random() < 0.4,
                        rng.random() < 0.3,
                    )
                )
                if sources:
                    t["ai_evidence"].add((ai_id, rng.choice(sources)))

        has_coe = rng.random() < SHARE_COE
        if has_coe:
            self._coe(rng, incident_id, owner, started_at, resolved, fill)
        self._action_items(rng, incident_id, key, started_at, fill)

    def _timeline(self, rng, incident_id, started_at, detected, mitigated, resolved, fill) -> None:
        text = self.text
        tz = rng.choice(_TIMEZONES)
        events = [(started_at, v.TimelineKind.START)]
        if detected:
            events.append((detected, v.TimelineKind.DETECTION))
            events.append((detected + timedelta(minutes=rng.randint(1, 30)), v.TimelineKind.ENGAGEMENT))
        if mitigated:
            events.append((mitigated, v.TimelineKind.MITIGATION))
            events.append((mitigated - timedelta(minutes=rng.randint(1, 20)), v.TimelineKind.CAUSE_IDENTIFIED))
        if resolved:
            events.append((resolved, v.TimelineKind.RESOLUTION))
        last = resolved or mitigated or detected or started_at + timedelta(hours=2)
        span = max((last - started_at).total_seconds(), 60)
        for _ in range(max(0, rng.randint(7, 13) - len(events))):
            events.append((started_at + timedelta(seconds=rng.random() * span), rng.choice(_EXTRA_KINDS)))
        for occurred, kind in events:
            t_occurred = min(occurred, self.end_at)
            t_occurred = t_occurred.replace(microsecond=0)
            self.t["timeline_event"].add(
                (
                    incident_id,
                    t_occurred,
                    v.TimePrecision.MINUTE,
                    tz,
                    kind,
                    fill(text.sentence(rng)),
                    _pick(rng, _ACTOR),
                    kind if kind in ("start", "detection", "resolution") and rng.random() < 0.2 else "",
                )
            )

    def _coe(self, rng, incident_id, owner, started_at, resolved, fill) -> None:
        text, p = self.text, self.pools
        coe_id = self.ids["coe"]
        self.ids["coe"] += 1
        base = resolved or started_at
        since = (self.end_at - base).days
        roll = rng.random()
        if resolved is None:
            status = v.CoeStatus.DRAFT
        elif since > 60:
            status = (
                v.CoeStatus.PUBLISHED
                if roll < 0.85
                else v.CoeStatus.APPROVED
                if roll < 0.93
                else v.CoeStatus.IN_REVIEW
                if roll < 0.97
                else v.CoeStatus.DRAFT
            )
        else:
            status = rng.choice(_COE_STATUSES)
        filled = len(SECTION_KEYS) if status != v.CoeStatus.DRAFT else rng.randint(2, len(SECTION_KEYS))
        sections = []
        for i, key in enumerate(SECTION_KEYS):
            if i >= filled:
                sections.append("")
            elif key in _SECTION_LENGTH:
                sections.append(fill(text.prose(rng, _SECTION_LENGTH[key])))
            elif key == "related_items":
                sections.append(f"https://tickets.example.com/browse/OPS-{rng.randint(1000, 99999)}")
            else:
                sections.append(fill(text.paragraph(rng, 2, 3)))
        whys = [
            {"cause": fill(text.sentence(rng)), "links": [fill(text.sentence(rng)) for _ in range(rng.randint(3, 5))]}
            for _ in range(rng.randint(1, 2))
        ]
        approver = None
        authors = [owner]
        if rng.random() < 0.4:
            second = rng.choice(p.users)
            if second != owner:
                authors.append(second)
        created = min(self.end_at, base + timedelta(hours=rng.randint(1, 72)))
        submitted = approved = published = None
        if status != v.CoeStatus.DRAFT:
            submitted = min(self.end_at, created + timedelta(days=rng.randint(1, 10)))
        if status in (v.CoeStatus.APPROVED, v.CoeStatus.PUBLISHED):
            approver = rng.choice([a for a in p.approvers if a not in authors])
            approved = min(self.end_at, submitted + timedelta(days=rng.randint(0, 20), hours=rng.randint(1, 23)))
        if status == v.CoeStatus.PUBLISHED:
            published = min(self.end_at, approved + timedelta(hours=rng.randint(1, 96)))
        updated = published or approved or submitted or created
        self.t["coe"].add(
            (
                coe_id,
                incident_id,
                *sections,
                whys,
                owner,
                status,
                approver,
                status == v.CoeStatus.PUBLISHED and rng.random() < 0.7,
                rng.randint(1, 12),
                created,
                updated,
                submitted,
                approved,
                published,
            )
        )
        for author in authors:
            self.t["coe_authors"].add((coe_id, author))

    def _action_items(self, rng, incident_id, key, started_at, fill) -> None:
        text, p = self.text, self.pools
        today = self.today
        for n in range(rng.choice((1, 2, 2, 3, 3, 3, 4, 4, 5))):
            created = min(self.end_at, started_at + timedelta(days=rng.randint(1, 10), minutes=rng.randint(0, 1440)))
            due = created.date() + timedelta(days=rng.randint(7, 120))
            if due < today - timedelta(days=180):
                closed = rng.random() < 0.93
            elif due < today:
                closed = rng.random() < 0.6
            else:
                closed = rng.random() < 0.15
            completed = None
            if closed:
                status = _pick(rng, _CLOSED)
                late = rng.random() < 0.3
                day = due + timedelta(days=rng.randint(1, 40)) if late else due - timedelta(days=rng.randint(0, 14))
                day = max(created.date(), min(day, today - timedelta(days=1)))
                completed = datetime(day.year, day.month, day.day, rng.randint(8, 19), rng.randint(0, 59), tzinfo=UTC)
            else:
                status = v.ActionStatus.OPEN if rng.random() < 0.6 else v.ActionStatus.IN_PROGRESS
            owner = rng.choice(p.users)
            self.t["action_item"].add(
                (
                    incident_id,
                    fill(text.sentence(rng))[:300],
                    fill(text.paragraph(rng, 1, 3)),
                    rng.choice(_ACTION_TYPES),
                    rng.choice(_PRIORITIES),
                    status,
                    owner,
                    p.team_of_user[owner] if rng.random() < 0.7 else None,
                    due if rng.random() < 0.97 else None,
                    f"https://tickets.example.com/browse/{key}-{n + 1}",
                    fill(text.sentence(rng)) if rng.random() < 0.5 else "",
                    rng.random() < 0.03,
                    completed,
                    created,
                    completed or created,
                )
            )


_CLOSED = _weighted([("done", 80), ("verified", 12), ("wont_do", 8)])


def _start_times(seed: int, count: int, end: date) -> list[datetime]:
    """Start times spread over YEARS years before `end`, oldest first (keys then follow time, as in the app)."""
    rng = random.Random(f"starts:{seed}")
    end_at = datetime(end.year, end.month, end.day, tzinfo=UTC)
    span = (end_at - end_at.replace(year=end.year - YEARS)).total_seconds()
    offsets = sorted(rng.random() * span for _ in range(count))
    start = end_at - timedelta(seconds=span)
    return [(start + timedelta(seconds=o)).replace(microsecond=0) for o in offsets]


WRITERS = 2  # connections writing batches at once (outside a transaction)


class _Writer:
    """Writes each batch of rows in a transaction of its own.

    Outside a transaction, threads write batches on connections of their own
    while the next one is built. Storing the rows (COPY, the indexes, the search vectors) is the
    server's work and takes about three quarters of the time, one server process a connection:
    two connections use both CPUs of a small machine. Batches are independent (their ids are
    assigned here), so they may commit in any order; at most WRITERS are in flight, so memory
    stays at a few batches. Inside a transaction (the tests) another connection would not see
    its rows: there each batch is written before the next is built.
    """

    def __init__(self, settings: list[str], tables: dict[str, _Table], pools: _Pools, *, parallel: bool):
        self.settings, self.tables, self.pools = settings, tables, pools
        # The foreign keys are checked once a batch instead of once a row (see _hold), on the
        # writers' connections only: inside the caller's transaction the setting would outlive the load.
        self.checks_once = parallel and _may_skip_row_checks(tables.values())
        self.pool = ThreadPoolExecutor(max_workers=WRITERS, thread_name_prefix="generate-writer") if parallel else None
        self.pending: deque[Future] = deque()
        self.sequences = threading.Lock()

    def write(self, ceiling: dict[type[models.Model], int], then: Callable[[int], None]) -> None:
        """Write the rows the tables hold now, then call `then` with their number (progress).
        `ceiling` is the largest id assigned here so far per model, which the sequences must pass."""
        batch = [(table, table.take()) for table in self.tables.values()]
        if self.pool is None:
            self._write(batch, ceiling, then)
            return
        while len(self.pending) >= WRITERS:
            self.pending.popleft().result()  # a failed batch stops the run here, with its error
        self.pending.append(self.pool.submit(self._closing, self._write, batch, ceiling, then))

    def _write(self, batch, ceiling, then) -> None:
        with transaction.atomic():
            with connection.cursor() as cursor:
                for statement in self.settings:
                    cursor.execute(statement)
                if self.checks_once:
                    self._hold(cursor)
            for table, rows in batch:
                table.write(rows)
            self._move_sequences(ceiling)
        then(sum(len(rows) for _, rows in batch))

    def _hold(self, cursor) -> None:
        """Check the batch's foreign keys in one statement a table instead of one a row.

        PostgreSQL checks each row's foreign keys at commit, one query a key (a ninth of the
        server's work here). The rows of a batch point at rows of the same batch, written in this
        transaction and in table order, and at the pools (people, teams, groups, services,
        regions, tags, controls). So the per-row checks are turned off for this transaction
        (session_replication_role, as pg_restore --disable-triggers does) and the pools' rows are
        locked here as those checks would lock them (FOR KEY SHARE): one deleted meanwhile fails
        the batch, one being deleted waits for it and then fails its own check, as before.
        """
        cursor.execute("SET LOCAL session_replication_role = replica")
        quote = connection.ops.quote_name
        for model, ids in self.pools.referenced():
            table, pk = quote(model._meta.db_table), quote(model._meta.pk.column)
            cursor.execute(
                f"SELECT count(*) FROM (SELECT 1 FROM {table} WHERE {pk} = ANY(%s) FOR KEY SHARE) locked", [ids]
            )
            if cursor.fetchone()[0] != len(set(ids)):
                raise IntegrityError(f"{model._meta.db_table}: rows the generator uses were deleted during the load")

    def _move_sequences(self, ceiling: dict[type[models.Model], int]) -> None:
        """Move the sequences of the models whose ids are assigned here past `ceiling`, never back
        (another writer may have moved them further), so the app can insert while this runs."""
        with self.sequences, connection.cursor() as cursor:
            for model, last in ceiling.items():
                if last < 1:
                    continue
                cursor.execute(
                    "SELECT setval(s, GREATEST(%s, COALESCE(pg_sequence_last_value(s), 0))) "
                    "FROM (SELECT pg_get_serial_sequence(%s, %s)::regclass AS s) q",
                    [last, model._meta.db_table, model._meta.pk.column],
                )

    def beside(self, work: Callable[..., None], *args) -> None:
        """Run `work(*args)` on a connection of its own while this thread goes on (close() waits for
        it); inside a transaction, here and now."""
        if self.pool is None:
            work(*args)
        else:
            self.pending.append(self.pool.submit(self._closing, work, *args))

    @staticmethod
    def _closing(work: Callable[..., None], *args) -> None:
        try:
            work(*args)
        finally:
            connection.close()  # this thread's own connection

    def wait(self) -> None:
        """Wait for the batches in flight; the first error among them is raised."""
        errors = []
        while self.pending:
            try:
                self.pending.popleft().result()
            except BaseException as error:
                errors.append(error)
        if errors:
            raise errors[0]

    def close(self) -> None:
        """Wait for the work in flight (the first error among it is raised) and stop the threads."""
        try:
            self.wait()
        finally:
            if self.pool is not None:
                self.pool.shutdown()


def _analyze(tables: Iterable[_Table]) -> None:
    quote = connection.ops.quote_name
    with connection.cursor() as cursor:
        for table in tables:
            # Naming the columns leaves out the stored search vectors (costly to sample, and
            # their GIN indexes need no statistics for these plans): autovacuum's next ANALYZE adds them.
            columns = ", ".join(quote(f.column) for f in table.model._meta.concrete_fields if not f.generated)
            cursor.execute(f"ANALYZE {quote(table.name)} ({columns})")


def _may_skip_row_checks(tables: Iterable[_Table]) -> bool:
    """Whether this connection may turn off the per-row foreign key checks (a superuser's right),
    and the tables have no trigger but those checks, which turning them off would skip too."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT current_setting('is_superuser') = 'on' AND NOT EXISTS ("
            "  SELECT 1 FROM pg_trigger t LEFT JOIN pg_constraint c ON c.oid = t.tgconstraint"
            "  WHERE t.tgrelid = ANY(%s::regclass[]) AND c.contype IS DISTINCT FROM 'f')",
            [[table.name for table in tables]],
        )
        return cursor.fetchone()[0]


def _bulk_settings() -> list[str]:
    """Per-transaction settings that make a bulk load cheaper."""
    # A load that fails is rerun, not recovered: no need to wait for the disk at each commit.
    statements = ["SET LOCAL synchronous_commit TO OFF"]
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_settings WHERE name = 'default_toast_compression' AND 'lz4' = ANY(enumvals)")
        if cursor.fetchone():
            # COE prose is compressed as it is stored; lz4 does that faster than the default pglz.
            statements.append("SET LOCAL default_toast_compression TO lz4")
    return statements


def generate(
    *,
    incidents: int,
    seed: int,
    batch: int = 2000,
    end: date = END,
    progress: Callable[[str], None] | None = None,
) -> Result:
    """Add `incidents` incidents with their timelines, COEs, claims and action items."""
    began = time.monotonic()
    say = progress or (lambda message: None)
    result = Result(incidents=incidents, seed=seed, end=end)
    with transaction.atomic():
        pools = _pools()
    tables = _tables()
    generator = _Generator(seed=seed, end=end, pools=pools, tables=tables)
    starts = _start_times(seed, incidents, end)
    say(f"Generating {incidents} incidents (seed {seed}, up to {end.isoformat()}) in batches of {batch}")
    writer = _Writer(_bulk_settings(), tables, pools, parallel=not connection.in_atomic_block)

    committed = {"incidents": 0, "rows": 0}
    counting = threading.Lock()  # batches may commit on two threads at once

    def progress(batch_incidents: int, rows: int) -> None:
        with counting:
            committed["incidents"] += batch_incidents
            committed["rows"] += rows
            done, rows, elapsed = committed["incidents"], committed["rows"], time.monotonic() - began
            say(f"  {done:>8}/{incidents} incidents  {rows:>10} rows  {elapsed:6.1f}s  {rows / elapsed:8.0f} rows/s")

    try:
        done = 0
        while done < incidents:
            upto = min(incidents, done + batch)
            # The batch's public keys are taken from the app's own counters (incidents/models/keys.py),
            # a block per year, so the app numbers on from them and never gives one twice.
            restricted = {number: generator.restricted(number) for number in range(done, upto)}
            wanted = Counter(starts[number].year for number in range(done, upto) if not restricted[number])
            numbers = {year: iter(keys.take_numbers(year, count)) for year, count in sorted(wanted.items())}
            for number in range(done, upto):
                started_at = starts[number]
                year = started_at.year
                if restricted[number]:
                    key = generator.restricted_key(year)
                else:
                    key = keys.public_key(year, next(numbers[year]))
                generator.incident(number, key, started_at, restricted=restricted[number])
            ceiling = {model: generator.ids[name] - 1 for name, model in _ID_MODELS.items()}
            writer.write(ceiling, lambda rows, n=upto - done: progress(n, rows))
            done = upto
        writer.wait()
        say("Checking the repeat flags and analyzing tables")
        # The COEs' prose make their ANALYZE half of the analyzing: a writer's connection runs it
        # while this one checks the flags and analyzes the rest.
        writer.beside(_analyze, [tables["coe"]])
        corrected = repeats.rebuild()
        say(f"  the rebuild corrected the repeat flags of {corrected} incidents (those already there)")
        _analyze([table for name, table in tables.items() if name != "coe"])
    finally:
        writer.close()
    result.rows = {name: t.written for name, t in tables.items()}
    figures.data_changed()  # the dashboard's kept figures predate these rows
    result.seconds = time.monotonic() - began
    return result


# Fingerprint -----------------------------------------------------------------


def _digest(rows: Iterable[tuple]) -> str:
    h = hashlib.sha256()
    for row in rows:
        h.update(repr(row).encode())
    return h.hexdigest()


def fingerprint() -> dict:
    """Counts and a hash of selected columns, ordered by natural keys: equal for equal data."""
    counts = {
        model._meta.db_table: model.objects.count()
        for model in (Incident, TimelineEvent, ActionItem, CoeDocument, Claim, Source, AIInvolvement)
    }
    incidents = Incident.objects.order_by("key").values_list(
        "key",
        "title",
        "severity",
        "status",
        "primary_cause",
        "started_at",
        "resolved_at",
        "restricted",
        "owner__username",
    )
    timeline = TimelineEvent.objects.order_by("incident__key", "occurred_at", "kind", "description").values_list(
        "incident__key", "occurred_at", "kind", "description"
    )
    actions = ActionItem.objects.order_by("incident__key", "ticket_url").values_list(
        "incident__key", "ticket_url", "status", "due_date", "completed_at", "owner__username"
    )
    coes = CoeDocument.objects.order_by("incident__key").values_list("incident__key", "status", "root_cause", "whys")
    return {
        "counts": counts,
        "incidents": _digest(incidents.iterator(chunk_size=2000)),
        "timeline": _digest(timeline.iterator(chunk_size=5000)),
        "action_items": _digest(actions.iterator(chunk_size=5000)),
        "coes": _digest((k, s, r, json.dumps(w, sort_keys=True)) for k, s, r, w in coes.iterator(chunk_size=500)),
    }
